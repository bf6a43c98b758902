"""Seeing the data: grids, animations (GIF, MP4), notebook display, and dataset statistics.

``import movingmnist as mm`` does not import this module; ``mm.viz`` (or ``import movingmnist.viz``) does, and it
needs only numpy and Pillow. MP4 needs imageio-ffmpeg and :func:`show` / the statistics plots need matplotlib
(``pip install "movingmnist[viz]"``); they are imported when first used.

Every function takes ``data``: a :class:`~movingmnist.Batch`, a frames array ``(B, T, H, W)`` or
``(B, T, C, H, W)``, or a dataset (anything with ``len()`` whose slices are Batches, e.g.
``movingmnist.open(path)``, of which only the sequences shown are read).

>>> import movingmnist as mm
>>> import numpy as np
>>> frames = np.zeros((2, 5, 1, 16, 16), dtype=np.uint8)
>>> mm.viz.grid(frames, scale=1).size
(96, 92)

Colours: class ``c`` of a semantic mask is ``PALETTE[c]`` and object slot ``k`` (instance masks, boxes, trails)
``PALETTE[k]`` (see :data:`PALETTE`); the ignore label and the instance background are black.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import require
from . import _encode, _options, _render
from ._captions import caption_text
from ._draw import PALETTE, color
from ._options import MAX_PIXELS
from ._render import TooLargeError
from ._select import parse_slice
from .stats import Stats, compute_stats, plot_stats, save_stats

__all__ = [
    "MAX_PIXELS",
    "PALETTE",
    "Stats",
    "TooLargeError",
    "animate",
    "animation_array",
    "caption_text",
    "color",
    "compute_stats",
    "grid",
    "grid_array",
    "parse_slice",
    "plot_stats",
    "save",
    "save_gif",
    "save_mp4",
    "save_png",
    "save_stats",
    "show",
]

PathLike = str | Path


def grid_array(
    data: Any,
    rows: int | slice | Sequence[int] | str | None = None,
    frames: int | slice | Sequence[int] | str | None = None,
    *,
    masks: bool | str = False,
    boxes: bool = False,
    trails: bool | int = False,
    captions: bool = True,
    legend: bool = True,
    scale: int = 2,
    class_names: Sequence[str] | None = None,
    ignore_label: int | None = None,
    max_pixels: int | None = None,
) -> np.ndarray:
    """A picture of sequences as rows and frames as columns: ``(H, W, 3)`` uint8 RGB.

    Args:
        data: a Batch, a frames array, or a dataset (see the module docstring).
        rows: which sequences: ``None`` all, ``n`` the first n, a slice, ``"a:b"`` or a list of positions.
        frames: which frames: ``None`` all, ``n`` the first n, a slice, ``"a:b"`` or a list of frame numbers.
        masks: ``"semantic"`` (class colours; ``True`` means this) or ``"instance"`` (slot colours): a second row
            under each sequence.
        boxes: outline each object's visible box in its slot colour, its slot id in a tag above it.
        trails: draw the path of each object's centre through the frames before (``True``: since frame 0;
            an int: the last n frames) and a dot at its current centre.
        captions: the sequence index and each object's class above each row, frame numbers above the columns.
        legend: colour keys under the grid (classes of the masks, object slots).
        scale: nearest-neighbour upscaling factor (integer).
        class_names: names of the class ids (default: from the dataset's metadata when it has any, else ids).
        ignore_label: the semantic value of pixels of no object (default: dataset metadata, else 255).
        max_pixels: refuse pictures larger than this (default :data:`MAX_PIXELS`), with a message saying
            how to ask for less.
    """
    opts = _options.Options.make(
        masks=masks,
        boxes=boxes,
        trails=trails,
        captions=captions,
        legend=legend,
        scale=scale,
        class_names=class_names,
        ignore_label=ignore_label,
        max_pixels=max_pixels,
    )
    return _render.grid_canvas(data, rows, frames, opts).canvas[0]


def grid(data: Any, rows=None, frames=None, **options: Any):
    """:func:`grid_array` as a ``PIL.Image.Image`` (same arguments).

    >>> import movingmnist as mm
    >>> batch = mm.generate("srivastava", num=4, seed=0, source="glyphs")  # doctest: +SKIP
    >>> mm.viz.grid(batch, rows=4, frames=10, masks="semantic", boxes=True).save("grid.png")  # doctest: +SKIP
    """
    from PIL import Image

    return Image.fromarray(grid_array(data, rows, frames, **options))


def animation_array(
    data: Any,
    indices: int | slice | Sequence[int] | str | None = None,
    frames: int | slice | Sequence[int] | str | None = None,
    *,
    tile: tuple[int, int] | None = None,
    masks: bool | str = False,
    boxes: bool = False,
    trails: bool | int = False,
    captions: bool = True,
    legend: bool = True,
    scale: int = 2,
    class_names: Sequence[str] | None = None,
    ignore_label: int | None = None,
    max_pixels: int | None = None,
) -> np.ndarray:
    """The frames of an animation: ``(F, H, W, 3)`` uint8, sequences tiled on a ``tile=(rows, cols)`` grid.

    ``indices`` chooses sequences as ``rows`` does in :func:`grid_array` (default: all of them, or the first
    rows x cols when ``tile`` is given); the tile grid defaults to the squarest that holds them. A mask
    (``masks=``) is shown to the right of its frame. Other arguments as in :func:`grid_array`.
    """
    opts = _options.Options.make(
        masks=masks,
        boxes=boxes,
        trails=trails,
        captions=captions,
        legend=legend,
        scale=scale,
        class_names=class_names,
        ignore_label=ignore_label,
        max_pixels=max_pixels,
    )
    return _render.animation_canvas(data, indices, frames, tile, opts).canvas


def _animation(data, indices, frames, tile, options) -> _render.Picture:
    below = options.pop("below", None)
    picture = _render.animation_canvas(data, indices, frames, tile, _options.Options.make(**options))
    if not below:
        return picture
    from . import _draw
    from ._captions import caption_band

    band = caption_band(picture.canvas[0], list(below), options.get("scale", 2))[picture.canvas.shape[1] :]
    canvas = np.concatenate([picture.canvas, np.broadcast_to(band, (len(picture.canvas), *band.shape))], axis=1)
    text = np.array([_draw.TEXT, _draw.BACKGROUND, _draw.DIM_TEXT], dtype=picture.colours.dtype).reshape(-1, 3)
    return _render.Picture(canvas, np.unique(np.concatenate([picture.colours.reshape(-1, 3), text]), axis=0),
                           picture.grey)


def save_gif(data: Any, path: PathLike, *, fps: float = 8.0, indices=None, frames=None, tile=None, loop: int = 0,
             **options: Any) -> Path:
    """Write an animated GIF (Pillow; one palette shared by all frames, so nothing flickers).

    Args:
        fps: frames per second (GIF stores delays in 10 ms steps; at most 50 fps).
        indices, frames, tile: which sequences, which frames, and the (rows, cols) grid: see
            :func:`animation_array`.
        loop: 0 loops forever.
        **options: ``masks``, ``boxes``, ``trails``, ``captions``, ``legend``, ``scale``, ``class_names``,
            ``ignore_label``, ``max_pixels`` as in :func:`grid_array`; ``below``: lines of text written in a band
            under every frame (``preview --captions``: each sequence's caption).
    """
    _check_fps(fps)
    picture = _animation(data, indices, frames, tile, options)
    path = Path(path)
    path.write_bytes(_encode.gif_bytes(picture.canvas, picture.colours, picture.grey, fps, loop))
    return path


def save_mp4(data: Any, path: PathLike, *, fps: float = 8.0, indices=None, frames=None, tile=None,
             quality: float = 8.0, **options: Any) -> Path:
    """Write an H.264 MP4 (needs imageio-ffmpeg: ``pip install "movingmnist[viz]"``).

    ``quality`` 0..10 (imageio-ffmpeg's scale). The picture is padded to a multiple of 16 pixels. Other
    arguments as in :func:`save_gif`.
    """
    require("imageio_ffmpeg", "viz", "Writing MP4 (save_mp4)")
    _check_fps(fps)
    picture = _animation(data, indices, frames, tile, options)
    path = Path(path)
    _encode.write_mp4(picture.canvas, path, fps, quality)
    return path


def save_png(data: Any, path: PathLike, rows=None, frames=None, **options: Any) -> Path:
    """Write :func:`grid` as a PNG."""
    path = Path(path)
    _encode.write_png(grid_array(data, rows, frames, **options), path)
    return path


_ANIMATION_ONLY = ("fps", "tile", "loop", "quality")


def save(data: Any, path: PathLike, *, indices=None, **options: Any) -> Path:
    """Write a picture chosen by the suffix of ``path``: ``.png`` a grid, ``.gif`` or ``.mp4`` an animation.

    ``indices`` chooses the sequences (``rows`` of a grid). Options that only animations have (``fps``,
    ``tile``, ``loop``, ``quality``) are ignored for ``.png``.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        rows = options.pop("rows", indices)
        for name in _ANIMATION_ONLY:
            options.pop(name, None)
        return save_png(data, path, rows=rows, **options)
    if suffix == ".gif":
        return save_gif(data, path, indices=indices, **options)
    if suffix == ".mp4":
        return save_mp4(data, path, indices=indices, **options)
    raise ValueError(f"path={str(path)!r}: the suffix {suffix or '(none)'!r} is not one of .png, .gif, .mp4")


def _check_fps(fps: float) -> None:
    if not isinstance(fps, (int, float)) or not 0 < fps <= 100:
        raise ValueError(f"fps={fps!r} is not allowed: a number in (0, 100]")


# -- notebooks ---------------------------------------------------------------------------------------------------------
def show(data: Any, rows=None, frames=None, *, ax=None, dpi: int = 100, **options: Any):
    """Display :func:`grid` with matplotlib (pixels 1:1 at ``dpi``); returns the Figure.

    With ``ax`` the picture is drawn into that Axes. Needs matplotlib (``pip install "movingmnist[viz]"``).
    """
    require("matplotlib", "viz", "Showing pictures (viz.show)")
    picture = grid_array(data, rows, frames, **options)
    h, w = picture.shape[:2]
    if ax is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(w / dpi, h / dpi), dpi=dpi)
        ax = fig.add_axes((0, 0, 1, 1))
    else:
        fig = ax.figure
    ax.imshow(picture, interpolation="nearest")
    ax.set_axis_off()
    return fig


class GifAnimation:
    """GIF bytes that display themselves in Jupyter (returned by :func:`animate` when IPython is not installed)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _repr_html_(self) -> str:
        return _gif_html(self.data)

    def save(self, path: PathLike) -> None:
        Path(path).write_bytes(self.data)


def _gif_html(data: bytes) -> str:
    return f'<img src="data:image/gif;base64,{base64.b64encode(data).decode("ascii")}"/>'


def animate(data: Any, *, fps: float = 8.0, indices=None, frames=None, tile=None, **options: Any):
    """An animation for Jupyter: ``IPython.display.HTML`` with the GIF inline (same arguments as :func:`save_gif`).

    The GIF bytes are in ``.data`` of the returned object's ``gif`` attribute. Without IPython a small object with
    ``_repr_html_`` (which Jupyter displays) is returned instead.
    """
    _check_fps(fps)
    picture = _animation(data, indices, frames, tile, options)
    gif = _encode.gif_bytes(picture.canvas, picture.colours, picture.grey, fps)
    try:
        from IPython.display import HTML
    except ImportError:
        return GifAnimation(gif)
    html = HTML(_gif_html(gif))
    html.gif = gif
    return html
