"""movingmnist: Moving-MNIST-style synthetic video datasets with complete ground truth.

Sequence i of a dataset is a pure function of (spec, seed, i)::

    import movingmnist as mm
    batch = mm.generate("srivastava", num=8, seed=0, source="glyphs")
    batch.frames.shape  # (8, 20, 1, 64, 64)
"""

from ._version import __version__
from .batch import SCHEMA, Batch
from .errors import (
    DatasetError,
    DownloadError,
    ExportError,
    MissingDependencyError,
    MovingMNISTError,
    SourceError,
    SpecError,
)
from .events import EVENT_KINDS, WALLS, events_of
from .exchange import export
from .generator import Generator, generate
from .io.reader import Dataset
from .io.reader import open_dataset as open
from .io.verify import verify_dataset
from .presets import get_preset, list_presets
from .runner import write_dataset
from .sources import GlyphBank, available_sources, load_source
from .spec import Spec

__all__ = [
    "EVENT_KINDS",
    "SCHEMA",
    "WALLS",
    "Batch",
    "Dataset",
    "DatasetError",
    "DownloadError",
    "ExportError",
    "Generator",
    "GlyphBank",
    "MissingDependencyError",
    "MovingMNISTError",
    "SourceError",
    "Spec",
    "SpecError",
    "__version__",
    "available_sources",
    "events_of",
    "export",
    "generate",
    "get_preset",
    "list_presets",
    "load_source",
    "open",
    "verify_dataset",
    "write_dataset",
]


def __getattr__(name: str):
    # ``mm.viz`` is imported on first use, so that ``import movingmnist`` stays fast.
    if name == "viz":
        import importlib

        return importlib.import_module(".viz", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
