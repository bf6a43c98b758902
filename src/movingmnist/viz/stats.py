"""Distributions that describe a dataset: speeds, classes, visibility, brightness over time, objects per sequence.

:func:`compute_stats` reads sequences in chunks (memory bounded by the chunk, not by the dataset) and keeps only
small per-object arrays; :func:`plot_stats` draws one or several of them (overlaid, to compare two datasets) with
matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..batch import Batch
from ..errors import require

CHUNK = 256


@dataclass
class Stats:
    """Summary of ``num`` sequences of a dataset.

    Attributes:
        name: what the numbers describe (a preset name or a path).
        num: sequences read. frames: frames per sequence.
        speeds: ``(M,)`` float32 |velocity| in px/frame of every present object at every frame (None when the
            data has no velocities).
        visibility: ``(M,)`` float32 visible fraction of every present object at every frame (None if absent).
        label_counts: ``(n_classes,)`` int64 objects per class.
        objects: ``(K + 1,)`` int64 sequences with 0, 1, ..., K objects.
        mean_intensity: ``(T,)`` float64 mean pixel value (0..255) of each frame over all sequences and channels.
        class_names: names of the class ids, when known.
    """

    name: str
    num: int
    frames: int
    speeds: np.ndarray | None
    visibility: np.ndarray | None
    label_counts: np.ndarray
    objects: np.ndarray
    mean_intensity: np.ndarray
    class_names: list[str] | None = None

    def summary(self) -> dict[str, float]:
        """A few numbers: mean speed, share of object-frames occluded (< 99% visible) and fully hidden."""
        out: dict[str, float] = {"sequences": float(self.num), "frames": float(self.frames)}
        total = self.objects @ np.arange(len(self.objects))
        out["objects per sequence"] = float(total / max(self.num, 1))
        if self.speeds is not None and self.speeds.size:
            out["mean speed (px/frame)"] = float(self.speeds.mean())
        if self.visibility is not None and self.visibility.size:
            out["occluded (visible < 99%)"] = float((self.visibility < 0.99).mean())
            out["hidden (visible = 0)"] = float((self.visibility <= 0).mean())
        out["mean intensity"] = float(self.mean_intensity.mean())
        return out


def _chunks(data: Any, num: int | None, chunk: int):
    """(Batch, ...) of the first ``num`` sequences of a Batch, a dataset or a Generator, ``chunk`` at a time."""
    from ..generator import Generator

    if isinstance(data, Generator):
        total = CHUNK if num is None else int(num)
        out = None
        for lo in range(0, total, chunk):
            n = min(chunk, total - lo)
            out = data.render(start=lo, num=n, out=out if out is not None and len(out) == n else None)
            yield out
        return
    if isinstance(data, np.ndarray):
        from ._select import as_batch

        data = as_batch(data)
    if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        raise TypeError(f"cannot compute statistics of {type(data).__name__}: give a Batch, a dataset or a Generator")
    total = len(data) if num is None else min(int(num), len(data))
    for lo in range(0, total, chunk):
        part = data[lo : min(total, lo + chunk)]
        if not isinstance(part, Batch):
            raise TypeError(f"slicing {type(data).__name__} returned {type(part).__name__}, not a Batch")
        yield part


def compute_stats(data: Any, num: int | None = None, *, name: str | None = None,
                  class_names: Sequence[str] | None = None, chunk: int = CHUNK) -> Stats:
    """Statistics of the first ``num`` sequences (default: all of a Batch or dataset, 256 of a Generator).

    ``data``: a Batch, a frames array, a dataset (``len`` + slicing to Batches) or a :class:`Generator`.
    """
    if num is not None and num < 1:
        raise ValueError(f"num={num} is not allowed: at least 1 sequence")
    speeds, vis, labels, counts = [], [], [], []
    intensity = None
    seen = 0
    frames = 0
    for batch in _chunks(data, num, chunk):
        b, t = batch.frames.shape[:2]
        frames = t
        sums = batch.frames.reshape(b, t, -1).sum(axis=2, dtype=np.uint64).sum(axis=0, dtype=np.float64)
        intensity = sums if intensity is None else intensity + sums
        seen += b
        slots = batch.slots()
        slots = slots if slots is not None else np.zeros((b, 0), dtype=bool)
        counts.append(slots.sum(axis=1))
        if slots.size:
            labels.append(batch.labels[slots])
        if batch.present is not None and batch.present.ndim == 3:
            mask = batch.present
        else:
            mask = np.broadcast_to(slots[:, None, :], (b, t, slots.shape[1]))
        if batch.velocities is not None:
            v = np.hypot(batch.velocities[..., 0], batch.velocities[..., 1])[mask]
            speeds.append(v[np.isfinite(v)].astype(np.float32))
        if batch.visibility is not None:
            vis.append(batch.visibility[mask].astype(np.float32))
    if seen == 0:
        raise ValueError("no sequences to compute statistics of")
    pixels_per_frame = float(np.prod(batch.frames.shape[2:]))
    counts_all = np.concatenate(counts).astype(np.int64)
    labels_all = np.concatenate(labels).astype(np.int64) if labels else np.zeros(0, dtype=np.int64)
    labels_all = labels_all[labels_all >= 0]
    n_classes = max(int(labels_all.max()) + 1 if labels_all.size else 0, len(class_names or ()))
    k = batch.labels.shape[1] if batch.labels is not None else 0
    if class_names is None:
        meta = getattr(data, "metadata", None)
        meta = meta() if callable(meta) else meta
        if isinstance(meta, dict):
            class_names = (meta.get("source") or {}).get("class_names")
            n_classes = max(n_classes, len(class_names or ()))
    return Stats(
        name=name or type(data).__name__,
        num=seen,
        frames=frames,
        speeds=np.concatenate(speeds) if speeds else None,
        visibility=np.concatenate(vis) if vis else None,
        label_counts=np.bincount(labels_all, minlength=n_classes).astype(np.int64),
        objects=np.bincount(counts_all, minlength=k + 1).astype(np.int64),
        mean_intensity=intensity / (seen * pixels_per_frame),
        class_names=list(class_names) if class_names else None,
    )


def plot_stats(*stats: Stats, names: Sequence[str] | None = None):
    """A matplotlib Figure of one or more :class:`Stats`, overlaid (normalised, so sizes need not match)."""
    require("matplotlib", "viz", "Plotting statistics (viz.plot_stats)")
    from matplotlib.figure import Figure

    from ._draw import color

    if not stats:
        raise ValueError("plot_stats needs at least one Stats")
    names = list(names) if names is not None else [s.name for s in stats]
    colours = ["#{:02x}{:02x}{:02x}".format(*color(i)) for i in (3, 4, 1, 0, 6)]
    fig = Figure(figsize=(13, 7.5), dpi=100, layout="constrained")
    axes = fig.subplots(2, 3)
    n = len(stats)
    width = 0.8 / n

    ax = axes[0, 0]
    speeds = [s.speeds for s in stats if s.speeds is not None and s.speeds.size]
    if speeds:
        top = max(float(np.percentile(v, 99.9)) for v in speeds)
        bins = np.linspace(0, max(top, 1e-3) * 1.05, 40)
        for i, s in enumerate(stats):
            if s.speeds is not None and s.speeds.size:
                ax.hist(np.clip(s.speeds, 0, bins[-1]), bins=bins, density=True, histtype="step", lw=1.8,
                        color=colours[i % 5], label=names[i])
        ax.set_xlabel("speed |velocity| (px / frame)")
        ax.set_ylabel("density")
    else:
        ax.text(0.5, 0.5, "no velocities recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("object speed")

    ax = axes[0, 1]
    classes = max(len(s.label_counts) for s in stats)
    for i, s in enumerate(stats):
        share = s.label_counts / max(s.label_counts.sum(), 1)
        ax.bar(np.arange(len(share)) + (i - (n - 1) / 2) * width, share, width=width, color=colours[i % 5],
               label=names[i])
    cn = next((s.class_names for s in stats if s.class_names), None)
    ax.set_xticks(np.arange(classes))
    if cn and classes <= 20:
        long_names = max(map(len, cn)) > 2
        ax.set_xticklabels([cn[c] if c < len(cn) else str(c) for c in range(classes)],
                           rotation=45 if long_names else 0, ha="right" if long_names else "center")
    ax.set_ylabel("share of objects")
    ax.set_title("classes")

    ax = axes[0, 2]
    vis = [s.visibility for s in stats if s.visibility is not None and s.visibility.size]
    if vis:
        bins = np.linspace(0, 1, 21)
        for i, s in enumerate(stats):
            if s.visibility is not None and s.visibility.size:
                weights = np.full(s.visibility.shape, 1.0 / s.visibility.size)
                ax.hist(np.clip(s.visibility, 0, 1), bins=bins, weights=weights, histtype="step", lw=1.8,
                        color=colours[i % 5], label=names[i])
        ax.set_yscale("log")
        ax.set_xlabel("visible fraction of the object's ink (1 = unoccluded)")
        ax.set_ylabel("share of object-frames")
    else:
        ax.text(0.5, 0.5, "no visibility recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("visibility / occlusion")

    ax = axes[1, 0]
    for i, s in enumerate(stats):
        ax.plot(np.arange(len(s.mean_intensity)), s.mean_intensity, marker="o", ms=3, color=colours[i % 5],
                label=names[i])
    ax.set_xlabel("frame")
    ax.set_ylabel("mean pixel value (0-255)")
    ax.set_title("mean intensity per frame")

    ax = axes[1, 1]
    k = max(len(s.objects) for s in stats)
    for i, s in enumerate(stats):
        share = s.objects / max(s.objects.sum(), 1)
        ax.bar(np.arange(len(share)) + (i - (n - 1) / 2) * width, share, width=width, color=colours[i % 5],
               label=names[i])
    ax.set_xticks(np.arange(k))
    ax.set_xlabel("objects in the sequence")
    ax.set_ylabel("share of sequences")
    ax.set_title("objects per sequence")

    ax = axes[1, 2]
    ax.set_axis_off()
    lines = []
    for i, s in enumerate(stats):
        lines.append(names[i])
        lines.extend(f"  {key}: {value:,.3g}" for key, value in s.summary().items())
    ax.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=9,
            transform=ax.transAxes)
    ax.set_title("summary")
    if n > 1:
        axes[0, 0].legend(fontsize=8)
        axes[0, 1].legend(fontsize=8)
    return fig


def save_stats(data: Any, path: str | Path, *, compare: Any = None, num: int | None = None,
               names: Sequence[str] | None = None) -> Path:
    """Compute statistics of ``data`` (and ``compare``, overlaid) and save the plot (PNG, PDF, SVG ...)."""
    stats = [data if isinstance(data, Stats) else compute_stats(data, num)]
    if compare is not None:
        stats.append(compare if isinstance(compare, Stats) else compute_stats(compare, num))
    fig = plot_stats(*stats, names=names)
    path = Path(path)
    fig.savefig(path)
    return path
