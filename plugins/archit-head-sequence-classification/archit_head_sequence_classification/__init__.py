"""archit head ``sequence-classification``: one label (or score) per sequence, as Hugging Face's
``*ForSequenceClassification``: the pooled sequence (``archit_core.SequencePoolingHead``: first, last, mean, the
backbone's pooler, or "late"), dropout and a linear classifier; the loss follows ``problem_type`` as Hugging Face's."""

from __future__ import annotations

import attrs

from archit_core import PROBLEM_TYPES, HeadSpec, SequencePoolingConfig, flag, hookimpl, one_of, pooled_layouts
from archit_core.parts import label_count


@attrs.frozen(kw_only=True)
class SequenceClassificationConfig(SequencePoolingConfig):
    """``num_labels`` outputs; ``problem_type``: one of ``PROBLEM_TYPES``, or None to decide per batch as Hugging Face
    does; pooling, the dense pooler and dropout as ``SequencePoolingConfig`` says, with ``pooler_norm`` a layer norm after
    the dense pooler and ``pooler_bias`` its biases; ``classifier_bias``: False for decoders' ``score`` layers."""

    num_labels: int = attrs.field(default=2, validator=label_count)
    problem_type: str | None = attrs.field(default=None, validator=one_of(None, *PROBLEM_TYPES))
    classifier_bias: bool = attrs.field(default=True, validator=flag)
    pooler_bias: bool = attrs.field(default=True, validator=flag)
    pooler_norm: bool = attrs.field(default=False, validator=flag)


#: The classification heads Hugging Face families use (``archit_core.pooled_layouts``); the first, a linear classifier
#: on the first token, is the layout of dedicated backbones; a generic backbone picks the one its family matches.
HF_LAYOUTS = pooled_layouts("AutoModelForSequenceClassification", keys={"classifier.": "classifier."},
                            config_fields=("num_labels", "problem_type"))


@hookimpl
def provide_head(registry):
    registry.add_head("sequence-classification", HeadSpec(
        module="archit_head_sequence_classification.head:SequenceClassificationHead",
        config_class=SequenceClassificationConfig,
        hf_layout=HF_LAYOUTS[0],
        hf_layouts=HF_LAYOUTS[1:],
        description="one label or score per sequence; regression, single-label or multi-label loss",
    ))
