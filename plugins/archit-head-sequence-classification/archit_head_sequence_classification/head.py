"""The sequence-classification head module; its loss is Hugging Face's for each problem type
(``archit_core.classification_loss``)."""

from __future__ import annotations

from torch import nn

from archit_core import DensePooler, HeadOutput, SequencePoolingHead, classification_loss, random_labels

__all__ = ["DensePooler", "SequenceClassificationHead", "sequence_classification_loss"]  # DensePooler: now archit_core's
#: The loss of ``*ForSequenceClassification`` (now archit_core's ``classification_loss``).
sequence_classification_loss = classification_loss


class SequenceClassificationHead(SequencePoolingHead):
    """The pooled sequence, then a linear classifier."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        self.classifier = nn.Linear(backbone.hidden_size, config.num_labels, bias=config.classifier_bias)

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        """Random labels of the kind ``config``'s problem type takes (archit's contract tests train with them)."""
        return random_labels(config.problem_type, config.num_labels, (batch_size,), generator=generator)

    def forward(self, features, labels=None, **inputs):
        logits = self.classifier(self.pool(features))
        loss = classification_loss(logits, labels, self.config.problem_type) if labels is not None else None
        return HeadOutput(logits=logits, loss=loss)
