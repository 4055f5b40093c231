"""Checkpoints that travel without archit: the model card, what ``config.json`` says to a loader without archit, and
``write_standalone``, which writes generated modeling code and an ``auto_map`` so that
``AutoModelFor<Task>.from_pretrained(path, trust_remote_code=True)`` loads the model where only transformers and torch
(and attrs, which head configs use) are installed.

The code is generated from the installed plugins: the head's own module class and every definition it uses from
archit_core or its plugin, copied as they are written (their source, in dependency order, with the imports they
need), plus a small model class that runs the backbone (the Hugging Face base model, built by ``AutoModel``) and the
head as ``ModelWithHead`` does. Nothing is pickled, nothing is imported from archit."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import textwrap
from pathlib import Path
from typing import Any

from ..errors import ArchitError

#: The file ``write_standalone`` writes beside the weights.
MODULE_FILE = "modeling_archit.py"
#: Packages generated code may import (everything else named by a definition is copied into the file).
_EXTERNAL = ("torch", "transformers", "attrs", "numpy", "__future__", "collections", "dataclasses", "typing", "math",
             "itertools", "functools", "warnings", "re", "enum", "abc", "contextlib", "numbers", "types", "copy")


def requirements(model: Any) -> list[str]:
    """``distribution==version`` of archit-core and every plugin distribution that built ``model`` (from its config)."""
    from importlib import metadata

    found = {"archit-core": metadata.version("archit-core")}
    plugins = model.config.plugins or {}
    records = [plugins.get("backbone"), plugins.get("head"), *((plugins.get("heads") or {}).values())]
    for record in records:
        if isinstance(record, dict) and record.get("distribution"):
            found[record["distribution"]] = record.get("version") or ""
    return [f"{dist}=={version}" if version else dist for dist, version in found.items()]


def loading_fields(model: Any) -> dict[str, Any]:
    """What ``config.json`` records for a loader without archit: the distributions to install and how to load."""
    needed = requirements(model)
    return {
        "archit_requirements": needed,
        "archit_how_to_load": f"pip install {' '.join(needed)}; then archit_core.load(path), or "
                              "transformers' Auto classes after `import archit_core`",
    }


def model_card(model: Any) -> str:
    """A README.md naming the backbone, the head(s), the plugins and how to load the model."""
    config = model.config
    heads = ", ".join(f"`{task}`: `{entry['head']}`" for task, entry in (config.heads or {}).items()) or f"`{config.head}`"
    auto = getattr(type(model), "auto_class", None)
    with_transformers = (f"from transformers import {auto}\nmodel = {auto}.from_pretrained(path)  # after `import archit_core`"
                         if auto else "# no transformers Auto class has this head: use archit_core.load")
    lines = [
        "---", "library_name: transformers", "tags: [archit]", "---", "",
        f"# {type(model).__name__}", "",
        f"An [archit](https://pypi.org/project/archit-core/) model: backbone `{config.backbone}` "
        f"({type(model.backbone).__name__}), head {heads}.", "",
        "Plugins: " + ", ".join(f"`{r}`" for r in requirements(model)) + ".", "",
        "```bash", f"pip install {' '.join(requirements(model))}", "```", "",
        "```python", "import archit_core", "model = archit_core.load(path)", with_transformers, "```", "",
        "`transformers.AutoModel.from_pretrained(path)` gives the backbone alone. A folder written with "
        "`save_pretrained(path, standalone=True)` also loads without archit, with `trust_remote_code=True`.", "",
    ]
    return "\n".join(lines)


def write_card(model: Any, folder: str | Path, *, previous: str | Path | None = None) -> None:
    """Write ``README.md`` (unless ``folder``, or ``previous``, the folder a save replaces, has one archit did not
    write: a user's own card is kept) and add :func:`loading_fields` to ``config.json``: what ``save_pretrained``
    does after saving."""
    folder = Path(folder)
    readmes = [folder / "README.md", *([Path(previous) / "README.md"] if previous is not None else [])]
    if all(not r.is_file() or "tags: [archit]" in r.read_text(errors="replace") for r in readmes):
        (folder / "README.md").write_text(model_card(model))
    _update_config(folder, loading_fields(model))


def write_standalone(model: Any, folder: str | Path) -> Path:
    """Write ``modeling_archit.py`` (generated code) into ``folder`` (holding ``model``'s ``save_pretrained`` output)
    and an ``auto_map`` in its ``config.json``: ``AutoModel`` and the head's ``AutoModelFor<Task>`` then load the whole
    model with ``trust_remote_code=True`` and no archit. Returns the file written. Raises :class:`ArchitError` for a
    model generated code cannot rebuild (a backbone that is not a transformers base model, a multi-task model)."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ArchitError(f"{folder}: save the model there first (model.save_pretrained(folder)); write_standalone "
                          "adds the code beside its weights")
    code = standalone_code(model)
    path = folder / MODULE_FILE
    path.write_text(code)
    auto = {"AutoConfig": "modeling_archit.ArchitStandaloneConfig", "AutoModel": "modeling_archit.ArchitStandaloneModel"}
    if getattr(type(model), "auto_class", None):
        auto[type(model).auto_class] = "modeling_archit.ArchitStandaloneModel"
    _update_config(folder, {"auto_map": auto, "archit_standalone": {"backbone_kwargs": _backbone_kwargs(model)}})
    return path


def standalone_code(model: Any) -> str:
    """The source of ``modeling_archit.py`` for ``model`` (see :func:`write_standalone`)."""
    from ..parts.backbone import BackboneFacts, BackboneOutput, TransformersBackbone

    if getattr(model.config, "heads", None):
        raise ArchitError("write_standalone: a multi-task model has no standalone code yet; save it with "
                          "save_pretrained and load it with archit_core.load")
    if not isinstance(model.backbone_spec, TransformersBackbone):
        raise ArchitError(f"write_standalone: backbone {model.config.backbone!r} is not a transformers base model "
                          "(TransformersBackbone), so generated code cannot rebuild it; load it with archit_core.load")
    head_class = type(model.head)
    bundle = _Bundle()
    for obj in (BackboneFacts, BackboneOutput, head_class):
        bundle.add(obj)
    output = getattr(head_class, "output_class", None)
    if output is not None:
        bundle.add(output)
    facts = model.head.backbone_facts
    fields = {f: getattr(facts, f) for f in attrs_fields(facts)}
    header = (f'"""Generated by archit-core ({", ".join(requirements(model))}): {type(model).__name__}, backbone '
              f'{model.config.backbone!r} ({type(model.backbone).__name__}), head {model.config.head!r} '
              f'({head_class.__name__}).\n\nLoad with transformers.AutoModel.from_pretrained(folder, '
              f'trust_remote_code=True); archit itself is not needed."""\n')
    return header + "\n" + bundle.source() + "\n\n" + _MODEL_CODE.format(
        head=head_class.__name__, facts=repr(fields), output=output.__name__ if output is not None else "None",
        tied=repr(dict(getattr(model, "_tied_weights_keys", None) or {})))


def attrs_fields(instance: Any) -> list[str]:
    import attrs

    return [f.name for f in attrs.fields(type(instance))]


def _backbone_kwargs(model: Any) -> dict[str, Any]:
    """The keyword arguments archit built the base model with (``add_pooling_layer`` where it takes one)."""
    model_kwargs = getattr(model.backbone_spec, "model_kwargs", None)  # TransformersBackbone's; other backbones: none
    needs = frozenset({"pooler"}) if getattr(model.backbone, "pooler", None) is not None else frozenset()
    return model_kwargs(needs) if model_kwargs is not None else {}


def _update_config(folder: Path, fields: dict[str, Any]) -> None:
    file = folder / "config.json"
    config = json.loads(file.read_text())
    file.write_text(json.dumps({**config, **fields}, indent=2, sort_keys=True) + "\n")


class _Bundle:
    """Top-level definitions copied from archit's modules with everything they use, dependencies first."""

    def __init__(self) -> None:
        self.done: dict[tuple[str, str], str] = {}  # (module, name) -> source, in dependency order
        self.imports: set[str] = set()
        self.names: dict[str, str] = {}  # name -> module, to refuse two definitions of one name

    def add(self, obj: Any) -> None:
        module = importlib.import_module(obj.__module__)
        self._add(module, obj.__name__)

    def _add(self, module: Any, name: str) -> None:
        key = (module.__name__, name)
        if key in self.done:
            return
        if self.names.get(name, module.__name__) != module.__name__:
            raise ArchitError(f"write_standalone: {name!r} is defined in both {self.names[name]} and {module.__name__}")
        self.names[name] = module.__name__
        self.done[key] = ""  # in progress: a cycle stops here
        tree = ast.parse(inspect.getsource(module))
        node = next((n for n in tree.body if name in _defines(n)), None)
        if node is None:
            raise ArchitError(f"write_standalone: no top-level definition of {name!r} in {module.__name__}")
        for used in sorted(_used_names(node) - {name}):
            self._use(module, tree, used)
        source = ast.get_source_segment(inspect.getsource(module), node)
        decorators = "".join(f"@{ast.get_source_segment(inspect.getsource(module), d)}\n" for d in getattr(node, "decorator_list", ()))
        self.done.pop(key)
        self.done[key] = decorators + textwrap.dedent(source)

    def _use(self, module: Any, tree: ast.Module, name: str) -> None:
        """Resolve a global ``name`` of ``module``: an import kept, or a definition copied."""
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if (alias.asname or alias.name).split(".")[0] != name:
                        continue
                    target = node.module if isinstance(node, ast.ImportFrom) else alias.name
                    if isinstance(node, ast.ImportFrom) and node.level:
                        target = importlib.util.resolve_name("." * node.level + (node.module or ""), module.__package__)
                    if target.split(".")[0] in _EXTERNAL:
                        self.imports.add(ast.unparse(ast.ImportFrom(module=target, names=[alias], level=0))
                                         if isinstance(node, ast.ImportFrom) else ast.unparse(ast.Import(names=[alias])))
                        return
                    value = getattr(module, alias.asname or alias.name)
                    home = getattr(value, "__module__", None) if inspect.isclass(value) or inspect.isfunction(value) else None
                    self._add(_defining_module(home or target, alias.name), getattr(value, "__name__", alias.name))
                    return
            elif name in _defines(node):
                self._add(module, name)
                return
        # a builtin, or a name bound inside the definition (arguments, locals): nothing to bring

    def source(self) -> str:
        imports = sorted(self.imports - {"from __future__ import annotations"} | {"import transformers"})
        definitions = [s for s in self.done.values() if s]
        return "from __future__ import annotations\n\n" + "\n".join(imports) + "\n\n\n" + "\n\n\n".join(definitions) + "\n"


def _defining_module(module_name: str, name: str) -> Any:
    """The module whose source defines ``name``, following packages' lazy export tables (``_EXPORTS``)."""
    module = importlib.import_module(module_name)
    exports = getattr(module, "_EXPORTS", None) or {}
    if name in exports:
        return _defining_module(importlib.util.resolve_name(exports[name], module.__name__), name)
    return module


def _defines(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def _used_names(node: ast.AST) -> set[str]:
    """Names a definition reads (its decorators, bases, annotations in strings excepted: ``from __future__``)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


_MODEL_CODE = '''
class ArchitStandaloneConfig(transformers.PreTrainedConfig):
    """The saved archit config: the backbone's transformers config (``backbone_config``) and the head config."""

    model_type = "archit"

    def __init__(self, backbone_config=None, head_config=None, archit_standalone=None, **kwargs):
        if isinstance(backbone_config, dict):
            backbone_config = transformers.AutoConfig.for_model(**backbone_config)
        self.backbone_config = backbone_config
        self.head_config = head_config or {{}}
        self.archit_standalone = archit_standalone or {{}}
        super().__init__(**kwargs)

    @property
    def sub_configs(self):
        return {{"backbone_config": transformers.PreTrainedConfig}} if hasattr(self.backbone_config, "to_dict") else {{}}

    @property
    def tie_word_embeddings(self):
        return True  # the ties are the model's own (_tied_weights_keys): none unless its head ties

    def get_text_config(self, decoder=None, encoder=None):
        return self.backbone_config if hasattr(self.backbone_config, "to_dict") else self

    def to_dict(self):
        out = super().to_dict()
        if hasattr(self.backbone_config, "to_dict"):
            out["backbone_config"] = self.backbone_config.to_dict()
        return out


class _HeadConfig:
    """The head config's values as attributes (what the head reads)."""

    def __init__(self, values):
        self.__dict__.update(values)


class ArchitStandaloneModel(transformers.PreTrainedModel):
    """The backbone (a transformers base model) and the head, as archit's ModelWithHead runs them."""

    config_class = ArchitStandaloneConfig
    base_model_prefix = "backbone"

    def __init__(self, config):
        super().__init__(config)
        kwargs = config.archit_standalone.get("backbone_kwargs", {{}})
        self.backbone = transformers.AutoModel.from_config(config.backbone_config, **kwargs)
        self.head = {head}(_HeadConfig(config.head_config), BackboneFacts(**{facts}))
        self._tied_weights_keys = {tied}  # head parameters that are the input embedding weight
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                labels=None, output_hidden_states=None, return_dict=None, **head_inputs):
        inputs = {{"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
                  "position_ids": position_ids, "inputs_embeds": inputs_embeds}}
        inputs, prepared = self.head.prepare_inputs({{k: v for k, v in inputs.items() if v is not None}})
        out = self.backbone(**inputs, output_hidden_states=bool(output_hidden_states), return_dict=True)
        features = BackboneOutput(token_states=out.last_hidden_state, attention_mask=inputs.get("attention_mask"),
                                  hidden_states=getattr(out, "hidden_states", None),
                                  pooled=getattr(out, "pooler_output", None))
        result = self.head(features, labels=labels, **head_inputs, **prepared)
        output_class = {output} or transformers.modeling_outputs.TokenClassifierOutput
        named = dict(result.outputs or {{}})
        values = {{"loss": result.loss, "logits": result.logits, "hidden_states": out.hidden_states if output_hidden_states else None}}
        fields = output_class.__dataclass_fields__
        output = output_class(**{{k: v for k, v in values.items() if k in fields}}, **named)
        return output if return_dict is not False else output.to_tuple()
'''
