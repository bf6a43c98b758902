"""The glyph bank: the images and labels of one split of a source, loaded once."""

from __future__ import annotations

import functools
import hashlib
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import SourceError, shown

SPLITS = ("train", "val", "test")


def content_checksum(images: np.ndarray, labels: np.ndarray) -> str:
    """sha256 over the shapes, the image bytes and the label bytes (labels as little-endian int64)."""
    digest = hashlib.sha256()
    digest.update(repr((tuple(images.shape), str(images.dtype))).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class GlyphBank:
    """Glyph images and class labels of one split of one source.

    Attributes:
        name: source name as written in a spec (``"mnist"``, ``"glyphs"``, ``"idx:/data/emnist"``,
            ``"array"``).
        split: ``"train"``, ``"val"`` or ``"test"``.
        images: ``(M, h, w)`` uint8, C-contiguous, read-only.
        labels: ``(M,)`` int16 class ids in ``[0, len(class_names))``.
        class_names: name of each class id.
        checksum: sha256 of the content (see :func:`content_checksum`).
    """

    name: str
    split: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    checksum: str = field(default="")

    def __post_init__(self) -> None:
        images = np.ascontiguousarray(self.images)
        labels = np.ascontiguousarray(self.labels).astype(np.int16, copy=False)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise SourceError(
                f"source {self.name!r}: images must be a (M, h, w) uint8 array, "
                f"got {images.dtype} {images.shape}"
            )
        if labels.shape != (images.shape[0],):
            raise SourceError(
                f"source {self.name!r}: labels must have shape ({images.shape[0]},), got {labels.shape}"
            )
        if images.shape[0] == 0:
            raise SourceError(f"source {self.name!r} split {self.split!r} has no images")
        if labels.size and (labels.min() < 0 or labels.max() >= max(len(self.class_names), 1)):
            raise SourceError(
                f"source {self.name!r}: labels must lie in [0, {len(self.class_names)}), "
                f"got [{labels.min()}, {labels.max()}]"
            )
        images.setflags(write=False)
        labels.setflags(write=False)
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        if not self.checksum:
            object.__setattr__(self, "checksum", content_checksum(images, labels))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        h, w = self.images.shape[1:]
        return (
            f"GlyphBank(name={self.name!r}, split={self.split!r}, n={len(self)}, size={h}x{w}, "
            f"classes={len(self.class_names)}, checksum={self.checksum[:12]}...)"
        )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def glyph_shape(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])

    def subset(self, start: int, stop: int, split: str) -> GlyphBank:
        """Rows [start, stop) as a bank of another split (used to carve val from train)."""
        return GlyphBank(self.name, split, self.images[start:stop], self.labels[start:stop], self.class_names)


def carve_split(train: GlyphBank, split: str, val_size: int | None) -> GlyphBank:
    """Carve ``val`` deterministically from the end of ``train``.

    ``val_size=None`` takes one sixth of the training images (10,000 of MNIST's 60,000, the usual split);
    ``0`` means no validation split: ``train`` is the whole training set.
    """
    n = len(train)
    integer = isinstance(val_size, numbers.Integral) and not isinstance(val_size, bool)
    size = n // 6 if val_size is None else int(val_size) if integer else -1
    if size < 0 or size >= n:
        raise SourceError(
            f"source.val_size={shown(val_size)} is not allowed: it must be an integer and must lie in [0, {n}) for "
            f"source {train.name!r} whose training split has {n} images"
        )
    if split == "train":
        return train if size == 0 else train.subset(0, n - size, "train")
    if split == "val":
        if size == 0:
            raise SourceError(
                "source.split='val' is empty because source.val_size=0; set source.val_size to a positive "
                "number of images carved from the end of the training split "
                "(e.g. --set source.val_size=10000)"
            )
        return train.subset(n - size, n, "val")
    raise SourceError(f"source.split={split!r} is not allowed: choose one of {', '.join(SPLITS)}")


@functools.lru_cache(maxsize=4)
def _rendered(render: Callable[[str, np.ndarray], tuple[np.ndarray, np.ndarray]], split: str, size: int):
    images, labels = render(split, np.arange(size))
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def procedural_bank(
    name: str,
    render: Callable[[str, np.ndarray], tuple[np.ndarray, np.ndarray]],
    sizes: dict[str, int],
    class_names: tuple[str, ...],
    split: str,
    val_size: int | None = None,
) -> GlyphBank:
    """One split of a procedural source whose glyph ``i`` of ``"train"`` or ``"test"`` is ``render(split, [i])``:
    the whole split is rendered once per process (train and val are both views of train's), val carved from the end
    of train."""
    file_split = "test" if split == "test" else "train"
    images, labels = _rendered(render, file_split, sizes[file_split])
    bank = GlyphBank(name, file_split, images, labels, class_names)
    return bank if split == "test" else carve_split(bank, split, val_size)
