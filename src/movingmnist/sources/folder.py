"""The ``folder:PATH`` source: a directory of PNG/JPEG images, one subfolder per class.

Layouts:

- ``PATH/<class>/<image>``: the whole folder is the training split; ``val`` is carved from its end and there
  is no ``test`` split.
- ``PATH/train/<class>/<image>`` and optionally ``PATH/test/<class>/<image>``: the two splits (``val`` is
  still carved from the end of ``train``). ``test`` may only use class names that ``train`` has.

Rules:

- Class ids are the sorted class folder names (``train/``'s in the second layout). Hidden entries (names
  starting with ``.``), files of other types and nested folders are ignored.
- Order is deterministic and stratified: files are sorted by name within each class, and the classes are
  interleaved in proportion to their sizes (image k of a class of n images sits (k + 1/2) / n of the way
  through; ties go to the lower class id). So ``val``, carved from the end, holds every class in proportion.
- Pixels are converted to grey uint8 (Pillow's ``L`` mode); where an image has an alpha channel, grey is
  multiplied by alpha, so transparent pixels are background (0). Glyphs should be bright on dark, like MNIST.
- Size: every image is resized to the size of the first training image (bilinear, which Pillow
  anti-aliases when shrinking; the aspect ratio is not kept). Resizing to a size the images do not share
  would distort most of them; resizing to the first one leaves a folder of same-sized glyphs untouched.
- Untrusted folders: an image (or class folder) that is a link to somewhere outside ``PATH`` is refused, naming
  the link and where it points (links that stay inside ``PATH`` are followed). An image of more than
  :data:`~movingmnist.limits.MAX_IMAGE_PIXELS` pixels (4096 x 4096) is refused from its header, before it is
  decoded; ``$MOVINGMNIST_MAX_IMAGE_PIXELS`` raises the cap.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SourceError
from ..limits import IMAGE_PIXELS_ENV, check_memory, image_pixel_cap
from .bank import GlyphBank, carve_split

__all__ = ["IMAGE_EXTENSIONS", "check_inside", "load_folder_source", "open_image", "read_image_folder"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def _visible_entries(directory: Path) -> list[Path]:
    return sorted((p for p in directory.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)


def _class_names(directory: Path) -> tuple[str, ...]:
    names = tuple(p.name for p in _visible_entries(directory) if p.is_dir())
    if not names:
        raise SourceError(
            f"image folder {directory} has no class subfolders: put the images of each class in a subfolder "
            "named after the class (e.g. 0/, 1/, ...)"
        )
    return names


def check_inside(path: Path, root: str) -> None:
    """Refuse ``path`` when its real path (links resolved) is not inside the real path ``root``."""
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root:
        raise SourceError(
            f"image {path} is a link to {real}, outside the folder {root}: an image folder may only link to "
            "files inside it (copy the file in, or point the source at a folder that holds both)"
        )


@contextlib.contextmanager
def open_image(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Pillow's image of ``path`` with only its header read, refused when it has more pixels than the cap
    (:func:`~movingmnist.limits.image_pixel_cap`): ``.load()`` it inside the ``with`` block.

    Raises:
        SourceError: naming the file, when it cannot be read or is too large (its size and the cap).
    """
    from PIL import Image, UnidentifiedImageError

    limit = image_pixel_cap()
    try:
        with warnings.catch_warnings():  # Pillow warns above 89 megapixels: the cap below says more
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as exc:  # over 179 megapixels: Pillow refuses before we see the size
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = int(found.group(1)) if found else None
        if pixels is not None and pixels > limit:
            raise SourceError(_too_large(path, f"{pixels:,} pixels", limit)) from None
        raise SourceError(f"image {path} cannot be read: Pillow refuses it ({exc}); raise PIL.Image.MAX_IMAGE_PIXELS "
                          "as well as the cap to read it") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise SourceError(f"image {path} cannot be read ({exc})") from exc
    with image:
        width, height = image.size
        if width * height > limit:
            raise SourceError(_too_large(path, f"{width}x{height} = {width * height:,} pixels", limit))
        yield image


def _too_large(path: str | os.PathLike[str], size: str, limit: int) -> str:
    return (
        f"image {path} is {size}, over the cap of {limit:,} pixels per image; it is refused before it is decoded "
        f"(set ${IMAGE_PIXELS_ENV} to raise the cap)"
    )


def _image_files(
    directory: Path, class_names: tuple[str, ...], root: str | None = None
) -> tuple[tuple[str, int, int], ...]:
    """``(path, size, mtime_ns)`` of every image in the stratified order (see the module docstring).

    Every image must lie inside the real path ``root`` (default: ``directory``'s) once links are resolved. The stat
    fields key the decode cache, so that a changed file is read again.
    """
    root = root or os.path.realpath(directory)
    keyed = []
    for class_id, class_name in enumerate(class_names):
        class_dir = directory / class_name
        if not class_dir.is_dir():
            continue
        paths = [
            p for p in _visible_entries(class_dir) if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
        ]
        for rank, p in enumerate(paths):
            check_inside(p, root)
            stat = p.stat()
            # Image `rank` of n sits at (rank + 1/2) / n of the way through the merged order.
            keyed.append(
                ((2 * rank + 1) / (2 * len(paths)), class_id, (str(p), stat.st_size, stat.st_mtime_ns))
            )
    return tuple(file for *_, file in sorted(keyed))


def _load_grey(path: str, size: tuple[int, int] | None) -> np.ndarray:
    """One image as ``(h, w) uint8`` grey, resized to ``size`` (width, height) if given."""
    from PIL import Image

    try:
        with open_image(path) as image:
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                grey_alpha = np.asarray(image.convert("LA"), dtype=np.uint16)
                # Transparent means background: weight grey by alpha (rounded).
                grey = Image.fromarray(
                    ((grey_alpha[..., 0] * grey_alpha[..., 1] + 127) // 255).astype(np.uint8)
                )
            else:
                grey = image.convert("L")
    except OSError as exc:
        raise SourceError(f"image {path} cannot be read ({exc})") from exc
    pixels = np.asarray(grey, dtype=np.uint8)
    if size is not None and grey.size != size:
        from ..resize import bilinear_resize  # Pillow's bilinear rule, independent of the installed Pillow

        pixels = bilinear_resize(pixels, size[1], size[0])
    return pixels


def _image_size(path: str) -> tuple[int, int]:
    with open_image(path) as image:
        return image.size


@functools.lru_cache(maxsize=4)
def _decode(
    files: tuple[tuple[str, int, int], ...], class_dirs: tuple[str, ...], size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    images = np.empty((len(files), size[1], size[0]), np.uint8)
    labels = np.empty(len(files), np.int16)
    class_of = {d: i for i, d in enumerate(class_dirs)}
    for i, (path, _, _) in enumerate(files):
        images[i] = _load_grey(path, size)
        labels[i] = class_of[os.path.dirname(path)]
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def read_image_folder(
    directory: str | os.PathLike[str],
    class_names: tuple[str, ...],
    size: tuple[int, int] | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Read the images in ``directory/<class>/`` for each of ``class_names`` (a missing folder is empty).

    Args:
        directory: the folder holding the class folders.
        class_names: class folder names; the position of a name is its class id.
        size: ``(width, height)`` to resize every image to; None = the size of the first image.
        root: the folder that every image must lie in once links are resolved (default: ``directory``).

    Returns:
        ``images (M, height, width) uint8``, ``labels (M,) int16`` (both read-only; decoded images are cached
        in memory, keyed by the files' paths, sizes and modification times), and the ``(width, height)`` used.
    """
    directory = Path(directory)
    files = _image_files(directory, class_names, os.path.realpath(root if root is not None else directory))
    if not files:
        raise SourceError(
            f"image folder {directory} has no images: looked for {', '.join(IMAGE_EXTENSIONS)} files in its "
            f"class subfolders {', '.join(class_names)}"
        )
    size = size or _image_size(files[0][0])
    check_memory(
        "source", f"folder:{directory}", len(files) * size[0] * size[1],
        f"decoding {len(files):,} images of {size[0]}x{size[1]}", "use fewer or smaller images", error=SourceError,
    )
    class_dirs = tuple(str(directory / c) for c in class_names)
    images, labels = _decode(files, class_dirs, size)
    return images, labels, size


def load_folder_source(name: str, split: str, *, val_size: int | None) -> GlyphBank:
    """Load one split of a ``folder:PATH`` source (see the module docstring for layouts and rules).

    Args:
        name: the source name, ``"folder:PATH"``.
        split: ``train`` (minus the images carved for val), ``val`` (the last ``val_size`` training images)
            or ``test`` (only with a ``test/`` subfolder).
        val_size: images carved from the end of train for ``val``; None = one sixth, 0 = none.

    Returns:
        A GlyphBank of ``(M, h, w) uint8`` images and ``(M,) int16`` labels named ``name``.
    """
    root = Path(name.removeprefix("folder:")).expanduser()
    if not name.removeprefix("folder:") or not root.is_dir():
        raise SourceError(
            f"source {name!r}: {str(root)!r} is not a directory; give folder:PATH where PATH holds one "
            "subfolder of images per class (or train/ and test/ folders laid out so)"
        )
    train_dir = root / "train" if (root / "train").is_dir() else root
    real_root = os.path.realpath(root)  # images must stay inside it, links resolved
    class_names = _class_names(train_dir)
    if split != "test":
        images, labels, _ = read_image_folder(train_dir, class_names, root=real_root)
        bank = GlyphBank(name, "train", images, labels, class_names)
        return carve_split(bank, split, val_size)

    test_dir = root / "test"
    if train_dir is root or not test_dir.is_dir():
        raise SourceError(
            f"source {name!r} has no test split: {root} has no "
            + ("train/ and test/ subfolders" if train_dir is root else "test/ subfolder")
            + "; use split train or val (val is carved from the end of train), or add "
            + f"{test_dir}/<class>/ folders"
        )
    unknown = sorted(set(_class_names(test_dir)) - set(class_names))
    if unknown:
        raise SourceError(
            f"source {name!r}: {test_dir} has class folders that train/ lacks: {', '.join(unknown)} "
            f"(the classes are train/'s: {', '.join(class_names)})"
        )
    # Test images take the training images' size, so that both splits' glyphs match.
    train_files = _image_files(train_dir, class_names, real_root)
    size = _image_size(train_files[0][0]) if train_files else None
    images, labels, _ = read_image_folder(test_dir, class_names, size, root=real_root)
    return GlyphBank(name, "test", images, labels, class_names)
