"""Coverage of the core's generic backbones: every text model type of the installed transformers, built tiny with
every head of ``HEADS`` (token and sequence classification, question answering, multiple choice, masked LM,
dependency parsing, an embedding head when one is installed), each trained one step and checked for parity with the
family's Hugging Face class through checkpoint import and export, and LoRA with its default targets against peft
(:func:`archit_core.testing.generic.check_model_type`). Writes docs/coverage.md.

Text model types: every ``model_type`` that transformers' ``AutoModel`` maps and that has a token-classification,
sequence-classification, masked-LM or causal-LM class, except composite configs (``sub_configs``: vision-language,
audio-text, encoder-decoder wrappers). A model type whose ``AutoModel`` class reads something other than
``input_ids`` is counted as excluded (not text), with the reason.

Model types run in chunks (``--chunk``, default 12) in child interpreters, two at a time (``--jobs``), each family
under its own time limit (``--timeout``, default 120 s; an alarm in the child, and a limit on the whole child); the
families of a chunk that crashed or hung run again one per interpreter, so one bad family cannot stall the run or
take others with it. Run by hand (about 20 minutes on 2 cores), not in CI:

    python benchmarks/bench_coverage.py [--jobs 2] [--chunk 12] [--timeout 120] [--only bert,gpt2 [--merge]] [--no-doc]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "coverage.md"
#: The heads measured: column key -> head name (those installed, see ``heads()``); ``built`` means the ``REQUIRED``
#: ones train.
HEADS = {"tok": "token-classification", "seq": "sequence-classification", "qa": "question-answering",
         "mc": "multiple-choice", "mlm": "masked-lm", "dep": "dependency-parsing", "emb": "embedding"}
REQUIRED = ("tok", "seq")
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import machine, table  # noqa: E402


def text_model_types() -> list[str]:
    """The text model types of the installed transformers (see the module docstring)."""
    from transformers.models.auto import modeling_auto as m
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    tasks = (m.MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES, m.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
             m.MODEL_FOR_MASKED_LM_MAPPING_NAMES, m.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)
    found = []
    for model_type in sorted({t for names in tasks for t in names} & set(m.MODEL_MAPPING_NAMES)):
        try:
            config_class = CONFIG_MAPPING[model_type]
        except Exception:
            continue
        if not getattr(config_class, "sub_configs", None):
            found.append(model_type)
    return found


def heads() -> dict[str, str]:
    """:data:`HEADS` that are installed."""
    import archit_core

    host = archit_core.get_host()
    names = set(host.registry.names("head")) if hasattr(host, "registry") else set()
    return {k: h for k, h in HEADS.items() if not names or h in names}


def _one(model_type: str) -> dict:
    """Run in a child interpreter: the coverage row of one model type."""
    import warnings

    warnings.simplefilter("ignore")
    from archit_core.errors import ConfigError
    from archit_core.generic.backbone import generic_backbone
    from archit_core.testing.generic import check_model_type, family_kind

    try:
        generic_backbone(model_type)
    except ConfigError as exc:
        if "is not a text model" in str(exc):
            return {"model_type": model_type, "kind": family_kind(model_type), "excluded": str(exc)}
    except Exception:
        pass  # check_model_type reports it
    return check_model_type(model_type, heads(), REQUIRED, checks={"lora": lora_check})


def lora_check(name: str, head: str = "sequence-classification") -> tuple[str, str]:
    """LoRA with its default targets on backbone ``name`` (tiny, with ``head``): ``("parity", "")`` when it trains one
    step and, where peft has default targets for the family, wraps the modules peft wraps and, with the same adapter
    weights, gives the same backbone outputs as peft; ``("works", "")`` where peft has no defaults; else
    ``("no", reason)`` or ``("mismatch", reason)``. peft is imported here."""
    import copy

    import peft
    import torch
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_TARGETS

    import archit_core
    from archit_core.testing.generic import training_batch

    torch.manual_seed(0)
    model = archit_core.build(name, head, tiny=True).eval()
    try:
        lora = archit_core.rewrite(model, "lora")
    except archit_core.ArchitError as exc:
        return "no", str(exc).splitlines()[0][:200]
    batch = training_batch(lora)
    lora.train()
    out = lora(**batch)
    out.loss.backward()
    if not all(p.grad is not None for n, p in lora.named_parameters() if "lora_A" in n):
        return "mismatch", "a LoRA weight got no gradient"
    lora.eval()
    targets = PEFT_TARGETS.get(model.backbone_spec.hf_model_type) if hasattr(model.backbone_spec, "hf_model_type") else None
    if not isinstance(targets, list):
        return "works", ""
    theirs = peft.inject_adapter_in_model(peft.LoraConfig(r=8, lora_alpha=8, target_modules=targets), copy.deepcopy(model.backbone))
    wrapped = sorted(n for n, m in theirs.named_modules() if isinstance(m, peft.tuners.lora.LoraLayer))
    ours = sorted(p.removeprefix("backbone.") for p in archit_core.rewrites_of(lora)[0]["paths"])
    if wrapped != ours:
        return "mismatch", f"peft wraps {wrapped[:2]}..., archit {ours[:2]}..."
    g = torch.Generator().manual_seed(3)
    state = {k: torch.randn(v.shape, generator=g) * 0.1 for k, v in theirs.state_dict().items() if "lora_" in k}
    theirs.load_state_dict(state, strict=False)
    lora.load_state_dict({f"backbone.{k}": v for k, v in state.items()}, strict=False)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    spec = model.backbone_spec
    with torch.no_grad():
        got, expected = spec.encode(lora.backbone, inputs).token_states, spec.encode(theirs.eval(), inputs).token_states
    try:
        torch.testing.assert_close(got, expected)
    except AssertionError as exc:
        return "mismatch", str(exc).splitlines()[0]
    return "parity", ""


def _child_env() -> dict[str, str]:
    return {**os.environ, "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false"}


def run_chunk(model_types: list[str], timeout: float) -> list[dict]:
    """Rows of ``model_types`` from one child interpreter (each family under its own alarm of ``timeout``); the
    families a crash or a hang left without a row run again, each in an interpreter of its own."""
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, __file__, "--child", ",".join(model_types), "--timeout", str(timeout)],
                              capture_output=True, text=True, timeout=timeout * len(model_types) + 120, env=_child_env())
        stdout, stderr, code = done.stdout, done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        stdout, stderr, code = exc.stdout or "", exc.stderr or "", "timeout"
        stdout = stdout.decode() if isinstance(stdout, bytes) else stdout
        stderr = stderr.decode() if isinstance(stderr, bytes) else stderr
    rows = {r["model_type"]: r for r in (json.loads(line) for line in stdout.splitlines() if line.startswith("{"))}
    missing = [t for t in model_types if t not in rows]
    if len(model_types) == 1 and missing:
        tail = (stderr.strip().splitlines() or ["no output"])[-1]
        what = f"timed out after {timeout:.0f} s" if code == "timeout" else f"crashed (exit {code}): {tail[:200]}"
        rows[model_types[0]] = {"model_type": model_types[0], "built": False, "error": what,
                                "seconds": round(time.perf_counter() - start, 1)}
    for model_type in missing if len(model_types) > 1 else ():
        rows.update({r["model_type"]: r for r in run_chunk([model_type], timeout)})
    return [rows[t] for t in model_types]


def _alarm(seconds: float) -> None:
    import signal

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"timed out after {seconds:.0f} s")

    signal.signal(signal.SIGALRM, expired)
    signal.alarm(int(seconds))


def run_children(model_types: list[str], timeout: float) -> None:
    """In a child interpreter: print one JSON row per model type, each under an alarm of ``timeout`` seconds."""
    import signal

    for model_type in model_types:
        start = time.perf_counter()
        _alarm(timeout)
        try:
            row = _one(model_type)
        except TimeoutError as exc:
            row = {"model_type": model_type, "built": False, "error": str(exc)}
        finally:
            signal.alarm(0)
        row["seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps(row), flush=True)


#: Why a family cannot be built or matched, where the error alone does not say it (checked by hand on transformers
#: 5.23; shown after the measured reason). Families here are still counted in the totals.
KNOWN = {
    "reformer": "Reformer trains only on sequences whose length is a multiple of its attention chunk length and equals "
                "the product of axial_pos_shape; the padded 7-token probe batch cannot be trained (Hugging Face's own "
                "ReformerFor* classes refuse it the same way)",
    "layoutlmv2": "LayoutLMv2 needs detectron2 for its visual backbone (not installed) and reads page images: not a "
                  "text-only model",
    "longformer": "LongformerForSequenceClassification puts global attention on the first token itself, a backbone "
                  "input (global_attention_mask) the head cannot set; pass it and the outputs match",
    "funnel": "FunnelForSequenceClassification sits on FunnelBaseModel (no upsampling), a different backbone from "
              "FunnelModel",
}


#: Statuses of a head column that are no shortfall: no Hugging Face class or equivalent to compare with.
_NO_ORACLE = ("no-class", "no-equivalent")


def _columns(rows: list[dict]) -> list[str]:
    """The head columns the rows have, in :data:`HEADS` order (``emb`` last)."""
    return [k for k in HEADS if any(k in r for r in rows)]


def _cell(row: dict, key: str) -> str:
    status = row.get(key)
    if status == "parity":
        return "yes"
    if status == "no-class":
        return "no HF class"
    if status == "no-equivalent":
        return "trains"
    if status is None or status == "error" and row.get(f"{key}_reason") == "not built":
        return "-"
    return f"no ({status})"


def _lora_cell(row: dict) -> str:
    return {"parity": "peft parity", "works": "yes", None: "-"}.get(row.get("lora"), f"no ({row.get('lora')})")


def _reason(row: dict, columns: list[str] = ["tok", "seq"]) -> str:  # noqa: B006  (read only)
    if row.get("excluded"):
        return row["excluded"]
    known = f" ({KNOWN[row['model_type']]})" if row.get("model_type") in KNOWN else ""
    if not row.get("built"):
        return row.get("error", "") + known
    reasons = [f"{k}: {row.get(k + '_reason', '')[:160]}" for k in columns if row.get(k) not in (None, "parity", *_NO_ORACLE)]
    if row.get("lora") not in (None, "parity", "works"):
        reasons.append(f"lora: {row.get('lora_reason', '')[:160]}")
    return "; ".join(reasons) + (known if reasons else "")


def _share(ok: int, of: int) -> str:
    return f"{ok} / {of} ({100 * ok / of:.0f}%)" if of else "-"


def totals(rows: list[dict]) -> list[list[object]]:
    """Per kind: tried, built, LoRA with default targets (of those built; peft parity of those peft has defaults
    for), and parity counts per head where Hugging Face has the class."""
    out = []
    for kind in ("encoder", "decoder", "encoder-decoder", "all"):
        group = [r for r in rows if not r.get("excluded") and (kind == "all" or r.get("kind") == kind)]
        built = [r for r in group if r.get("built")]
        cells = [kind, len(group), f"{len(built)} ({100 * len(built) / max(len(group), 1):.0f}%)",
                 _share(sum(r.get("lora") in ("parity", "works") for r in built), len(built)),
                 _share(sum(r.get("lora") == "parity" for r in built), sum(r.get("lora") in ("parity", "mismatch") for r in built))]
        for key in _columns(rows):
            if not any(r.get(key) not in (None, "error", *_NO_ORACLE) for r in rows):  # no Hugging Face equivalent
                cells.append(f"trains {_share(sum(r.get(key) == 'no-equivalent' for r in built), len(built))}")
                continue
            has = [r for r in group if r.get(key) not in (None, *_NO_ORACLE)]
            cells.append(_share(sum(r.get(key) == "parity" for r in has), len(has)))
        out.append(cells)
    return out


def render(rows: list[dict], elapsed: float) -> str:
    import transformers

    excluded = [r for r in rows if r.get("excluded")]
    body = [
        "<!-- generated by benchmarks/bench_coverage.py; the text above the table is kept in the script -->",
        "# Coverage: every Hugging Face text model as a backbone",
        "",
        f"Measured on transformers {transformers.__version__} ({machine()}), {len(rows)} model types, "
        f"{elapsed / 60:.0f} minutes of wall-clock time. Regenerate with `python benchmarks/bench_coverage.py` (each "
        "chunk of model types in its own interpreter, two at a time, each model type with a time limit).",
        "",
        "Every row is the core's generic backbone (`build(\"<model_type>@archit-core\", ...)`, even where a dedicated "
        "plugin registers the name): **built** = the tiny architecture (`tiny=True`) builds with both the "
        "`token-classification` and `sequence-classification` heads, a padded batch with labels runs forward and "
        "backward. **roles** = the projection roles inferred from the module tree and checked by a probe "
        "(`archit_core.generic.roles`: `q k v` or fused `qkv`, `o` the attention output, `ff.gate ff.in ff.out`). "
        "**LoRA** = `archit_core.rewrite(model, \"lora\")` with its default targets (query and value, or the fused "
        "qkv) trains one step (`yes`); `peft parity` = peft has default targets for the family, and with them peft "
        "wraps the same modules and, with the same adapter weights, gives the same backbone outputs. Head columns "
        "(**tok** token classification, **seq** sequence classification, **qa** question answering, **mc** multiple "
        "choice, **mlm** masked LM, **dep** dependency parsing, **emb** an embedding head when one is installed) = "
        "parity with the family's Hugging Face class (`*ForTokenClassification`, ...): the Hugging Face model (tiny, "
        "random weights) is saved with `save_pretrained` and imported with `archit_core.build(..., checkpoint=folder, "
        "strict=True)`; logits and loss must be equal (`torch.testing.assert_close`), and `to_transformers` must give "
        "the class back with the same outputs. `no HF class`: transformers has no such class for the family; "
        "`trains`: the head has no Hugging Face equivalent and trains one step; `no (no-layout)`: its head has no "
        "layout the archit head can take (the reason says which part differs); `no (mismatch)`: a layout was found "
        "but outputs differ (or export failed); `no (error)`: the head could not be trained or imported.",
        "",
        "## Totals",
        "",
        "Parity columns: at parity / model types where Hugging Face has the class (`trains k / n`: a head with no Hugging "
        "Face equivalent, trained one step on k of the n model types built). **LoRA default**: LoRA with default "
        "targets trains / model types built; **LoRA = peft**: peft parity / built model types peft has default "
        "targets for. Kinds: `encoder-decoder` = the "
        "config says `is_encoder_decoder` (the backbone is the encoder); `decoder` = a causal LM and no masked LM in "
        "transformers; `encoder` = the rest. A **text encoder** is an `encoder` row: a model type whose `AutoModel` "
        "reads token ids, with a masked LM or no causal LM, and no `sub_configs` (so no image or audio tower); layout "
        "models that also read boxes (`bbox`) count, the boxes being an extra backbone input (zeros in this table).",
        "",
        table(["kind", "model types", "built", "LoRA default", "LoRA = peft", *(f"parity {k}" for k in _columns(rows))], totals(rows)),
        "",
        f"Excluded as not text (their `AutoModel` reads no `input_ids`): {len(excluded)}"
        + (f" ({', '.join(r['model_type'] for r in excluded)})." if excluded else "."),
        "",
        "## Choices",
        "",
        "- **Which model types**: those `AutoModel` maps that have a token-classification, sequence-classification, "
        "masked-LM or causal-LM class, minus composite configs (a config class with `sub_configs`: vision-language, "
        "audio-text and encoder-decoder wrappers). A model type whose `AutoModel` reads no `input_ids` is excluded.",
        "- **Encoder-decoder models**: the backbone is the encoder: the family's `*EncoderModel` class where it has one "
        "(T5, MT5, UMT5, ...; checkpoint prefix its `base_model_prefix`), else the class of `AutoModel(...).get_encoder()` "
        "built alone (BART, ...; checkpoint prefix `<base_model_prefix>.<encoder attribute>`, e.g. `model.encoder`). "
        "Their Hugging Face sequence classifiers read the decoder, so they are `no-layout` by design.",
        "- **Default architecture**: the config class's own defaults. **Tiny**: hidden 32, 2 layers, 4 heads (2 key/value "
        "heads), intermediate 64, head dim 8, vocabulary capped at 1000, positions capped at 512, 4 experts (2 per "
        "token), set under every field name a family uses; per-layer lists are cut to 2 layers, per-block layer "
        "counts become one layer per block, special token ids above the vocabulary are renumbered, and a missing "
        "`pad_token_id` becomes 0. Consistency rules, each keyed on what the config declares, not on the family: a "
        "config class whose validation refuses grouped key/value heads gets one per attention head; multi-head latent "
        "attention keeps `head_dim` equal to `qk_head_dim`; a rotary `partial_rotary_factor` that would rotate a number "
        "of the 8 head dimensions that is not a multiple of 4 becomes 0.5 (nested per layer type too); a "
        "`default_<x>` left None among a list `<x>s` takes the first (X-MOD's `default_language`); layout models, which "
        "slice the hidden state per box part, get hidden 48 (`max_2d_position_embeddings`: six parts, coordinate and "
        "shape sizes 8) or 64 (`dim_bbox`).",
        "- **Extra backbone inputs**: a generic backbone whose forward names an input of "
        "`archit_core.generic.backbone.EXTRA_INPUTS` (`bbox`: 4 coordinates per token) declares it in `extra_inputs`; this "
        "benchmark feeds zeros to both archit and Hugging Face. `ModelWithHead` passes such inputs to the backbone.",
        "- **Checkpoints of encoder-decoder models**: the encoder's keys are read under `<base_model_prefix>.<encoder>` "
        "(task checkpoints) and `<encoder>` (a bare base model), and weights the family ties to a model-level module "
        "(`_tied_weights_keys`: BART's `shared` for `encoder.embed_tokens`) are read from there.",
        "- **Head layouts**: inferred per family (see `archit_core.generic.layouts.infer_head_layout`): the head declares "
        "candidate configs (`HeadSpec.hf_layouts`); the candidate whose parameter modules have the same shapes as the "
        "task class's head part (paired by shape, registration order first; aliases of one parameter matched once, "
        "which gives the key mapping) and whose named outputs equal the task class's on the tiny "
        "architecture is the layout used by checkpoint import and `to_transformers`. Layouts beyond the usual ones: "
        "ModernBERT's prediction head (dense, activation, layer norm; token-classification `transform`, "
        "sequence-classification `pooler_norm`/`pooler_bias`, pooling from the config's `classifier_pooling`) and "
        "EuroBERT's (`pooling=\"late\"`: dense and GELU on every token, then the masked mean). A value a family's head "
        "takes from its config is named by its field (`attrgetter(\"hidden_act\")`: BigBird, ConvBERT, MRA, "
        "Nystromformer, RoFormer, YOSO), resolved per checkpoint; when several candidates match the tiny probe, the "
        "fields their values read are varied and the candidates that stop matching drop out; candidates no probe tells "
        "apart are `no-layout` with that reason, never a silent choice. Task-class parts the archit model lacks and the "
        "outputs do not read (BigBird's pooler) are `unused_keys` of the layout: export fills them with Hugging Face's "
        "initialisation.",
        "- **Roles and LoRA**: roles are probed on the tiny model (`archit_core.generic.roles`; rules in "
        "[rewrites.md](rewrites.md)). LoRA uses its default targets (`attention.query` and `attention.value`, falling "
        "back to `attention.qkv`), r=8; peft parity uses peft's own default target modules for the model type "
        "(`TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`), injected into a copy of the same backbone, both given "
        "the same random adapter weights, and compares the backbone's token states.",
        "",
        "## Per model type",
        "",
        table(["model type", "kind", "built", "roles", "LoRA", *_columns(rows), "reason (failure or no parity)"],
              [[r["model_type"], r.get("kind", "?"), "excluded" if r.get("excluded") else ("yes" if r.get("built") else "NO"),
                r.get("roles", "") or "-", _lora_cell(r), *(_cell(r, k) for k in _columns(rows)),
                _reason(r, _columns(rows)).replace("|", "/")] for r in rows]),
        "",
    ]
    return "\n".join(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=12, help="model types per child interpreter (default 12)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per model type (default 120)")
    parser.add_argument("--only", help="comma-separated model types (default: every text model type)")
    parser.add_argument("--no-doc", action="store_true", help="print the table; write neither docs/coverage.md nor benchmarks/coverage.json")
    parser.add_argument("--merge", action="store_true",
                        help="rerun only --only's model types and keep the other rows of benchmarks/coverage.json")
    args = parser.parse_args()
    if args.child:
        run_children(args.child.split(","), args.timeout)
        return
    types = args.only.split(",") if args.only else text_model_types()
    start = time.perf_counter()
    rows: list[dict] = []
    chunks = [types[i:i + args.chunk] for i in range(0, len(types), args.chunk)]
    with ThreadPoolExecutor(args.jobs) as pool:
        for chunk_rows in pool.map(lambda c: run_chunk(c, args.timeout), chunks):
            for row in chunk_rows:
                rows.append(row)
                print(f"{row['model_type']:32} built={row.get('built')} lora={row.get('lora')} "
                      + " ".join(f"{k}={row.get(k)}" for k in HEADS) + f" {row.get('seconds')}s {_reason(row)[:120]}", flush=True)
    elapsed = time.perf_counter() - start
    if args.merge:
        saved = json.loads((ROOT / "benchmarks" / "coverage.json").read_text())
        fresh = {r["model_type"]: r for r in rows}
        rows = [fresh.pop(r["model_type"], r) for r in saved] + list(fresh.values())
        elapsed = sum(r.get("seconds", 0) for r in rows) / max(args.jobs, 1)
    if not args.no_doc:  # the rows first: a rendering error must not lose a long run
        (ROOT / "benchmarks" / "coverage.json").write_text(json.dumps(rows, indent=1))
    text = render(rows, elapsed)
    if args.no_doc:  # a look only: the published rows and table stay as they are
        print(text)
    else:
        DOC.write_text(text)
        print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
