"""The masked-LM head module: transform, vocabulary projection (tied by default), cross-entropy loss."""

from __future__ import annotations

from torch import nn

from archit_core import DensePooler, VocabularyHead, classifier_output


class MaskedLMHead(VocabularyHead):
    """``logits = decoder(transform(states))``: the transform is a dense layer, an activation and a LayerNorm (every
    masked-LM head has one); the decoder's weight is the input embedding matrix when tied."""

    dummy_label_share = 0.3  # of positions labelled in dummy batches (the rest -100, as in masked-LM training data)

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        width = backbone.embedding_size or backbone.hidden_size
        eps = config.layer_norm_eps if config.layer_norm_eps is not None else backbone.layer_norm_eps
        self.transform = DensePooler(backbone.hidden_size, config.activation or backbone.hidden_act or "gelu", norm_eps=eps,
                                     field="activation", out_features=width, norm_name="layer_norm")
        self.decoder = nn.Linear(width, backbone.vocab_size)  # the "vocabulary" capability, checked at build time
        self.tied = config.tie_word_embeddings

    def forward(self, features, labels=None, **inputs):
        return classifier_output(self.decoder(self.transform(features.token_states)), labels, "single_label_classification")
