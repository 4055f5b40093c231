"""archit rewrite ``factorised-embeddings``: the word embeddings become a vocabulary x ``rank`` table and a
projection to the hidden size (ALBERT's factorisation), initialised from the original table by truncated SVD, so
the rewritten model starts as the best rank-``rank`` approximation of the original. The plugin also declares its
module, so a rewritten model gets class code that rebuilds it (``archit_core.declare``)."""

from __future__ import annotations

import attrs

from archit_core import RewriteSpec, constructor_code, hookimpl, one_of, positive


@attrs.frozen(kw_only=True)
class FactorisedEmbeddingConfig:
    """``rank`` of the factorisation; ``init`` ``svd`` (from the original table) or ``random``."""

    rank: int = attrs.field(default=128, validator=positive)
    init: str = attrs.field(default="svd", validator=one_of("svd", "random"))


@hookimpl
def rewrite_module(registry):
    registry.add_rewrite(
        "factorised-embeddings",
        RewriteSpec(
            replace="archit_rewrite_embeddings.modules:factorise",
            config_class=FactorisedEmbeddingConfig,
            default_targets=("word_embeddings",),
            description="word embeddings as a vocabulary x rank table and a projection, initialised by SVD",
        ),
    )


@hookimpl
def declare_module(module, context):
    """``FactorisedEmbedding(num_embeddings, rank, embedding_dim, padding_idx=...)``; None for any other module."""
    return constructor_code(module, context, "archit_rewrite_embeddings.modules:FactorisedEmbedding",
                       "num_embeddings", "rank", "embedding_dim", keywords=("padding_idx",))
