"""archit head ``token-classification``: one label per token, as Hugging Face's ``*ForTokenClassification``."""

from __future__ import annotations

import attrs

from archit_core import HeadConfig, HeadSpec, HFEquivalent, hookimpl, positive, probability


@attrs.frozen(kw_only=True)
class TokenClassificationConfig(HeadConfig):
    """``num_labels`` classes per token; ``dropout`` before the classifier (None: the backbone's)."""

    num_labels: int = attrs.field(default=2, validator=positive)
    dropout: float | None = attrs.field(default=None, validator=probability)


@hookimpl
def provide_head(registry):
    registry.add_head(
        "token-classification",
        HeadSpec(
            module="archit_head_token_classification.head:TokenClassificationHead",
            config_class=TokenClassificationConfig,
            hf_equivalent=HFEquivalent(
                auto_class="AutoModelForTokenClassification",
                keys={"classifier.": "classifier."},
                config_fields=("num_labels",),
            ),
            description="one label per token; cross-entropy, labels of -100 ignored",
        ),
    )
