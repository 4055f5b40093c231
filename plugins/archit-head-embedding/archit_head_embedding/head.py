"""The embedding head module: pooling, normalisation, the in-batch-negatives loss of pairs and triplets."""

import torch
from torch.nn import functional as F

from archit_core import Head, HeadOutput, pool_sequence
from archit_core.parts import flatten_groups


class EmbeddingHead(Head):
    def prepare_inputs(self, inputs):  # pairs and triplets (batch, texts, length) are flattened for the backbone
        ids = inputs.get("input_ids")
        if (ids if ids is not None else inputs["inputs_embeds"]).dim() == (2 if ids is not None else 3):
            return inputs, {}
        flat, texts = flatten_groups(inputs, head="embedding", group="texts", hint=" (pairs or triplets)")
        return flat, {"texts": texts}

    @classmethod
    def dummy_input_shape(cls, config, batch_size, seq_len):
        return (batch_size, 2, seq_len)

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        return torch.ones(batch_size)  # every pair counts fully

    def forward(self, features, labels=None, texts=None, **inputs):
        embeddings = pool_sequence(features, self.config.pooling)
        embeddings = F.normalize(embeddings, dim=-1) if self.config.normalize else embeddings
        if texts is None:
            return HeadOutput(logits=embeddings)
        grouped = embeddings.view(-1, texts, embeddings.shape[-1])
        if labels is None or texts < 2:
            return HeadOutput(logits=grouped)
        anchors, candidates = grouped[:, 0], grouped[:, 1:].transpose(0, 1).flatten(0, 1)  # positives, then negatives
        scores = F.normalize(anchors, dim=-1) @ F.normalize(candidates, dim=-1).T * self.config.scale
        losses = F.cross_entropy(scores, torch.arange(len(anchors), device=scores.device), reduction="none")
        weights = labels.to(losses.dtype).reshape(-1)
        return HeadOutput(logits=grouped, loss=(losses * weights).sum() / weights.sum().clamp(min=1e-12))
