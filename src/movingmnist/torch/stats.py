"""Normalisation: exact pixel statistics of a dataset and a transform that applies them.

The origin project (torch_moving_mnist) normalised with MNIST's digit statistics (0.131, 0.308) scaled by
``(28 / img_size)**2 * max(num_digits)``, a hand estimate that ignores overlap, motion and the number of digits
actually drawn. :func:`dataset_stats` measures the real values instead: the mean and the (population) standard
deviation of ``frames / 255`` over every pixel of every frame of sequences ``start .. start + num_samples - 1``
of the dataset (spec, seed), computed exactly from integer sums.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from ..errors import SpecError
from ..generator import SourceLike
from ..spec import Spec
from ._render import build_spec, cached_generator


@dataclass(frozen=True)
class DatasetStats:
    """Mean and standard deviation of ``frames / 255`` over a sample of a dataset, and what the sample was.

    ``std`` is the population standard deviation (divide by the number of pixels). ``num_pixels`` counts every
    pixel of every frame and channel of the ``num_sequences`` sequences starting at ``start``.
    """

    mean: float
    std: float
    num_sequences: int
    num_pixels: int
    seed: int
    start: int
    fingerprint: str

    def normalize(self, dtype: torch.dtype = torch.float32) -> Normalize:
        """A :class:`Normalize` transform with these statistics."""
        return Normalize(self.mean, self.std, dtype=dtype)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dataset_stats(
    spec: Spec | str,
    seed: int = 0,
    num_samples: int = 1024,
    *,
    source: SourceLike | None = None,
    split: str | None = None,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    start: int = 0,
    device: torch.device | str | None = "cpu",
    batch_size: int = 512,
) -> DatasetStats:
    """Exact mean and standard deviation of ``frames / 255`` over sequences ``start .. start + num_samples - 1``.

    A 256-bin histogram of the pixel values is accumulated over the sample, then the moments are computed with
    exact rational arithmetic, so the result depends only on the sample, not on batching or device.

    >>> import numpy as np
    >>> from movingmnist.torch import dataset_stats
    >>> images = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    >>> s = dataset_stats("srivastava", seed=0, num_samples=64, source=(images, np.arange(50) % 10))
    >>> 0 < s.mean < 1 and 0 < s.std < 1, s.num_pixels
    (True, 5242880)
    """
    if num_samples < 1:
        raise SpecError("num_samples", num_samples, "an integer >= 1")
    if batch_size < 1:
        raise SpecError("batch_size", batch_size, "an integer >= 1")
    resolved = build_spec(spec, source=source, split=split, overrides=overrides, returns="frames")
    dev = torch.device(device) if device is not None else None
    gen = cached_generator(resolved, seed, source, dev or torch.device("cpu"))
    histogram = torch.zeros(256, dtype=torch.int64, device=gen.device)
    for lo in range(start, start + num_samples, batch_size):
        hi = min(start + num_samples, lo + batch_size)
        frames = gen.render(lo, hi - lo)["frames"]
        histogram += torch.bincount(frames.reshape(-1).to(torch.int64), minlength=256)
    counts = [int(c) for c in histogram.cpu().tolist()]
    n = sum(counts)
    s1 = sum(v * c for v, c in enumerate(counts))
    s2 = sum(v * v * c for v, c in enumerate(counts))
    mean = Fraction(s1, 255 * n)
    var = Fraction(n * s2 - s1 * s1, (255 * n) ** 2)
    return DatasetStats(
        mean=float(mean),
        std=math.sqrt(var),
        num_sequences=int(num_samples),
        num_pixels=n,
        seed=int(seed),
        start=int(start),
        fingerprint=resolved.fingerprint,
    )


class Normalize:
    """``(frames / 255 - mean) / std`` as a floating tensor.

    Works on uint8 frames (divided by 255 first), on floating frames already in [0, 1], and on an item dict
    (its ``frames`` entry is replaced). Picklable, so it can be a dataset ``transform`` with worker processes.

    >>> import torch
    >>> norm = Normalize(0.5, 0.25)
    >>> norm(torch.tensor([0, 255], dtype=torch.uint8)).tolist()
    [-2.0, 2.0]
    >>> norm.inverse(norm(torch.tensor([0.25]))).tolist()
    [0.25]
    """

    def __init__(self, mean: float, std: float, dtype: torch.dtype = torch.float32) -> None:
        if not (math.isfinite(mean) and math.isfinite(std)) or std <= 0:
            raise SpecError("std", std, "a finite mean and a finite std > 0")
        if not dtype.is_floating_point:
            raise SpecError("dtype", dtype, "a floating dtype")
        self.mean = float(mean)
        self.std = float(std)
        self.dtype = dtype

    @classmethod
    def from_stats(cls, stats: DatasetStats, dtype: torch.dtype = torch.float32) -> Normalize:
        return cls(stats.mean, stats.std, dtype=dtype)

    def _frames(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dtype == torch.uint8:
            x = frames.to(self.dtype).div_(255.0)
        elif frames.dtype.is_floating_point:
            x = frames.to(self.dtype, copy=True)
        else:
            raise SpecError("frames.dtype", frames.dtype, "uint8 or a floating dtype")
        return x.sub_(self.mean).div_(self.std)

    def __call__(self, item: Any) -> Any:
        if isinstance(item, dict):
            return {**item, "frames": self._frames(item["frames"])}
        if isinstance(item, np.ndarray):
            item = torch.from_numpy(item)
        return self._frames(item)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """Back to ``frames / 255`` (floating)."""
        return x * self.std + self.mean

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean!r}, std={self.std!r}, dtype={self.dtype})"
