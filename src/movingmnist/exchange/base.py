"""What every exporter shares: the :class:`Exporter` base class, its options, and the registry of formats.

An exporter is a small context-managed class: it is made on an empty staging directory, receives the chosen
sequences a Batch at a time through :meth:`Exporter.write`, and finishes its files in :meth:`Exporter.close`
(called only when every batch was written). The conversion of a Batch into records is done by pure functions in
the format's module; the class only writes them. Formats are looked up by name and their modules imported on first
use, so that optional dependencies (``datasets``) are imported only by the exporter that needs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..batch import Batch
from ..errors import ExportError, did_you_mean, shown

#: Format name -> "module:class" of its exporter, in the order the docs list them.
FORMATS: dict[str, str] = {
    "mot": "movingmnist.exchange.mot:MotExporter",
    "coco-vis": "movingmnist.exchange.coco_vis:CocoVisExporter",
    "coco-det": "movingmnist.exchange.coco_det:CocoDetExporter",
    "hf": "movingmnist.exchange.hf:HfExporter",
    "webdataset": "movingmnist.exchange.wds:WebDatasetExporter",
}


@dataclass(frozen=True)
class Option:
    """A format option: its default, what is allowed (for messages) and the check of a value."""

    default: Any
    allowed: str
    check: Callable[[Any], bool]


def positive_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def boolean(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


IMAGES = Option(True, "True or False (write the frames as PNG files)", boolean)
SHARD_SIZE = Option(1000, "an integer >= 1 (sequences per shard)", positive_int)


@dataclass
class Job:
    """What an exporter is told about the export: per-sequence shapes, the names of the classes, how many
    sequences will come, and the provenance recorded with the files.

    Attributes:
        t, c, h, w, k: frames, channels, height, width and object slots of every sequence.
        num: number of sequences that :meth:`Exporter.write` will receive in all.
        arrays: names of the arrays every batch holds.
        class_names: name of each class id (``"0"`` .. ``"9"`` for digits).
        provenance: JSON-able dict (source dataset, spec, seed, options, version) stored with the export.
    """

    t: int
    c: int
    h: int
    w: int
    k: int
    num: int
    arrays: tuple[str, ...]
    class_names: list[str]
    provenance: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def sequence_name(index: int) -> str:
        """Folder / video name of sequence ``index``: ``seq-000017`` (6 digits at least)."""
        return f"seq-{int(index):06d}"


class Exporter:
    """Base class of the exporters. Subclasses set :attr:`name`, :attr:`options`, :meth:`required` and implement
    :meth:`write` and :meth:`finish`."""

    name: ClassVar[str] = ""
    #: Option name -> :class:`Option`.
    options: ClassVar[dict[str, Option]] = {}

    def __init__(self, root: str, job: Job, **options: Any) -> None:
        self.root = root
        self.job = job
        self.opts = options

    @classmethod
    def prepare(cls) -> None:
        """Import the optional dependencies of the format (MissingDependencyError naming the extra if one is
        missing), before anything is read or written."""

    @classmethod
    def required(cls, options: dict[str, Any]) -> tuple[str, ...]:
        """Arrays this format needs with these options (frames are always there)."""
        return ()

    def write(self, batch: Batch) -> None:
        """Add the sequences of ``batch`` (in export order)."""
        raise NotImplementedError

    def finish(self) -> None:
        """Complete the files once every sequence is written."""

    def __enter__(self) -> Exporter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.finish()


def exporter_class(to: str) -> type[Exporter]:
    """The exporter of format ``to``; ExportError naming the formats if there is none."""
    if not isinstance(to, str) or to not in FORMATS:
        raise ExportError("to", to, "one of " + ", ".join(repr(f) for f in FORMATS) + did_you_mean(str(to), FORMATS))
    module, _, name = FORMATS[to].partition(":")
    return getattr(importlib.import_module(module), name)


def resolve_options(cls: type[Exporter], given: dict[str, Any]) -> dict[str, Any]:
    """Every option of ``cls`` with its value (given or default); ExportError for an unknown option or a value
    that is not allowed."""
    for key, value in given.items():
        if key not in cls.options:
            known = ", ".join(cls.options) or "(none)"
            raise ExportError(
                key, value, f"an option of another format; {cls.name} takes: {known}",
                message=f"{key}={shown(value)} is not an option of the {cls.name} format"
                f"{did_you_mean(key, cls.options)}; its options: {known}",
            )
        option = cls.options[key]
        if not option.check(value):
            raise ExportError(key, value, option.allowed)
    values = {key: given.get(key, option.default) for key, option in cls.options.items()}
    return {key: v.item() if isinstance(v, np.generic) else v for key, v in values.items()}  # JSON-able


#: The spec switch that stores each optional array.
SWITCHES = {
    "semantic": "annotations.semantic", "instance": "annotations.instance", "boxes": "annotations.boxes",
    "amodal_boxes": "annotations.amodal_boxes", "visibility": "annotations.visibility",
    "centers": "annotations.tracks", "amodal_masks": "annotations.amodal_masks", "flow": "annotations.flow",
}


def check_arrays(cls: type[Exporter], options: dict[str, Any], arrays: tuple[str, ...]) -> None:
    """ExportError naming the arrays the format needs that the data does not hold, and how to get them."""
    missing = [name for name in cls.required(options) if name not in arrays]
    if not missing:
        return
    switches = [f"{SWITCHES[n]}=true" for n in missing if n in SWITCHES]
    if len(switches) == len(missing):
        fix = f"generate it with {', '.join(switches)}"
    else:  # labels, present: every dataset holds them but a classic .npy (frames only)
        fix = "export a dataset that stores the annotations (.zarr, .h5 or .npy-dir; a classic .npy holds frames only)"
    raise ExportError(
        "to", cls.name, "a format whose arrays the data holds",
        message=f"to={cls.name!r} needs the arrays {', '.join(missing)}, which the data does not hold "
        f"(it holds {', '.join(arrays)}); {fix}",
    )
