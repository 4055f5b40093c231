"""archit head ``token-classification``: one label per token, as Hugging Face's ``*ForTokenClassification``."""

from __future__ import annotations

from operator import attrgetter

import attrs

from archit_core import ClassifierConfig, HeadSpec, HFLayout, activation_name, flag, hookimpl


@attrs.frozen(kw_only=True)
class TokenClassificationConfig(ClassifierConfig):
    """``num_labels`` classes per token; ``dropout`` before the classifier (None: the backbone's).

    ``transform``: an activation name to put a dense layer, that activation and a layer norm on every token state
    before the classifier (ModernBERT's prediction head); ``transform_bias``: whether those have biases.
    """

    transform: str | None = attrs.field(default=None, validator=attrs.validators.optional(activation_name))
    transform_bias: bool = attrs.field(default=True, validator=flag)


#: Token classifiers of Hugging Face families as configs of this head (linear; ModernBERT-like); a generic backbone
#: picks the one its family's ``*ForTokenClassification`` matches (same parameter shapes, same logits).
HF_LAYOUTS = HFLayout.variants(
    "AutoModelForTokenClassification",
    {},
    {"transform": attrgetter("classifier_activation"), "transform_bias": attrgetter("classifier_bias")},
    keys={"classifier.": "classifier."},
    config_fields=("num_labels",),
)


@hookimpl
def provide_head(registry):
    registry.add_head(
        "token-classification",
        HeadSpec(
            module="archit_head_token_classification.head:TokenClassificationHead",
            config_class=TokenClassificationConfig,
            hf_layout=HF_LAYOUTS[0],
            hf_layouts=HF_LAYOUTS[1:],
            description="one label per token; cross-entropy, labels of -100 ignored",
        ),
    )
