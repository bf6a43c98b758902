"""The API of tcapelle/torch_moving_mnist (``MovingMNIST``), as its README documents it (the ``affine@2`` preset).

Migration: replace ``from torch_moving_mnist.data import MovingMNIST`` with
``from movingmnist.compat.torch_moving_mnist import MovingMNIST`` (and ``show_images`` likewise); calls from
its README run unchanged and behave as there: the defaults are that code's (README ranges, ``num_digits=[3]``,
``num_frames=4``, ``normalize=True``), ``num_digits`` is a list drawn with ``random.choice`` semantics (``[2, 2, 3]``
gives 2 with probability 2/3), and ``normalize=True`` prints ``New computed stats for MovingMNIST: ...`` and uses
those hand-scaled MNIST statistics. What differs, on purpose (docs/appearance.md lists the defects fixed):

- ``ds[i]`` is sequence ``i`` of a seeded dataset (the original ignored the index and drew fresh random digits
  on every call, so ``torch.stack([ds[0] for _ in range(bs)])`` now repeats one sequence: use
  ``ds.get_batch(bs)``, which walks through the dataset, or distinct indices); ``len(ds)`` is ``num``.
- ``normalize_stats="exact"`` normalises with the exact statistics of this dataset
  (:func:`movingmnist.torch.dataset_stats`) instead of MNIST's scaled by hand.
- ``preset="affine-compound"`` gives the later code's compounding rule (pass its smaller ``affine_params``);
  ``preset="affine@1"`` the layer's earlier behaviour.
- no torchvision: digits come from movingmnist's sources (``source="mnist"`` by default; a torchvision
  download under ``path/MNIST/raw`` is reused when present; an MNIST dataset object may be passed as ``path``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..errors import SpecError, require
from ..presets import get_preset

torch = require("torch", "torch", "movingmnist.compat.torch_moving_mnist")

from ..torch import dataset_stats, get_batch  # noqa: E402
from ..torch.stats import Normalize  # noqa: E402

__all__ = ["MovingMNIST", "affine_params", "mnist_stats", "padding", "show_image", "show_images"]

#: The preset this layer renders by default: the code torch_moving_mnist's README documents.
PRESET = "affine@2"
mnist_stats = ([0.131], [0.308])
#: The README's ranges, the default of the code it documents.
affine_params = SimpleNamespace(
    angle=(-20, 20),
    translate=((-30, 30), (-30, 30)),
    scale=(0.8, 1.3),
    shear=(-20, 20),
)


def padding(img_size: int = 64, mnist_size: int = 28) -> int:
    """Half the free range: how far the origin placed a digit from the centre, at most."""
    return (img_size - mnist_size) // 2


def _param(params: Any, name: str) -> Any:
    if isinstance(params, dict):
        if name not in params:
            raise SpecError(f"affine_params.{name}", "missing", "angle, translate, scale and shear ranges")
        return params[name]
    if not hasattr(params, name):
        raise SpecError(f"affine_params.{name}", "missing", "angle, translate, scale and shear ranges")
    return getattr(params, name)


def _pair(value: Any, name: str) -> list[float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise SpecError(f"affine_params.{name}", value, "a (low, high) pair of numbers") from None
    return [low, high]


def affine_overrides(params: Any) -> dict[str, Any]:
    """Overrides that put the origin's ``affine_params`` into the ``motion.affine`` fields of the affine preset."""
    translate = _param(params, "translate")
    try:
        tx, ty = translate
    except (TypeError, ValueError):
        raise SpecError("affine_params.translate", translate, "((x_low, x_high), (y_low, y_high))") from None
    return {
        "motion.affine.angle": _pair(_param(params, "angle"), "angle"),
        "motion.affine.scale": _pair(_param(params, "scale"), "scale"),
        "motion.affine.shear": _pair(_param(params, "shear"), "shear"),
        "motion.affine.translate": [_pair(tx, "translate[0]"), _pair(ty, "translate[1]")],
    }


def _count_overrides(num_digits: Any) -> dict[str, Any]:
    """``num_digits`` as the origin reads it (``random.choice`` of the list): a count range when the list is
    consecutive counts once each (the same distribution), else ``objects.choices``."""
    def whole(n: Any) -> bool:
        return isinstance(n, (int, np.integer)) and not isinstance(n, bool)

    if whole(num_digits):
        counts = [int(num_digits)]
    elif isinstance(num_digits, (list, tuple)) and all(whole(n) for n in num_digits):
        counts = [int(n) for n in num_digits]
    else:
        counts = []
    if not counts or min(counts) < 1 or max(counts) > 255:
        raise SpecError("num_digits", num_digits, "a list of digit counts in [1, 255] (drawn as random.choice)")
    if sorted(counts) == list(range(min(counts), max(counts) + 1)):
        return {"objects.count": f"{min(counts)}..{max(counts)}", "objects.choices": None}
    return {"objects.choices": counts}


def _source(path: Any, source: Any) -> Any:
    """The glyph source: an MNIST dataset object passed as ``path``, a torchvision download under ``path``, or
    ``source``."""
    if path is not None and not isinstance(path, (str, os.PathLike)):
        data, targets = getattr(path, "data", None), getattr(path, "targets", None)
        if data is None or targets is None:
            raise SpecError("path", type(path).__name__, "a directory or an MNIST dataset with .data and .targets")
        return (np.asarray(data, dtype=np.uint8), np.asarray(targets, dtype=np.int64))
    if source == "mnist" and path is not None:
        raw = Path(path) / "MNIST" / "raw"
        if any(raw.glob("train-images-idx3-ubyte*")) and any(raw.glob("train-labels-idx1-ubyte*")):
            return f"idx:{raw}"
    return source


class _BatchTransforms:
    """The origin's ``batch_tfms``: uint8 -> float32 in [0, 1], then ``(x - mean) / std`` when normalising."""

    def __init__(self, normalize: Normalize | None) -> None:
        self.normalize = normalize

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(torch.float32).div_(255.0) if batch.dtype == torch.uint8 else batch.to(torch.float32)
        return self.normalize(x) if self.normalize is not None else x

    def __repr__(self) -> str:
        return f"BatchTransforms(ConvertImageDtype(float32), {self.normalize!r})"


class MovingMNIST:
    """tcapelle/torch_moving_mnist's ``MovingMNIST``, seeded and indexable.

    Args:
        path: where torchvision stored MNIST (``path/MNIST/raw`` is reused when present), or an MNIST dataset
            object with ``.data`` and ``.targets``.
        affine_params: dict or namespace of ``angle``, ``translate``, ``scale``, ``shear`` ranges (the origin's).
        num_digits: digit counts, one drawn per sequence as ``random.choice(num_digits)`` (repeats weigh).
        num_frames (alias ``n``): frames.
        img_size: canvas size. concat: ``ds[i]`` is ``[T, 1, H, W]`` (else a list of T ``[1, H, W]`` tensors).
        normalize: ``get_batch`` normalises (see ``normalize_stats``).
        seed: dataset seed. source: glyph source (default ``mnist``). split: ``train``, ``val`` or ``test``.
        num: ``len(ds)``. normalize_stats: ``origin`` (MNIST's stats scaled by ``(28 / img_size)**2 *
            max(num_digits)``, printed as the origin prints them) or ``exact``
            (:func:`~movingmnist.torch.dataset_stats` over ``stats_samples`` sequences). device: where batches are
            rendered. preset: the rules (``affine@2``, the README's code; ``affine-compound``, the later code;
            ``affine@1``).
    """

    def __init__(
        self,
        path: Any = ".",
        affine_params: Any = affine_params,
        num_digits: Sequence[int] = (3,),
        num_frames: int = 4,
        img_size: int = 64,
        concat: bool = True,
        normalize: bool = True,
        *,
        seed: int = 0,
        source: Any = "mnist",
        n: int | None = None,
        split: str = "train",
        num: int = 10_000,
        normalize_stats: str = "origin",
        stats_samples: int = 256,
        device: str | torch.device = "cpu",
        cache_dir: str | None = None,
        preset: str = PRESET,
    ) -> None:
        if n is not None:
            num_frames = n
        if normalize_stats not in ("exact", "origin"):
            raise SpecError("normalize_stats", normalize_stats, "'exact' or 'origin'")
        if not str(preset).startswith("affine"):
            raise SpecError("preset", preset, "affine@2, affine-compound or affine@1 (the rules of torch_moving_mnist)")
        base = get_preset(preset).spec()
        overrides = {
            **_count_overrides(num_digits),
            "frames": int(num_frames),
            "canvas.height": int(img_size),
            "canvas.width": int(img_size),
            "source.split": split,
            **affine_overrides(affine_params),
        }
        self.source = _source(path, source)
        self.spec = base.replace(overrides)
        self.affine_params = affine_params
        self.num_digits = list(num_digits) if not isinstance(num_digits, int) else [num_digits]
        self.num_frames = int(num_frames)
        self.img_size = int(img_size)
        self.pad = padding(img_size)
        self.concat = concat
        self.seed = int(seed)
        self.num = int(num)
        self.device = torch.device(device)
        self.cache_dir = cache_dir
        self.cursor = 0
        norm = None
        if normalize:
            if normalize_stats == "origin":
                ratio = (28 / img_size) ** 2 * max(self.num_digits)
                scaled = ([mnist_stats[0][0] * ratio], [mnist_stats[1][0] * ratio])
                print(f"New computed stats for MovingMNIST: {scaled}")  # as the origin prints them
                norm = Normalize(scaled[0][0], scaled[1][0])
            else:
                stats = dataset_stats(self.spec, self.seed, stats_samples, source=self.source, device=self.device)
                norm = stats.normalize()
        self.stats = None if norm is None else (norm.mean, norm.std)
        self.batch_tfms = _BatchTransforms(norm)

    def _frames(self, start: int, num: int) -> torch.Tensor:
        return get_batch(
            self.spec, num, device=self.device, start=start, seed=self.seed, source=self.source, returns="frames",
            cache_dir=self.cache_dir,
        )

    def __len__(self) -> int:
        return self.num

    def __getitem__(self, i: int) -> torch.Tensor | list[torch.Tensor]:
        """Sequence ``i``: uint8 ``[T, 1, H, W]`` (``concat=False``: a list of T ``[1, H, W]`` tensors)."""
        i = int(i)
        if not -self.num <= i < self.num:
            raise IndexError(f"index {i} is out of range for a dataset of {self.num} sequences")
        frames = self._frames(i % self.num, 1)[0]
        return frames if self.concat else list(frames.unbind(0))

    def get_batch(self, bs: int = 32) -> torch.Tensor:
        """The next ``bs`` sequences (a cursor walks through the dataset), float32 ``[bs, T, 1, H, W]`` after
        ``batch_tfms``."""
        frames = self._frames(self.cursor, bs)
        self.cursor += bs
        return self.batch_tfms(frames)

    def save(self, fname: str = "mmnist.pt", n_batches: int = 2, bs: int = 32) -> str:
        """``n_batches`` batches of ``bs`` (float32 after ``batch_tfms``) concatenated and written with
        ``torch.save``; returns the file name."""
        data = torch.cat([self.get_batch(bs) for _ in range(n_batches)], dim=0)
        torch.save(data, f"{fname}")
        return f"{fname}"

    def show_images(self, index: int = 0, **kwargs: Any):
        """Plot the frames of sequence ``index`` in a row (matplotlib)."""
        frames = self[index]
        return show_images(frames if self.concat else torch.stack(frames), **kwargs)

    def __repr__(self) -> str:
        return (
            f"MovingMNIST(num_digits={self.num_digits}, num_frames={self.num_frames}, img_size={self.img_size}, "
            f"seed={self.seed}, len={self.num})"
        )


def _pyplot():
    return require("matplotlib.pyplot", "viz", "show_images")


def show_image(im: Any, ax: Any = None, figsize: Any = None, title: str | None = None, **kwargs: Any):
    """Show one image (a ``[C, H, W]`` / ``[H, W]`` tensor or array) on ``ax``; as the origin's ``show_image``."""
    plt = _pyplot()
    if hasattr(im, "detach"):
        im = im.detach().cpu()
        if im.ndim == 3 and im.shape[0] < 5:
            im = im.permute(1, 2, 0)
        im = im.numpy()
    im = np.asarray(im)
    if im.ndim == 3 and im.shape[-1] == 1:
        im = im[..., 0]
    if ax is None:
        side = min(5, max(1, im.shape[0] // 32))
        _, ax = plt.subplots(figsize=figsize or (side, side))
    ax.imshow(im, cmap=kwargs.pop("cmap", "gray"), **kwargs)
    if title is not None:
        ax.set_title(title)
    ax.axis("off")
    return ax


def show_images(ims: Any, nrows: int = 1, ncols: int | None = None, titles: Sequence[str] | None = None, **kwargs):
    """Show ``ims`` (a sequence of images, e.g. ``ds[0]``) as subplots; as the origin's ``utils.show_images``."""
    plt = _pyplot()
    ims = list(ims)
    if ncols is None:
        ncols = int(math.ceil(len(ims) / nrows))
    titles = list(titles) if titles is not None else [None] * len(ims)
    fig, axs = plt.subplots(nrows, ncols, squeeze=False, **kwargs)
    for im, title, ax in zip(ims, titles, axs.flat, strict=False):
        show_image(im, ax=ax, title=title)
    return fig
