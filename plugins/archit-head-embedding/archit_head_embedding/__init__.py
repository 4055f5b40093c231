"""archit head ``embedding``: one vector per text (``mean`` / ``first`` / ``last`` token state, unit length with
``normalize``). Pairs ``(batch, 2, length)`` or triplets ``(batch, 3, length)`` (anchor, positive[, negative]) with
``labels``, a weight per pair (1: counts fully), give sentence-transformers' MultipleNegativesRankingLoss (cosine
similarities times ``scale``, in-batch negatives), each anchor's term weighted."""

from __future__ import annotations

import attrs

from archit_core import HeadConfig, HeadSpec, flag, hookimpl, one_of, positive_number


@attrs.frozen(kw_only=True)
class EmbeddingConfig(HeadConfig):
    pooling: str = attrs.field(default="mean", validator=one_of("mean", "first", "last"))
    normalize: bool = attrs.field(default=False, validator=flag)
    scale: float = attrs.field(default=20.0, validator=positive_number)


@hookimpl
def provide_head(registry):
    registry.add_head("embedding", HeadSpec(module="archit_head_embedding.head:EmbeddingHead", config_class=EmbeddingConfig,
                                     description="sentence embeddings; pairs or triplets train with in-batch negatives"))


def from_sentence_transformers(path, **options):
    """The archit embedding model of a sentence-transformers folder (``build`` options pass through)."""
    from archit_core import build
    from archit_core.checkpoints.sentence_transformers import read_sentence_transformers

    st = read_sentence_transformers(path)
    head_config = {"pooling": st.pooling, "normalize": st.normalize}
    return build(st.model_type, "embedding", checkpoint=st.transformer, head_config=head_config, **options)


def save_sentence_transformers(model, path, tokenizer=None):
    """Write an archit embedding model as a folder ``SentenceTransformer(path)`` loads, without archit."""
    from archit_core.checkpoints.sentence_transformers import write_sentence_transformers

    config = model.head.config
    return write_sentence_transformers(path, model.backbone, pooling=config.pooling, normalize=config.normalize,
                                       hidden_size=model.head.backbone_facts.hidden_size, tokenizer=tokenizer)
