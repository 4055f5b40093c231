"""The adapters peer of bench_parser_step.py, run in its own interpreter: adapters (1.3.0) pins transformers 4.57,
which archit (transformers 5) cannot share a process with. Builds ``BertAdapterModel`` with adapters'
``BiaffineParsingHead`` on the same checkpoint, loads the batch the parent saved, prints its parameter count and versions, then
runs one training step per ``step`` line on stdin and answers ``done``.

    python _adapters_peer.py BACKBONE_FOLDER BATCH.pt RELATIONS THREADS DEVICE
"""

from __future__ import annotations

import sys

import torch


def word_starts(word_ids: torch.Tensor) -> torch.Tensor:
    """adapters' ``word_starts``: each word's first token, then the end of the last word, padded with 0 (the pad id)."""
    rows = []
    for ids in word_ids.tolist():
        starts = [t for t, w in enumerate(ids) if w >= 0 and (t == 0 or ids[t - 1] != w)]
        end = max(t for t, w in enumerate(ids) if w >= 0) + 1
        rows.append(starts + [end])
    out = torch.zeros(word_ids.shape, dtype=torch.long)
    for b, row in enumerate(rows):
        out[b, : len(row)] = torch.tensor(row)
    return out


def main() -> None:
    folder, batch_file, relations, threads, device = sys.argv[1:6]
    torch.set_num_threads(int(threads))
    import warnings

    warnings.filterwarnings("ignore")
    from adapters import BertAdapterModel

    batch = torch.load(batch_file)
    model = BertAdapterModel.from_pretrained(folder)
    model.add_dependency_parsing_head("parser", num_labels=int(relations))
    model.to(device).train()
    tokens = batch["input_ids"].shape[1]
    pad = lambda t: torch.nn.functional.pad(t, (0, tokens - t.shape[1]))  # noqa: E731 - labels per token position
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
              "word_starts": word_starts(batch["word_ids"]), "labels_arcs": pad(batch["heads"]),
              "labels_rels": pad(batch["relations"])}
    inputs = {k: v.to(device) for k, v in inputs.items()}
    import adapters
    import transformers

    print(sum(p.numel() for p in model.parameters()), f"adapters {adapters.__version__}, transformers "
          f"{transformers.__version__}", flush=True)
    for line in sys.stdin:
        if line.strip() != "step":
            break
        model(**inputs)[0].backward()
        model.zero_grad(set_to_none=True)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        print("done", flush=True)


if __name__ == "__main__":
    main()
