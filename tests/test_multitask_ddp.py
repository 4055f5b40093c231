"""A multi-task model under torch's DistributedDataParallel with its default settings (no find_unused_parameters),
when each batch labels one task only: 2 CPU processes over gloo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("archit_backbone_bert")
pytest.importorskip("archit_head_token_classification")

WORKER = r'''
import json, sys
import torch
import torch.distributed as dist
import archit_core
from archit_core.multitask import head as multitask_head

rank, store, out, fix = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "1"
if not fix:  # what archit did before: no zero-weight term for the tasks a batch does not label
    multitask_head._distributed = lambda: False
torch.set_num_threads(1)
dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
torch.manual_seed(0)
model = archit_core.build("bert", {"ner": ("token-classification", {"num_labels": 3}), "cls": "sequence-classification"}, tiny=True)
ddp = torch.nn.parallel.DistributedDataParallel(model)  # the defaults: find_unused_parameters=False
optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1)
generator = torch.Generator().manual_seed(rank)
result = {"steps": 0, "error": None, "ner_moved_on_cls_steps": []}
try:
    for step in range(4):  # ner, cls, ner, cls: each batch labels one task
        ids = torch.randint(5, 1000, (2, 6), generator=generator)
        labels = {"ner": ids % 3} if step % 2 == 0 else {"cls": ids[:, 0] % 2}
        before = model.head.heads["ner"].classifier.weight.detach().clone()
        optimizer.zero_grad()
        ddp(input_ids=ids, labels=labels).loss.backward()
        optimizer.step()
        if step % 2:
            result["ner_moved_on_cls_steps"].append(not torch.equal(before, model.head.heads["ner"].classifier.weight))
        result["steps"] += 1
    result["checksum"] = float(sum(p.double().sum() for p in model.parameters()))
except RuntimeError as exc:
    result["error"] = str(exc)[:300]
json.dump(result, open(out, "w"))
dist.destroy_process_group()
'''


def run_pair(tmp_path: Path, fix: bool) -> list[dict]:
    outs = [tmp_path / f"rank{rank}-{int(fix)}.json" for rank in range(2)]
    store = tmp_path / f"store-{int(fix)}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(rank), str(store), str(out), str(int(fix))], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank, out in enumerate(outs)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    return [json.loads(out.read_text()) for out in outs]


def test_batches_labelling_one_task_train_under_ddp_defaults(tmp_path: Path) -> None:
    ranks = run_pair(tmp_path, fix=True)
    assert all(r["error"] is None and r["steps"] == 4 for r in ranks), ranks
    assert ranks[0]["checksum"] == ranks[1]["checksum"]  # the replicas stayed identical
    assert ranks[0]["ner_moved_on_cls_steps"] == [False, False]  # the idle head's gradient is zero: plain SGD leaves it


def test_without_the_idle_term_ddp_fails_as_it_used_to(tmp_path: Path) -> None:
    """The check above is meaningful: without archit's zero-weight term DDP stops at the second batch."""
    ranks = run_pair(tmp_path, fix=False)
    assert all(r["error"] and "finished reduction in the prior iteration" in r["error"] for r in ranks), ranks
