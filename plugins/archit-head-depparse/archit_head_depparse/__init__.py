"""archit head ``dependency-parsing``: a biaffine dependency parser (Dozat & Manning, 2017) on any backbone.

Subword states are pooled into words (:mod:`archit_core.parts.word_pooling`), a learned root vector is put at word
position 0, and MLPs feed a biaffine arc scorer and a bilinear relation scorer (:mod:`.head`). Trees come from
:func:`archit_head_depparse.decoding.decode` (Chu-Liu/Edmonds or Eisner); :mod:`.metrics` gives UAS and LAS.

This entry module (the config and the hook) imports neither torch nor transformers.
"""

from __future__ import annotations

import attrs

from archit_core import WORD_POOLING_MODES, HeadConfig, HeadSpec, flag, hookimpl, one_of, positive, probability

HEAD = "dependency-parsing"


@attrs.frozen(kw_only=True)
class DependencyParsingConfig(HeadConfig):
    """``num_relations`` dependency relations (the 37 of Universal Dependencies v2 by default); ``pooling`` of
    subword states into words; ``layer_mix``: a learned softmax-weighted mix of every backbone layer instead of the
    last one; ``arc_size`` and ``relation_size``: widths of the arc and relation MLPs; ``dropout`` on word states and
    MLP outputs (None: the backbone's)."""

    num_relations: int = attrs.field(default=37, validator=positive)
    pooling: str = attrs.field(default="first", validator=one_of(*WORD_POOLING_MODES))
    layer_mix: bool = attrs.field(default=False, validator=flag)
    arc_size: int = attrs.field(default=500, validator=positive)
    relation_size: int = attrs.field(default=100, validator=positive)
    dropout: float | None = attrs.field(default=None, validator=probability)

    def needs(self) -> frozenset[str]:
        """Token states, and every layer's states for ``layer_mix``."""
        return frozenset({"token_states", "hidden_states"} if self.layer_mix else {"token_states"})


@hookimpl
def provide_head(registry):
    registry.add_head(
        HEAD,
        HeadSpec(
            module="archit_head_depparse.head:DependencyParsingHead",
            config_class=DependencyParsingConfig,
            inputs=("word_ids", "word_spans", "relation_labels"),
            pipelines={"dependency-parsing": "archit_head_depparse.pipeline:DependencyParsingPipeline"},
            description="biaffine dependency parser: arc and relation scores over words; labels = gold heads "
                        "(0 = root), relation_labels = gold relations; decode with Chu-Liu/Edmonds or Eisner",
        ),
    )


__all__ = ["HEAD", "DependencyParsingConfig", "provide_head"]
