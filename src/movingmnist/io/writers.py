"""Looking writers up by format name or by path suffix.

The built-in writers (zarr, hdf5, npy, classic-npy) are imported by the first lookup, so that ``import movingmnist``
does not load them; importing a writer's module registers it (:func:`movingmnist.io.registry.register_writer`).
"""

from __future__ import annotations

from ..errors import SpecError
from .base import Writer
from .registry import WRITERS


def _load_builtin_writers() -> None:
    import importlib

    # registration side effect, in this order (zarr, the default, first) whatever was imported before
    for module in ("zarr_writer", "hdf5_writer", "npy_writer"):
        importlib.import_module(f".{module}", __package__)


def registered_writers() -> dict[str, type[Writer]]:
    """Every registered writer by format name, the built-ins included."""
    _load_builtin_writers()
    return WRITERS


def writer_names() -> list[str]:
    return list(registered_writers())


def get_writer(name: str) -> type[Writer]:
    """The writer class registered as ``name`` (``zarr``, ``hdf5``, ``npy``, ``classic-npy``)."""
    writers = registered_writers()
    if name not in writers:
        raise SpecError("format", name, f"one of {', '.join(writers)}")
    return writers[name]


def suffix_format(path: str) -> str | None:
    """The format that the suffix of ``path`` names (.zarr, .h5/.hdf5, .npy-dir, .npy), or None."""
    lowered = str(path).rstrip("/").lower()
    for name, cls in registered_writers().items():
        if any(lowered.endswith(s) for s in cls.suffixes):
            return name
    return None


def infer_format(path: str) -> str:
    """The format a new dataset at ``path`` gets from its suffix: .zarr, .h5/.hdf5, .npy-dir, .npy; else zarr."""
    return suffix_format(path) or "zarr"
