"""The token-classification head module."""

from __future__ import annotations

from torch import nn

from archit_core import IGNORE_INDEX, DensePooler, Head, classifier_output, random_labels


class TokenClassificationHead(Head):
    """[dense, activation, layer norm,] dropout and a linear classifier on every token state; cross-entropy ignoring
    label -100. The optional ``transform`` is ModernBERT's prediction head (``archit_core.DensePooler`` per token)."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        hidden = backbone.hidden_size
        self.transform = None if config.transform is None else DensePooler(
            hidden, config.transform, bias=config.transform_bias, norm_eps=backbone.layer_norm_eps, field="transform")
        self.dropout = nn.Dropout(backbone.dropout_or(config.dropout))
        self.classifier = nn.Linear(hidden, config.num_labels)

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        """Random labels for a ``(batch_size, seq_len)`` batch, the first token ignored (-100) as special tokens are;
        archit's contract tests train the head on every backbone with them."""
        labels = random_labels("single_label_classification", config.num_labels, (batch_size, seq_len), generator=generator)
        labels[:, 0] = IGNORE_INDEX
        return labels

    def forward(self, features, labels=None, **inputs):
        states = features.token_states if self.transform is None else self.transform(features.token_states)
        logits = self.classifier(self.dropout(states))
        return classifier_output(logits, labels, "single_label_classification")
