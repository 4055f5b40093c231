"""Declaration of archit models (the reference is a fresh build from the model's own config) and of a plugin's own
module classes through its ``declare_module`` hook."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

import archit_core
from archit_core import DeclarationContext, DeclarationError, ModuleCode, declare, hookimpl


class Bottleneck(nn.Module):
    """A plugin's own module: its ``__init__`` takes a config and a ratio it does not keep, so only the plugin can say
    how to build it."""

    def __init__(self, config, ratio: int) -> None:
        super().__init__()
        width = config.hidden_size // ratio
        self.down = nn.Linear(config.hidden_size, width)
        self.up = nn.Linear(width, config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(torch.relu(self.down(x)))


class BottleneckPlugin:
    """Declares :class:`Bottleneck` modules: ``Bottleneck(config, ratio)`` with ratio read from the weights."""

    def __init__(self) -> None:
        self.contexts: list[DeclarationContext] = []

    @hookimpl
    def declare_module(self, module, context):
        if not isinstance(module, Bottleneck):
            return None
        self.contexts.append(context)
        ratio = module.down.in_features // module.down.out_features
        return ModuleCode(f"Bottleneck({context.expression(context.config)}, {context.expression(ratio)})",
                          (f"from {Bottleneck.__module__} import Bottleneck",))


@pytest.fixture
def token_model(real_host):
    torch.manual_seed(0)
    return archit_core.build("roberta", "token-classification", tiny=True, head_config={"num_labels": 3}).eval()


def test_archit_model_with_a_modified_backbone_declares_and_loads(token_model, batch, tmp_path, real_host):
    token_model.backbone.encoder.layer[0].attention.self.key = nn.Linear(token_model.config.backbone_config.hidden_size,
                                                                         token_model.config.backbone_config.hidden_size, bias=False)
    declaration = declare(token_model)
    report = declaration.verify()
    assert report.ok
    assert declaration.classes[-2:] == ["RobertaModelModified", f"{type(token_model).__name__}Modified"]
    top = declaration.top_class()
    source = inspect.getsource(top)
    # the backbone plugin builds the backbone through a factory: the new class is called with the recorded arguments
    assert "self.backbone = RobertaModelModified(config=config.backbone_config, add_pooling_layer=False)" in source
    assert top.forward is type(token_model).forward and issubclass(top, archit_core.ModelWithHead)
    # a checkpoint of the modified model loads into the generated class strictly, with the same outputs
    token_model.save_pretrained(tmp_path)
    loaded, info = top.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(**batch).logits, token_model(**batch).logits)


def test_archit_model_with_a_replaced_head_layer(token_model):
    token_model.head.classifier = nn.Sequential(nn.Linear(token_model.head.classifier.in_features, 8), nn.Tanh(), nn.Linear(8, 3))
    declaration = declare(token_model)
    declaration.verify()
    head_class = declaration.classes[0]
    assert inspect.getsource(getattr(declaration.load(), head_class)).count("nn.Sequential(nn.Linear(") == 1


def test_plugin_module_declares_itself(archit_host, token_model):
    token_model.backbone.encoder.layer[1].attention.output.dense = Bottleneck(token_model.config.backbone_config, 4)
    with pytest.raises(DeclarationError, match=r"attention\.output\.dense .*Bottleneck.*needs 'config'.*declare_module"):
        declare(token_model)

    plugin = BottleneckPlugin()
    archit_host.add(plugin, name="bottleneck", distribution="archit-bottleneck", version="1.0")
    declaration = declare(token_model)
    declaration.verify()
    assert "Bottleneck(config, 4)" in declaration.code
    context = plugin.contexts[0]
    assert context.path == "backbone.encoder.layer.1.attention.output.dense"
    assert context.config is token_model.config.backbone_config
    assert type(context.reference).__name__ == "Linear"


class _Broken:
    @hookimpl
    def declare_module(self, module, context):
        raise RuntimeError("boom")


class _Garbage:
    @hookimpl
    def declare_module(self, module, context):
        return "Linear(2, 2)" if isinstance(module, Bottleneck) else None


def test_failing_plugin_is_named(archit_host, token_model):
    token_model.backbone.encoder.layer[1].attention.output.dense = Bottleneck(token_model.config.backbone_config, 4)
    archit_host.add(_Broken(), name="broken")
    with pytest.raises(DeclarationError, match=r"declare_module of plugin 'broken' raised RuntimeError: boom"):
        declare(token_model)


def test_plugin_returning_the_wrong_type_is_named(archit_host, token_model):
    token_model.backbone.encoder.layer[1].attention.output.dense = Bottleneck(token_model.config.backbone_config, 4)
    archit_host.add(_Garbage(), name="garbage")
    with pytest.raises(DeclarationError, match=r"plugin 'garbage' returned a str .*return archit_core.ModuleCode"):
        declare(token_model)


def test_context_refuses_values_it_cannot_write():
    context = DeclarationContext("x", None, {"config": object()})
    assert context.expression((1, 2.5, "a", None, True)) == "(1, 2.5, 'a', None, True)"
    with pytest.raises(DeclarationError, match="cannot be written as code"):
        context.expression(object())
