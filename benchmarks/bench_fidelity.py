"""Fidelity: statistics of a preset beside those of the generator it reproduces, on the same MNIST test digits.

For each preset, both sides generate sequences from one pool of digits (the MNIST test images); each statistic's
distribution is compared with the two-sample Kolmogorov-Smirnov statistic (KS) against the origin, next to the noise
floor: the KS between two of our own runs with different seeds. A ratio KS / floor near 1 means the preset cannot be
told from its origin by that statistic with these sample sizes.

    python benchmarks/bench_fidelity.py --mnist DIR --origins DIR [--num 1000] [--presets affine@2 affine-compound@1]

``--origins`` is a folder holding the origin generators (torch_moving_mnist's ``data.py`` at commit 7c1dfcb as
``tmm_data_7c1dfcb.py`` and at 8a22f02 as ``tmm_data_8a22f02.py``); they need ``torchvision`` and ``fastprogress``
(``pip install --no-deps torchvision==<the version matching torch> fastprogress``). Presets whose origin is missing are
skipped with a note.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import os
import random
import sys
import types
from collections.abc import Callable

import numpy as np

import movingmnist as mm


# -- statistics ----------------------------------------------------------------------------------------------------
def ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic of samples ``a`` and ``b``."""
    a, b = np.sort(np.ravel(a)), np.sort(np.ravel(b))
    if not a.size or not b.size:
        return float("nan")
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.abs(fa - fb).max())


def mask_statistics(frames: np.ndarray, masks: np.ndarray, digits: np.ndarray, ignore: int,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Samples of the semantic masks ``masks (N, T, H, W)`` of ``frames``: labelled pixels per digit and frame
    (``digits (N,)`` digits per video; ``ignore`` the label of unlabelled pixels), the share of them that are faint
    (1-31) per frame, their classes and the frame values under them."""
    labelled = masks != ignore
    edge = np.zeros(labelled.shape[-2:], dtype=bool)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    flat = labelled.reshape(*labelled.shape[:2], -1)
    faint = ((frames > 0) & (frames < 32) & labelled).reshape(*labelled.shape[:2], -1).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = faint / flat.sum(-1)
    values, classes = frames[labelled], masks[labelled]
    take = rng.choice(values.size, size=min(200_000, values.size), replace=False)
    return {
        "labelled pixels per digit": (flat.sum(-1) / digits[:, None]).ravel(),
        "frames with a digit at a wall": (labelled & edge).any(axis=(-2, -1)).ravel().astype(np.float64),
        "faint share of labelled": share[np.isfinite(share)],
        "mask classes": classes[take],
        "values under the mask": values[take],
    }


def statistics(frames: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-frame and per-pixel samples of ``frames (N, T, H, W)`` uint8."""
    n, t, h, w = frames.shape
    x = frames.reshape(n, t, -1).astype(np.float64)
    ink = x.sum(-1)
    yy, xx = np.mgrid[:h, :w]
    with np.errstate(invalid="ignore", divide="ignore"):
        cy = (x * yy.ravel()).sum(-1) / ink
        cx = (x * xx.ravel()).sum(-1) / ink
    step = np.hypot(np.diff(cx, axis=1), np.diff(cy, axis=1))
    nonzero = frames[frames > 0]
    edge = np.zeros((h, w), dtype=bool)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    return {
        "frame mean": x.mean(-1).ravel(),
        "frame std": x.std(-1).ravel(),
        "pixel values (nonzero)": rng.choice(nonzero, size=min(200_000, nonzero.size), replace=False),
        "nonzero fraction": (x > 0).mean(-1).ravel(),
        "ink per frame": ink.ravel(),
        "empty frame": (ink == 0).ravel().astype(np.float64),
        "ink centre x": cx[np.isfinite(cx)],
        "ink centre y": cy[np.isfinite(cy)],
        "centre displacement": step[np.isfinite(step)],
        "frames with ink at a wall": ((frames > 0) & edge).any(axis=(-2, -1)).ravel().astype(np.float64),
    }


# -- origins -------------------------------------------------------------------------------------------------------
def load_mnist_test(directory: str) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(os.path.join(directory, "t10k-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(os.path.join(directory, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels


def torch_moving_mnist(origins: str, file: str, images: np.ndarray) -> types.ModuleType | None:
    """The origin module ``file`` with its MNIST replaced by ``images`` (None when it cannot be loaded here)."""
    path = os.path.join(origins, file)
    if not os.path.isfile(path):
        return None
    try:
        import torch

        # torchvision's CUDA wheel registers fake kernels of detection ops on import; affine does not need them
        sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
        import torchvision  # noqa: F401
    except ImportError as exc:
        print(f"skipping {file}: {exc}")
        return None
    spec = importlib.util.spec_from_file_location(file[:-3], path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        print(f"skipping {file}: {exc}")
        return None
    data = torch.from_numpy(images.copy())

    class LocalMNIST:
        def __init__(self, *args, **kwargs) -> None:
            self.data = data

    module.MNIST = LocalMNIST
    return module


class _ClippedNoise:
    """numpy for the notebook with its noise defect fixed as the presets fix it: ``np.random.normal`` clipped to
    [0, 255] before the notebook casts it to uint8 (which wraps it otherwise). Everything else is numpy's."""

    class _Random:
        def __getattr__(self, name: str) -> object:
            return getattr(np.random, name)

        @staticmethod
        def normal(*args: object, **kwargs: object) -> np.ndarray:
            return np.clip(np.round(np.random.normal(*args, **kwargs)), 0, 255)  # noqa: NPY002

    random = _Random()

    def __getattr__(self, name: str) -> object:
        return getattr(np, name)


def origin_runner(name: str, origins: str, mnist: str, images: np.ndarray) -> Callable[[int, int], dict] | None:
    """``run(num, seed) -> {"frames": (N, T, H, W), "masks": ..., "digits": (N,)}`` of the origin of preset
    ``name`` (masks and digits only where the origin makes masks), or None."""
    import contextlib
    import io

    if name.startswith("segmentation"):
        path = os.path.join(origins, "seed_notebook.py")
        if not os.path.isfile(path):
            return None
        os.environ["MNIST_DIR"] = mnist  # read when the module is imported
        sys.path.insert(0, origins)
        try:
            import seed_notebook
        except ImportError as exc:
            print(f"skipping the segmentation notebook: {exc}")
            return None
        seed_notebook.tqdm = lambda it, **kwargs: it

        def run_notebook(num: int, seed: int, fixed: bool = False) -> dict:
            np.random.seed(seed)  # noqa: NPY002 - the notebook draws from the global generator
            seed_notebook.np = _ClippedNoise() if fixed else np
            with contextlib.redirect_stderr(io.StringIO()):
                dat, masks, labels = seed_notebook.generate_moving_mnist(
                    "val", shape=(64, 64), ignore_label=10, num_frames=20, num_videos=num, min_nums_per_image=2,
                    max_nums_per_image=3, rotatehint=False,
                )
            return {"frames": dat[:, :, 0], "masks": masks[:, :, 0], "digits": (labels[:, 0] != 10).sum(-1)}

        return run_notebook
    if name.startswith("affine@2"):
        module = torch_moving_mnist(origins, "tmm_data_7c1dfcb.py", images)
        params = dict(angle=(-20, 20), translate=((-30, 30), (-30, 30)), scale=(0.8, 1.3), shear=(-20, 20))
        kwargs = dict(affine_params=params, num_frames=10, num_digits=[1, 2, 3], img_size=64, normalize=False)
    elif name.startswith("affine-compound"):
        module = torch_moving_mnist(origins, "tmm_data_8a22f02.py", images)
        kwargs = dict(num_frames=4, num_digits=[1, 2], img_size=64, normalize=False)
    else:
        return None
    if module is None:
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        ds = module.MovingMNIST(path=".", **kwargs)

    def run(num: int, seed: int) -> dict:
        import torch

        random.seed(seed)
        torch.manual_seed(seed)
        return {"frames": np.stack([ds[0][:, 0].numpy() for _ in range(num)])}

    return run


def ours(name: str, num: int, seed: int, images: np.ndarray, labels: np.ndarray, sets: list[str]) -> dict:
    """Our side, on the same digits (all of them: no val carved out), with the overrides ``sets``."""
    spec = mm.Spec.from_preset(name, ["source.val_size=0", *sets])
    batch = mm.generate(spec, num=num, seed=seed, source=(images, labels))
    out = {"frames": batch.frames[:, :, 0], "digits": batch.present.sum(1)}
    if batch.semantic is not None:
        out["masks"] = batch.semantic
    return out


def sample_statistics(run: dict, ignore: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    stats = statistics(run["frames"], rng)
    if "masks" in run:
        stats.update(mask_statistics(run["frames"], run["masks"], run["digits"], ignore, rng))
    return stats


def compare_compat(origins: str, images: np.ndarray, labels: np.ndarray, bs: int) -> None:
    """The README example through ``movingmnist.compat.torch_moving_mnist`` beside the origin (7c1dfcb): mean and
    std of normalised batches, next to the spread between our own seeds."""
    import contextlib
    import io

    module = torch_moving_mnist(origins, "tmm_data_7c1dfcb.py", images)
    if module is None:
        print("compat: no runnable origin here, skipped")
        return
    from movingmnist.compat.torch_moving_mnist import MovingMNIST

    readme = dict(angle=(-20, 20), translate=((-30, 30), (-30, 30)), scale=(0.8, 1.3), shear=(-20, 20))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        theirs = module.MovingMNIST(path=".", affine_params=readme, num_frames=10, num_digits=[1, 2, 3], img_size=64)
        ours = [MovingMNIST(affine_params=readme, num_frames=10, num_digits=[1, 2, 3], img_size=64,
                            source=(images, labels), seed=s) for s in (0, 1)]
    lines = out.getvalue().splitlines()
    random.seed(0)
    b = theirs.get_batch(bs=bs)
    rows = [("origin", b)] + [(f"ours, seed {s}", d.get_batch(bs=bs)) for s, d in enumerate(ours)]
    print(f"\ncompat README example, {bs} sequences per batch; printed: {lines[0]!r} (ours) / {lines[-1]!r} (origin)")
    for name, batch in rows:
        print(f"  {name:14s} mean {float(batch.mean()):+.4f}  std {float(batch.std()):.4f}")


# -- main ----------------------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", required=True, help="folder of the MNIST test IDX .gz files")
    parser.add_argument("--origins", required=True, help="folder of the origin generators")
    parser.add_argument("--num", type=int, default=1000, help="sequences per side")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field of our side, e.g. background.distractors.count=0 (repeatable)")
    parser.add_argument("--presets", nargs="+",
                        default=["segmentation@2", "segmentation@1", "affine@2", "affine-compound@1", "affine@1"])
    args = parser.parse_args()
    images, labels = load_mnist_test(args.mnist)
    rng = np.random.default_rng(0)
    compare_compat(args.origins, images, labels, bs=512)
    for name in args.presets:
        run = origin_runner(name, args.origins, args.mnist, images)
        if run is None:
            print(f"{name}: no runnable origin here, skipped")
            continue
        ignore = mm.Spec.from_preset(name).annotations.ignore_label
        mine = [ours(name, args.num, s, images, labels, args.set) for s in (0, 1)]
        theirs = run(args.num, 0)
        fixed = run(args.num, 0, fixed=True) if name.startswith("segmentation") else None
        if "masks" not in theirs:
            for side in mine:
                side.pop("masks", None)
        a, b, o = (sample_statistics(r, ignore, rng) for r in (*mine, theirs))
        f = sample_statistics(fixed, ignore, rng) if fixed is not None else None
        print(f"\n{name} {' '.join(args.set)} vs its origin ({args.num} sequences per side, MNIST test digits)"
              + ("; 'fixed': the origin with its noise clipped, as the preset's documented fix" if f else ""))
        head = f"{'statistic':30s} {'ours':>10s} {'origin':>10s} {'KS':>7s} {'floor':>7s} {'ratio':>6s}"
        print(head + (f" {'KS fixed':>9s} {'ratio':>6s}" if f else ""))
        for stat in a:
            d, floor = ks(a[stat], o[stat]), ks(a[stat], b[stat])
            line = (f"{stat:30s} {np.mean(a[stat]):10.3f} {np.mean(o[stat]):10.3f} {d:7.3f} {floor:7.3f} "
                    f"{d / max(floor, 1e-9):6.2f}")
            if f:
                df = ks(a[stat], f[stat])
                line += f" {df:9.3f} {df / max(floor, 1e-9):6.2f}"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
