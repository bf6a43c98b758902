"""The figure of docs/glyphs.md: 10 x 10 glyphs@3 (a row per digit) beside 10 x 10 of MNIST's real test digits.

    python benchmarks/glyphs_figure.py --mnist /path/to/mnist --out docs/images/glyphs_vs_mnist.png

``--mnist`` (or ``$MOVINGMNIST_MNIST_DIR``) holds ``t10k-images-idx3-ubyte(.gz)`` and ``t10k-labels-idx1-ubyte(.gz)``;
without them only the glyphs are drawn. Glyphs are the test split's first ten of each digit, real digits MNIST's
first ten of each: nothing is picked by hand.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from _glyph_metrics import load_mnist_test
from PIL import Image, ImageDraw

from movingmnist.sources.handwriting import VERSIONS, render_handwriting

ZOOM = 2  # pixels per MNIST pixel in the figure
GAP = 24  # pixels between the two grids, before zooming
TITLE = 14  # height of the title strip, before zooming


def grid(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(280, 280) uint8``: the first ten images of each digit, a row per digit."""
    rows = [np.concatenate(list(images[labels == digit][:10]), axis=1) for digit in range(10)]
    return np.concatenate(rows, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=os.environ.get("MOVINGMNIST_MNIST_DIR"), help="folder of MNIST's t10k files")
    parser.add_argument("--out", default="docs/images/glyphs_vs_mnist.png")
    parser.add_argument("--version", type=int, default=VERSIONS[-1], choices=VERSIONS, help="of the built-in digits")
    args = parser.parse_args()

    glyphs, labels = render_handwriting("test", np.arange(100), args.version)
    panels = [(f"glyphs@{args.version} (built in)", grid(glyphs, labels))]
    real = load_mnist_test(Path(args.mnist)) if args.mnist else None
    if real is None:
        print("MNIST's t10k files were not found (--mnist DIR or $MOVINGMNIST_MNIST_DIR): drawing the glyphs alone")
    else:
        panels.append(("MNIST (test set)", grid(*real)))
    width = sum(p.shape[1] for _, p in panels) + GAP * (len(panels) - 1)
    canvas = np.zeros((TITLE + 280, width), np.uint8)
    x = 0
    for _, panel in panels:
        canvas[TITLE:, x : x + panel.shape[1]] = panel
        x += panel.shape[1] + GAP
    image = Image.fromarray(canvas).resize((width * ZOOM, canvas.shape[0] * ZOOM), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    x = 0
    for title, panel in panels:
        draw.text((x * ZOOM + 4, 6), title, fill=200)
        x += panel.shape[1] + GAP
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out, optimize=True)
    print(f"wrote {args.out} ({image.width}x{image.height})")


if __name__ == "__main__":
    main()
