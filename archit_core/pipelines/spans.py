"""``SpanPipeline``: the transformers pipeline of heads that point at a span of their input (extractive question
answering): a question and a context in, the best answer spans out, decoded by ``archit_core.parts.best_spans``
(transformers 5 removed its own ``question-answering`` pipeline)."""

from __future__ import annotations

from typing import Any

import torch
from transformers.pipelines.base import Pipeline  # not `transformers`: usable while transformers.pipelines loads

from ..errors import ArchitError
from ..parts.spans import best_spans


class SpanPipeline(Pipeline):
    """``pipeline(task, model=...)(question=..., context=...)`` (or a dict, or a list of dicts): ``{"answer", "start",
    "end", "score"}`` with character offsets into the context and the score ``start + end`` logit; ``top_k`` answers (a list) and ``max_answer_length``
    (tokens) are options."""

    _load_tokenizer = True
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False

    def __call__(self, inputs: Any = None, *, question: str | None = None, context: str | None = None, **kwargs: Any) -> Any:
        if inputs is None:
            inputs = {"question": question, "context": context}
        return super().__call__(inputs, **kwargs)

    def _sanitize_parameters(self, top_k: int | None = None, max_answer_length: int | None = None, **unknown: Any):
        if unknown:
            raise ArchitError(f"{type(self).__name__} takes question=, context=, top_k= and max_answer_length=, not {', '.join(sorted(unknown))}")
        options = {k: v for k, v in {"top_k": top_k, "max_answer_length": max_answer_length}.items() if v is not None}
        return {}, {}, options

    def preprocess(self, example: dict[str, str]) -> dict[str, Any]:
        if not isinstance(example, dict) or not all(isinstance(example.get(k), str) for k in ("question", "context")):
            raise ArchitError(f"{type(self).__name__} takes question= and context= strings (or a dict of them), got {example!r:.200}")
        encoded = self.tokenizer(example["question"], example["context"], truncation="only_second",
                                 return_offsets_mapping=True, return_tensors="pt")
        sequence = encoded.sequence_ids(0)
        offsets = encoded.pop("offset_mapping")[0].tolist()
        context = torch.tensor([[s == 1 for s in sequence]])
        return {**encoded, "context_mask": context, "offsets": offsets, "context": example["context"]}

    def _forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        keep = {k: inputs.pop(k) for k in ("context_mask", "offsets", "context")}
        out = self.model(**inputs)
        return {"start_logits": out.start_logits, "end_logits": out.end_logits, **keep}

    def postprocess(self, outputs: dict[str, Any], top_k: int = 1, max_answer_length: int = 30) -> Any:
        spans = best_spans(outputs["start_logits"], outputs["end_logits"], outputs["context_mask"],
                           max_answer_length=max_answer_length, top_k=top_k)
        offsets, context, answers = outputs["offsets"], outputs["context"], []
        for start, end, score in zip(spans.start[0].tolist(), spans.end[0].tolist(), spans.score[0].tolist()):
            if start < 0:
                continue
            first, last = offsets[start][0], offsets[end][1]
            answers.append({"answer": context[first:last], "start": first, "end": last, "score": score})
        return answers if top_k > 1 else (answers[0] if answers else {"answer": "", "start": 0, "end": 0, "score": float("-inf")})
