"""``WordPipeline``: the transformers pipeline of heads that predict something per word (a parser's heads and
relations): it takes a sentence (split at white space) or a list of words, or a list of those, tokenizes with word
ids, runs the model and hands the logits and the words to the subclass's :meth:`WordPipeline.predict`."""

from __future__ import annotations

from typing import Any

import torch
from transformers.pipelines.base import Pipeline  # not `transformers`: usable while transformers.pipelines loads

from ..errors import ArchitError


class WordPipeline(Pipeline):
    """Base of word-level pipelines; a subclass writes :meth:`predict` (and may list keyword ``options`` it takes)."""

    #: Keyword arguments of ``__call__`` passed on to :meth:`predict`.
    options: tuple[str, ...] = ()
    _load_tokenizer = True
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        """``inputs``: a sentence (split at white space), a list of words, or a list of those (a list of results)."""
        if isinstance(inputs, str) or (isinstance(inputs, (list, tuple)) and all(isinstance(w, str) for w in inputs)):
            return super().__call__(_words(inputs), **kwargs)  # one input (transformers iterates lists, not tuples)
        return super().__call__([_words(x) for x in inputs], **kwargs)

    def _sanitize_parameters(self, **kwargs: Any) -> tuple[dict, dict, dict]:
        unknown = sorted(set(kwargs) - set(self.options))
        if unknown:
            raise ArchitError(f"{type(self).__name__} takes the options {', '.join(self.options) or 'none'}, not {', '.join(unknown)}")
        return {}, {}, kwargs

    def preprocess(self, words: tuple[str, ...]) -> dict[str, Any]:
        if not words:
            raise ArchitError(f"{type(self).__name__} got no words: give a sentence or a list of words")
        if not getattr(self.tokenizer, "is_fast", False):
            raise ArchitError(f"{type(self).__name__} needs a fast tokenizer (word ids); got {type(self.tokenizer).__name__}")
        encoded = self.tokenizer(list(words), is_split_into_words=True, truncation=True, return_tensors="pt")
        ids = [-1 if i is None else i for i in encoded.word_ids(0)]
        inputs = {k: v for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        return {**inputs, "word_ids": torch.tensor([ids]), "words": words}

    def _forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        words = inputs.pop("words")
        return {"logits": self.model(**inputs).logits, "words": words}

    def postprocess(self, outputs: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
        return self.predict(outputs["logits"], list(outputs["words"]), **options)

    def predict(self, logits: Any, words: list[str], **options: Any) -> list[dict[str, Any]]:
        """One dict per word from the model's logits for one sentence (batch of 1), e.g. ``{"word", "head", "relation"}``."""
        raise NotImplementedError

    def label(self, index: int) -> str:
        """The name of class ``index`` in the model config's ``id2label`` (``LABEL_<index>`` when it has none)."""
        return self.model.config.id2label.get(index, f"LABEL_{index}")


def _words(sentence: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sentence.split()) if isinstance(sentence, str) else tuple(sentence)
