"""The API of the segmentation Moving MNIST notebook (``generate_moving_mnist`` and its save layout), rendered by
the ``segmentation`` preset.

Migration: replace the notebook's ``generate_moving_mnist`` cell with
``from movingmnist.compat.segmentation import generate_moving_mnist, save``; the call and its arrays keep their
shapes and dtypes (docs/appearance.md lists the notebook's defects that the preset fixes instead of copying:
no seed, transposed digits, wrapping noise, ...). Differences: a ``seed`` (0 is a seed) and ``source``; ``split``
is exactly ``train``, ``val`` or ``test`` (val = the last 10,000 training images, as the notebook, also for
``(images, labels)`` arrays of more than 10,000 images); ``save``
joins ``path`` and the file name as paths (the notebook concatenated strings, so it needed a trailing slash).
For datasets larger than memory use the library's writers instead (``movingmnist generate``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SpecError, require
from ..generator import generate
from ..presets import get_preset

__all__ = ["generate_moving_mnist", "save"]

PRESET = "segmentation"
#: The notebook keeps the last 10,000 training images for val, whatever the size of the training set.
VAL_IMAGES = 10_000


def generate_moving_mnist(
    split: str = "train",
    shape: tuple[int, int] = (64, 64),
    num_frames: int = 30,
    num_videos: int = 100,
    ignore_label: int = 255,
    min_nums_per_image: int = 2,
    max_nums_per_image: int = 2,
    rotatehint: bool = False,
    *,
    source: Any = "mnist",
    seed: int = 0,
    start: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Videos, masks and labels in the notebook's layout.

    Returns:
        ``images`` ``(num_videos, num_frames, 1, H, W)`` uint8; ``masks`` ``(num_videos, num_frames, 1, H, W)``
        uint8 (class of the topmost digit, ``ignore_label`` elsewhere); ``labels``
        ``(num_videos, num_frames, max_nums_per_image)`` uint8 (the digits' classes, repeated per frame, padded
        with ``ignore_label``). ``(H, W) = shape``.
    """
    if not 1 <= min_nums_per_image <= max_nums_per_image:
        raise SpecError(
            "min_nums_per_image/max_nums_per_image",
            (min_nums_per_image, max_nums_per_image),
            "1 <= min_nums_per_image <= max_nums_per_image",
        )
    height, width = (int(v) for v in shape)
    base = get_preset(PRESET).spec()
    overrides: dict[str, Any] = {
        "canvas.height": height,
        "canvas.width": width,
        "frames": int(num_frames),
        "objects.count": f"{int(min_nums_per_image)}..{int(max_nums_per_image)}",
        "annotations.ignore_label": int(ignore_label),
        "annotations.semantic": True,
        "source.split": split,
        "appearance.rotation.hint": bool(rotatehint),
    }
    if isinstance(source, (tuple, list)) and len(source) == 2 and len(source[0]) > VAL_IMAGES:
        overrides["source.val_size"] = VAL_IMAGES  # the notebook's val: the last 10,000, not the last sixth
    spec = base.replace(overrides)
    batch = generate(spec, num=int(num_videos), seed=seed, source=source, start=start)
    images = batch.frames
    masks = batch.semantic[:, :, None]
    labels = np.where(batch.labels < 0, ignore_label, batch.labels).astype(np.uint8)
    labels = np.ascontiguousarray(np.broadcast_to(labels[:, None, :], (len(batch), spec.frames, labels.shape[1])))
    return images, masks, labels


def save(
    path: str | os.PathLike[str],
    split: str,
    images: np.ndarray,
    masks: np.ndarray,
    labels: np.ndarray,
    filetype: str = "h5",
) -> list[Path]:
    """Write the arrays as the notebook did: ``h5`` -> ``{path}/{split}.h5`` with datasets ``images``, ``masks``,
    ``labels``; ``npy`` -> ``{path}/{split}_images.npy``, ``_masks.npy``, ``_labels.npy``. Creates ``path``.
    Returns the files written."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    if filetype == "npy":
        written = []
        for name, array in (("images", images), ("masks", masks), ("labels", labels)):
            target = folder / f"{split}_{name}.npy"
            np.save(target, array)
            written.append(target)
        return written
    if filetype == "h5":
        h5py = require("h5py", "hdf5", "saving the segmentation layout as HDF5")
        target = folder / f"{split}.h5"
        with h5py.File(target, "w") as f:
            f.create_dataset("images", data=images)
            f.create_dataset("masks", data=masks)
            f.create_dataset("labels", data=labels)
        return [target]
    raise SpecError("filetype", filetype, "'h5' or 'npy'")
