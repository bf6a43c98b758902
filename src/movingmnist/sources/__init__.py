"""Glyph sources: where the moving objects come from.

A source name is one of ``mnist``, ``fashion-mnist``, ``kmnist`` (downloaded on first use and cached),
``glyphs`` (built-in procedural digits, no download), ``idx:PATH`` (any IDX image/label files),
``folder:PATH`` (one subfolder per class of PNG/JPEG images), or a :class:`GlyphBank` / ``(images, labels)``
pair given from Python.

The built-in digits are versioned, each version reproducible byte for byte: ``glyphs@1`` (a procedural font,
:mod:`.glyphs`), ``glyphs@2`` (a model of handwriting, :mod:`.handwriting`) and ``glyphs@3`` (the same model with
shapes fitted to MNIST's digits, :mod:`.shape_model`). Plain ``glyphs`` means the newest;
a spec is resolved to the versioned name before anything is generated (:func:`resolve_source_name`), so datasets
record the version they were made with. A dataset stored before versions existed says plain ``glyphs``, which
then meant ``glyphs@1``: :func:`stored_source_name` reads it so.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..errors import SourceError, did_you_mean, shown
from .bank import SPLITS, GlyphBank, carve_split, content_checksum

__all__ = [
    "SPLITS",
    "GlyphBank",
    "available_sources",
    "carve_split",
    "content_checksum",
    "load_source",
    "resolve_source_name",
    "source_name",
    "stored_source_name",
]

#: The versions of the built-in procedural digits; plain ``glyphs`` is the last.
GLYPH_VERSIONS = ("glyphs@1", "glyphs@2", "glyphs@3")
LATEST_GLYPHS = GLYPH_VERSIONS[-1]
#: What plain ``glyphs`` meant in a dataset's metadata written before versions existed.
LEGACY_GLYPHS = "glyphs@1"
BUILTIN_SOURCES = ("mnist", "fashion-mnist", "kmnist", "glyphs", *GLYPH_VERSIONS)
PREFIX_SOURCES = ("idx:", "folder:")


def available_sources() -> list[str]:
    """Names accepted by :func:`load_source` (prefixed forms shown with a placeholder path)."""
    return [*BUILTIN_SOURCES, "idx:PATH", "folder:PATH"]


def resolve_source_name(name: str) -> str:
    """The versioned name of the built-in digits (``glyphs`` -> the newest, ``glyphs@N`` checked); other names
    unchanged.

    Raises:
        SourceError: for a ``glyphs@`` version that does not exist, naming those that do.
    """
    if name == "glyphs":
        return LATEST_GLYPHS
    if name.startswith("glyphs@") and name not in GLYPH_VERSIONS:
        raise SourceError(
            f"source={shown(name)} is not allowed: choose glyphs (the newest, {LATEST_GLYPHS}) or one of "
            f"{', '.join(GLYPH_VERSIONS)}"
        )
    return name


def stored_source_name(name: str) -> str:
    """:func:`resolve_source_name` for a name read from a stored dataset: plain ``glyphs`` was written before the
    digits were versioned, so it means ``glyphs@1``."""
    return LEGACY_GLYPHS if name == "glyphs" else resolve_source_name(name)


def source_name(source: object) -> str:
    """The name a spec records for ``source`` (a name string, a GlyphBank, or an (images, labels) pair)."""
    if isinstance(source, str):
        return source
    if isinstance(source, GlyphBank):
        return source.name
    return "array"


def load_source(
    source: str | GlyphBank | tuple[np.ndarray, np.ndarray],
    split: str = "train",
    *,
    val_size: int | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
) -> GlyphBank:
    """Load one split of a source as a :class:`GlyphBank` (cached in memory after the first call).

    Args:
        source: a source name (see the module docstring), a GlyphBank, or an ``(images (M, h, w) uint8,
            labels (M,) int)`` pair; arrays are used for every split, with ``val`` carved from them.
        split: ``train``, ``val`` (carved from the end of train) or ``test``.
        val_size: images carved from the end of train for ``val``; ``None`` = one sixth, ``0`` = none.
        cache_dir: where downloads are cached; default ``$MOVINGMNIST_CACHE`` or the user cache dir.
        download: download missing files (else raise an error saying where to put them).
    """
    if split not in SPLITS:
        raise SourceError(f"source.split={split!r} is not allowed: choose one of {', '.join(SPLITS)}")
    if isinstance(source, GlyphBank):
        if source.split == split or split == "test":
            return source
        return carve_split(source, split, val_size)
    if isinstance(source, tuple) and len(source) == 2:
        images, labels = (np.asarray(a) for a in source)
        n_classes = int(labels.max()) + 1 if labels.size else 0
        bank = GlyphBank("array", "train", images, labels, tuple(str(i) for i in range(n_classes)))
        return bank if split == "test" else carve_split(bank, split, val_size)
    if not isinstance(source, str):
        raise SourceError(
            f"source={type(source).__name__} is not allowed: give a source name "
            f"({', '.join(available_sources())}), a GlyphBank, or an (images, labels) pair of arrays"
        )
    cache = str(Path(cache_dir).expanduser().resolve()) if cache_dir is not None else None
    return _load_named(source, split, val_size, cache, download)


@functools.lru_cache(maxsize=16)
def _load_named(
    name: str, split: str, val_size: int | None, cache_dir: str | None, download: bool
) -> GlyphBank:
    name = resolve_source_name(name)
    if name == "glyphs@1":
        from .glyphs import load_glyphs

        return load_glyphs(split, val_size=val_size)
    if name in ("glyphs@2", "glyphs@3"):
        from .handwriting import load_handwriting

        return load_handwriting(split, val_size=val_size, version=int(name[-1]))
    from .mnist import FAMILIES, load_mnist_family  # cheap: pooch itself is imported only to download

    if name in FAMILIES:
        return load_mnist_family(name, split, val_size=val_size, cache_dir=cache_dir, download=download)
    if name.startswith("idx:"):
        from .idx import load_idx_source

        return load_idx_source(name, split, val_size=val_size)
    if name.startswith("folder:"):
        from .folder import load_folder_source

        return load_folder_source(name, split, val_size=val_size)
    hint = did_you_mean(name, [*BUILTIN_SOURCES, *PREFIX_SOURCES])
    raise SourceError(f"source={shown(name)} is not allowed: choose one of {', '.join(available_sources())}{hint}")
