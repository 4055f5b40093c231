"""``convert(src, dst)``: an archit checkpoint to the Hugging Face task class its head has the layout of, or a Hugging
Face task checkpoint to archit (the backbone of its ``model_type``, the head of its architecture); ``archit convert``
prints the :class:`ConvertReport` this returns."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from ..errors import ArchitError, ConfigError
from ..registry.host import PluginHost, get_host
from .folder import CheckpointFolder, open_checkpoint
from .inspection import backbone_for, head_for
from .load import LoadingReport
from .saving import identity_of, save_folder

#: Files beside the weights that describe the inputs (tokenizer, processor); :func:`convert` copies them.
INPUT_FILES = ("tokenizer*", "special_tokens_map.json", "added_tokens.json", "vocab.*", "merges.txt", "*.model",
               "preprocessor_config.json", "processor_config.json", "chat_template.*")


@attrs.frozen
class ConvertReport:
    """What :func:`convert` did: the source's format (``"archit"`` or ``"transformers"``), the archit backbone and
    head, the Hugging Face class on the other side, the loading report of an import, and the input files copied."""

    source: str
    destination: str
    source_format: str
    backbone: str
    head: str
    hf_class: str | None
    loading: LoadingReport | None = None
    copied: tuple[str, ...] = ()


def check_archit_source(folder: CheckpointFolder, given: Sequence[str]) -> None:
    """Refuse the options in ``given`` (their names as the caller spells them) for an archit source, which converts
    to its own head's Hugging Face class."""
    if folder.is_archit and given:
        raise ConfigError(
            f"{', '.join(given)} apply to Hugging Face sources; {str(folder)!r} is an archit checkpoint, which converts "
            "to the Hugging Face class its head is equivalent to"
        )


def convert(
    src: str | Path | CheckpointFolder,
    dst: str | Path,
    *,
    backbone: str | None = None,
    head: str | None = None,
    head_config: Mapping[str, Any] | None = None,
    host: PluginHost | None = None,
) -> ConvertReport:
    """Convert the checkpoint ``src`` into the new (or empty) folder ``dst`` and copy its tokenizer files.

    An archit source becomes the Hugging Face task model its head has the layout of (:func:`archit_core.to_transformers`).
    A Hugging Face source becomes an archit checkpoint, loaded strictly: ``backbone``, ``head`` and ``head_config``
    override the backbone of its ``model_type`` and the head of its architecture; its label names are kept.
    """
    from ..model.build import build, load
    from .export import to_transformers

    host = host or get_host()
    folder = open_checkpoint(src)
    out = Path(dst)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ArchitError(f"{str(dst)!r} exists and is not an empty folder; choose a new folder for the converted checkpoint")
    given = [f"{name}=" for name, value in (("backbone", backbone), ("head", head), ("head_config", head_config)) if value]
    check_archit_source(folder, given)
    copied: list[str] = []

    def write(saved: Any) -> None:  # the converted model and the source's input files, swapped in together
        def into(tmp: Path) -> None:
            saved.save_pretrained(tmp)
            copied.extend(_copy_input_files(folder.path, tmp))

        save_folder(out, into, identity=identity_of({**saved.config.to_dict(), "architectures": [type(saved).__name__]}))

    if folder.is_archit:
        model = load(folder, host=host)
        hf_model = to_transformers(model)
        write(hf_model)
        report = ConvertReport(str(folder), str(dst), "archit", model.config.backbone, model.config.head, type(hf_model).__name__)
    else:
        config = folder.config
        model_type = config.get("model_type")
        architecture = (config.get("architectures") or [None])[0]
        backbone = backbone or backbone_for(model_type, host).name
        head = head or head_for(host.backbone(backbone), model_type, architecture, host).name
        model = build(backbone, head, checkpoint=folder, head_config=head_config, strict=True, host=host)
        labels = {int(k): v for k, v in (config.get("id2label") or {}).items()}
        if labels and len(labels) == model.config.num_labels:  # keep the checkpoint's label names
            model.config.id2label, model.config.label2id = labels, {v: k for k, v in labels.items()}
        write(model)
        report = ConvertReport(str(folder), str(dst), "transformers", model.config.backbone, model.config.head,
                               architecture or model_type, loading=model.loading_report)
    return attrs.evolve(report, copied=tuple(copied))


def _copy_input_files(src: Path, dst: Path) -> list[str]:
    copied = []
    for pattern in INPUT_FILES:
        for file in sorted(src.glob(pattern)):
            if file.is_file() and not (dst / file.name).exists():
                shutil.copy2(file, dst / file.name)
                copied.append(file.name)
    return copied
