"""Shared helpers of the dataset I/O tests: a tiny on-disk glyph source and array hashing."""

from __future__ import annotations

import hashlib
import os
import struct
import sys
from pathlib import Path

import numpy as np

import movingmnist as mm

SRC = str(Path(__file__).resolve().parents[1] / "src")
#: Small, quick sequences: 8 frames of 40x40 with two 28x28 glyphs and every annotation.
SMALL = ["frames=8", "canvas.height=40", "canvas.width=40"]


def glyph_arrays(n: int = 60, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``n`` blobby 28x28 uint8 glyphs and labels 0..9 (deterministic)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    images = np.zeros((n, 28, 28))
    for _ in range(4):
        cy, cx = rng.uniform(6, 22, (2, n, 1, 1))
        r = rng.uniform(2, 5, (n, 1, 1))
        images = np.maximum(images, np.clip(1.5 - np.hypot(yy - cy, xx - cx) / r, 0, 1))
    return (images * 255).astype(np.uint8), (np.arange(n) % 10).astype(np.uint8)


def write_idx_source(directory: str | os.PathLike[str]) -> str:
    """Write train (60) and test (30) IDX files to ``directory``; return the source name ``idx:DIR``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for stem, n, seed in (("train", 60, 1), ("t10k", 30, 2)):
        images, labels = glyph_arrays(n, seed)
        (directory / f"{stem}-images-idx3-ubyte").write_bytes(
            bytes([0, 0, 8, 3]) + struct.pack(">3i", n, 28, 28) + images.tobytes()
        )
        (directory / f"{stem}-labels-idx1-ubyte").write_bytes(
            bytes([0, 0, 8, 1]) + struct.pack(">i", n) + labels.tobytes()
        )
    return f"idx:{directory}"


def small_spec(*more: str) -> mm.Spec:
    return mm.Spec.from_preset("srivastava", [*SMALL, *more])


def array_hashes(path: str | os.PathLike[str]) -> dict[str, str]:
    """sha256 of every stored array of the dataset at ``path`` (read through ``mm.open``)."""
    with mm.open(path) as ds:
        return {name: hashlib.sha256(np.ascontiguousarray(a[:]).tobytes()).hexdigest() for name, a in ds.arrays.items()}


def batch_hashes(batch: mm.Batch) -> dict[str, str]:
    return {name: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() for name, a in batch.arrays().items()}


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("COLUMNS", None)
    return env


PYTHON = sys.executable


def undo_zarr_chunk(path: str | os.PathLike[str], chunk: int) -> None:
    """Make a complete zarr dataset look interrupted before ``chunk`` was written: the manifest and the metadata say
    incomplete, the chunk is not done and its frames shard is gone."""
    import json
    import shutil

    from movingmnist.io.manifest import Manifest

    manifest = Manifest.load(f"{path}/manifest.json")
    manifest.done -= {chunk}
    manifest.complete = False
    manifest.save()
    with open(f"{path}/zarr.json") as f:
        meta = json.load(f)
    meta["attributes"]["movingmnist"]["complete"] = False
    with open(f"{path}/zarr.json", "w") as f:
        json.dump(meta, f)
    shutil.rmtree(f"{path}/frames/c/{chunk}")
