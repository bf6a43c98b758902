"""Preview grids of the appearance presets (frames, with semantic masks under them where shown).

    python examples/appearance_previews.py docs/images [SOURCE]

SOURCE defaults to the built-in ``glyphs``; the README images use the MNIST test digits (``idx:/path/to/mnist``, a
folder holding the IDX files).
"""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image

import movingmnist as mm

PALETTE = np.array(
    [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
     [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212]],
    dtype=np.uint8,
)
NEWER_README = [
    "motion.affine.angle=-5..5",
    "motion.affine.translate=[[-5,5],[-5,5]]",
    "motion.affine.scale=0.9..1.1",
    "motion.affine.shear=-2..2",
    "objects.count=1..3",
]
COLOUR_SCENE = [
    "canvas.channels=3",
    "appearance.colour.mode=hue",
    "objects.count=2..3",
    "appearance.rotation.velocity=-8..8",
    "appearance.scale.mode=oscillate",
    "appearance.scale.start=0.7..0.9",
    "appearance.scale.end=1.1..1.3",
    "appearance.scale.period=8..16",
    "appearance.brightness.mode=flicker",
    "appearance.brightness.start=0.5..0.8",
    "appearance.brightness.end=1.0..1.2",
    "appearance.brightness.rate=0.05..0.15",
    "background.kind=noise",
    "background.noise.mean=40",
    "background.noise.std=25",
    "background.colour=true",
    "background.distractors.count=1..2",
    "compositing=over",
    "appearance.subpixel=true",
    "motion.bounce_on=ink",
]


def tile(rows: list[list[np.ndarray]], gap: int = 2, background: int = 40) -> np.ndarray:
    h, w = rows[0][0].shape[:2]
    out = np.full((len(rows) * (h + gap) - gap, max(map(len, rows)) * (w + gap) - gap, 3), background, np.uint8)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            out[i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = image
    return out


def rgb(frame: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W, 3)."""
    return np.repeat(frame.transpose(1, 2, 0), 3, axis=2) if frame.shape[0] == 1 else frame.transpose(1, 2, 0)


def mask_rgb(semantic: np.ndarray, ignore: int) -> np.ndarray:
    out = np.zeros(semantic.shape + (3,), np.uint8)
    labelled = semantic != ignore
    out[labelled] = PALETTE[semantic[labelled] % 10]
    return out


def preview(source, name, path, overrides=(), seqs=3, every=2, masks=True, seed=0, scale=3):
    spec = mm.Spec.from_preset(name, list(overrides))
    batch = mm.generate(spec, num=seqs, seed=seed, source=source, split="test")
    rows = []
    for i in range(seqs):
        rows.append([rgb(batch.frames[i, t]) for t in range(0, spec.frames, every)])
        if masks and batch.semantic is not None:
            ignore = spec.annotations.ignore_label
            rows.append([mask_rgb(batch.semantic[i, t], ignore) for t in range(0, spec.frames, every)])
    grid = tile(rows)
    Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST).save(path)


def main() -> None:
    out = sys.argv[1]
    source = sys.argv[2] if len(sys.argv) > 2 else "glyphs"
    preview(source, "segmentation", f"{out}/segmentation.png")
    preview(source, "segmentation", f"{out}/segmentation_hint.png", ["appearance.rotation.hint=true"], masks=False,
            seed=3)
    preview(source, "affine", f"{out}/affine.png", masks=False, every=1)
    preview(source, "affine", f"{out}/affine_bounce.png", ["motion.boundary=bounce", "objects.count=1..3"],
            masks=False, every=1)
    preview(source, "affine", f"{out}/affine_readme_v2.png", NEWER_README, masks=False, every=1)
    preview(source, "srivastava", f"{out}/colour_scenes.png", COLOUR_SCENE)


if __name__ == "__main__":
    main()
