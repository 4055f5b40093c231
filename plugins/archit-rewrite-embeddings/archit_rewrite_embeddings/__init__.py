"""archit rewrite ``factorised-embeddings``: the word embeddings become a vocabulary x ``rank`` table and a
projection to the hidden size (ALBERT's factorisation), initialised from the original table by truncated SVD, so
the rewritten model starts as the best rank-``rank`` approximation of the original. The plugin also declares its
module, so a rewritten model gets class code that rebuilds it (``archit_core.declare``)."""

from __future__ import annotations

import attrs

from archit_core import RewriteSpec, hookimpl, one_of, positive


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
    """The constructor of a :class:`FactorisedEmbedding`; None for any other module."""
    from archit_core import ModuleCode

    if type(module).__name__ != "FactorisedEmbedding" or type(module).__module__ != "archit_rewrite_embeddings.modules":
        return None
    e = context.expression
    return ModuleCode(
        f"FactorisedEmbedding({e(module.num_embeddings)}, {e(module.rank)}, {e(module.embedding_dim)}, "
        f"padding_idx={e(module.padding_idx)})",
        ("from archit_rewrite_embeddings.modules import FactorisedEmbedding",),
    )
