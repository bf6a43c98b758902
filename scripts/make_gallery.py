"""Render the README gallery: a PNG grid (frames, semantic masks, boxes) and a GIF of every preset.

    python scripts/make_gallery.py                                   # MNIST test digits (downloaded once)
    python scripts/make_gallery.py --source idx:/data/mnist --split test
    python scripts/make_gallery.py --source glyphs                   # offline, procedural digits

Writes ``docs/gallery/<preset>.png`` and ``docs/gallery/<preset>.gif`` and checks that each stays under
``--max-kb`` (300 KB by default), so the README stays light.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import movingmnist as mm
from movingmnist import viz

ROOT = Path(__file__).resolve().parents[1]


def render_preset(name: str, out: Path, source: str, split: str, seed: int) -> list[Path]:
    gen = mm.Generator(mm.Spec.from_preset(name).replace({"source.split": split}), seed=seed, source=source)
    names = gen.metadata()["source"]["class_names"]
    grid_batch = gen.render(0, 3)
    png = viz.save_png(grid_batch, out / f"{name}.png", frames=range(0, min(gen.spec.frames, 16), 2),
                       masks="semantic", boxes=True, scale=2, class_names=names)
    ann = gen.spec.annotations
    if ann.captions != "none" or ann.events:
        # Scenes: one sequence per tile with its boxes, track ids (the slot numbers on the boxes) and caption.
        tile = (1, 2) if gen.spec.canvas.width <= 64 else (1, 1)
        gif_batch = gen.render(0, tile[0] * tile[1])
        style = "auto" if gif_batch.captions is not None else "events"
        below = [f"#{i}: {viz.caption_text(gif_batch, i, style, class_names=names)}" for i in range(len(gif_batch))]
        gif = viz.save_gif(gif_batch, out / f"{name}.gif", tile=tile, boxes=True, trails=5, scale=2, fps=6,
                           class_names=names, legend=False, below=below)
        return [png, gif]
    # Noise backgrounds barely compress in a GIF: show fewer sequences of such presets.
    tile = (2, 3) if gen.spec.background.is_empty else (1, 1)
    gif_batch = gen.render(0, tile[0] * tile[1])
    gif = viz.save_gif(gif_batch, out / f"{name}.gif", tile=tile, boxes=True, trails=5, scale=2, fps=8,
                       class_names=names, legend=False)
    return [png, gif]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="mnist", help="glyph source (default mnist)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"), help="source split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery")
    parser.add_argument("--max-kb", type=float, default=300.0, help="fail when a file is larger")
    parser.add_argument("--presets", nargs="*", help="only these presets (default: all)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.presets or [p.name for p in mm.list_presets()]
    too_big = []
    for name in names:
        for path in render_preset(name, args.out, args.source, args.split, args.seed):
            kb = path.stat().st_size / 1024
            print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {kb:.0f} KB")
            if kb > args.max_kb:
                too_big.append(f"{path.name} ({kb:.0f} KB)")
    if too_big:
        print(f"over {args.max_kb:.0f} KB: {', '.join(too_big)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
