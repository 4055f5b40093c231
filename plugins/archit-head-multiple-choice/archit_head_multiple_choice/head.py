"""The multiple-choice head module: a pooled sequence and one score per choice."""

from __future__ import annotations

from torch import nn

from archit_core import ArchitError, SequencePoolingHead
from archit_core.parts import classifier_output, flatten_groups, integer_labels, random_labels

#: How many choices the dummy batches of the contract suite hold.
DUMMY_CHOICES = 3
SINGLE_LABEL = "single_label_classification"


class MultipleChoiceHead(SequencePoolingHead):
    """Pool each choice's sequence, [dense, activation], dropout, one score; reshaped to ``(batch, choices)``."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        self.classifier = nn.Linear(backbone.hidden_size, 1)

    def prepare_inputs(self, inputs):
        """Flatten ``(batch, choices, ...)`` inputs to ``(batch * choices, ...)``; hand the head ``num_choices``."""
        flat, choices = flatten_groups(inputs, head="multiple-choice", group="choices", hint=(
            ". Stack the tokenized choices of each example along dimension 1 (pad them to one length); for one sequence "
            "per example use the sequence-classification head"))
        return flat, {"num_choices": choices}

    @classmethod
    def dummy_input_shape(cls, config, batch_size, seq_len):
        """Dummy batches hold ``DUMMY_CHOICES`` choices per example."""
        return (batch_size, DUMMY_CHOICES, seq_len)

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        """The index of a random right choice per example."""
        return random_labels(SINGLE_LABEL, DUMMY_CHOICES, (batch_size,), generator=generator)

    def forward(self, features, labels=None, num_choices=None, **inputs):
        if num_choices is None:
            raise ArchitError("multiple-choice: the head needs num_choices from prepare_inputs; run it through the model")
        logits = self.classifier(self.pool(features)).view(-1, num_choices)
        if labels is not None:
            labels = integer_labels(labels, logits.shape[:1], head="multiple-choice", holding="the index of the right choice per example")
        return classifier_output(logits, labels, SINGLE_LABEL)
