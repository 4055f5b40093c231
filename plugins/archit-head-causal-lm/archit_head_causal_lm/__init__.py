"""archit head ``causal-lm``: next-token prediction, as Hugging Face's ``*ForCausalLM``.

A linear projection onto the vocabulary (no bias), tied to the backbone's input embeddings or not, and the shifted
cross-entropy loss (the label at position ``t + 1`` is predicted at ``t``; -100 ignored). The head needs a causal
backbone (a decoder) and makes the model generative: ``model.generate`` works with the backbone's cache.
"""

from __future__ import annotations

import attrs

from archit_core import HeadConfig, HeadSpec, HFLayout, flag, hookimpl, vocabulary_needs


@attrs.frozen(kw_only=True)
class CausalLMConfig(HeadConfig):
    """``tie_word_embeddings``: the projection is the backbone's input embedding matrix. None (the default)
    follows the backbone config's own ``tie_word_embeddings`` (GPT-2 ties, Llama does not by default), or ties
    when the config states nothing."""

    tie_word_embeddings: bool | None = attrs.field(default=None, validator=attrs.validators.optional(flag))

    def needs(self) -> frozenset[str]:
        return vocabulary_needs(self.tie_word_embeddings, frozenset({"token_states", "causal"}))


@hookimpl
def provide_head(registry):
    registry.add_head(
        "causal-lm",
        HeadSpec(
            module="archit_head_causal_lm.head:CausalLMHead",
            config_class=CausalLMConfig,
            hf_layout=HFLayout(
                auto_class="AutoModelForCausalLM",
                keys={"lm_head.": "decoder."},
                config_fields=("tie_word_embeddings",),
            ),
            description="next-token prediction; shifted loss with -100 ignored, tied or untied projection, generate()",
        ),
    )
