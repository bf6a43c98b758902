"""IDX files (the format of MNIST and its drop-in replacements) and the ``idx:PATH`` source.

``idx:PATH`` takes one of two forms:

- ``idx:DIR``: a directory holding a training pair and, optionally, a test pair of files. Each file is found
  under one of these names (each also with a ``.gz`` suffix; when both exist the uncompressed one is read):

  ========  ==========================================================================================
  role      accepted names
  ========  ==========================================================================================
  train     ``train-images-idx3-ubyte``, ``train-images.idx3-ubyte``, ``*-train-images-idx3-ubyte``
            and the same with ``labels``/``idx1`` for the labels
  test      as train with ``t10k`` or ``test`` in place of ``train``
  ========  ==========================================================================================

  The ``*-`` prefix covers the EMNIST (``emnist-digits-train-images-idx3-ubyte``) and similar prefixed
  names. A directory holding several prefixed sets (all of EMNIST) is ambiguous: name the pair with the
  second form instead. EMNIST stores its images transposed; they are returned as stored.
- ``idx:IMAGES,LABELS``: one images file and one labels file. They form the training split (``val`` is
  carved from its end); such a source has no ``test`` split.

Class names are ``"0"`` .. ``"N-1"`` where N - 1 is the largest label found in the source's label files.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import math
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np

from ..errors import SourceError
from ..limits import IDX_BYTES_ENV, check_memory, idx_byte_cap
from .bank import GlyphBank, carve_split

__all__ = ["IdxHeader", "find_idx_pair", "load_idx_source", "read_idx", "read_idx_header", "read_idx_pair"]

# IDX type codes (third byte of the magic number) and the big-endian dtypes they denote.
_IDX_DTYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
# File name stems per split (MNIST calls its test split t10k; EMNIST calls it test).
_SPLIT_STEMS = {"train": ("train",), "test": ("t10k", "test")}


class IdxHeader(NamedTuple):
    """What the first bytes of an IDX file promise: the shape and dtype of its data, and their size in bytes."""

    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int  # bytes of the header

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


@contextlib.contextmanager
def _open_idx(path: Path) -> Iterator[tuple[BinaryIO, IdxHeader, bool]]:
    """The data stream of an IDX file (inflated on the fly when gzip-compressed, told apart by the first bytes, not
    the name) positioned after its header, the header, and whether the file is compressed."""
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            stream: BinaryIO = gzip.GzipFile(fileobj=raw) if compressed else raw  # type: ignore[assignment]
            yield stream, _read_header(path, stream), compressed
    except FileNotFoundError:
        raise SourceError(f"IDX file {path} does not exist") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(f"IDX file {path} cannot be read ({exc}): it is corrupt or truncated") from exc


def _read_header(path: Path, stream: BinaryIO) -> IdxHeader:
    magic = stream.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        shown_magic = magic.hex() or "(empty file)"
        raise SourceError(
            f"{path} is not an IDX file: its magic number is {shown_magic}, but an IDX file starts with two zero "
            "bytes, a type code and the number of dimensions (e.g. 00000803 for uint8 images)"
        )
    code, ndim = magic[2], magic[3]
    if code not in _IDX_DTYPES:
        allowed = ", ".join(f"0x{c:02x} ({np.dtype(t).name})" for c, t in _IDX_DTYPES.items())
        raise SourceError(f"IDX file {path} has type code 0x{code:02x}; the IDX format allows {allowed}")
    dims = stream.read(4 * ndim)
    if ndim == 0 or len(dims) < 4 * ndim:
        raise SourceError(
            f"IDX file {path} has a broken header ({ndim} dimensions, {4 + len(dims)} bytes in all)"
        )
    shape = struct.unpack(f">{ndim}I", dims)
    return IdxHeader(shape, np.dtype(_IDX_DTYPES[code]), 4 + 4 * ndim)


def _check_size(path: str | os.PathLike[str], header: IdxHeader, limit: int) -> None:
    """Refuse a file whose header promises more than ``limit`` bytes of data, or more than the memory holds."""
    shape, dtype, expected = header.shape, header.dtype, header.nbytes
    if expected > limit:
        raise SourceError(
            f"IDX file {path}: its header (shape {shape}, {dtype.name}) promises {expected:,} bytes of data, over "
            f"the cap of {limit:,} bytes per file; it is refused before its data is read or inflated (set "
            f"${IDX_BYTES_ENV} to raise the cap)"
        )
    check_memory("source", f"idx:{path}", expected, f"the data of IDX file {path} (shape {shape}, {dtype.name})",
                 "use a smaller file", error=SourceError)


def read_idx_header(path: str | os.PathLike[str]) -> IdxHeader:
    """The header of an IDX file (only its first bytes are read, or inflated)."""
    with _open_idx(Path(path)) as (_, header, _):
        return header


def read_idx(
    path: str | os.PathLike[str], *, ndim: int | None = None, count: int | None = None, max_bytes: int | None = None
) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw (told apart by the file's first bytes, not its name).

    The header is read first and checked before any data is read or inflated: a small gzip file can inflate to
    gigabytes, so the data may take at most ``max_bytes`` (default :func:`~movingmnist.limits.idx_byte_cap`, 2 GiB,
    ``$MOVINGMNIST_MAX_IDX_BYTES``) and fit in memory, and the file may hold no more than its header promises.

    Args:
        path: the file.
        ndim: the number of dimensions required (3 for images, 1 for labels), or None for any.
        count: the length of the first dimension required (the images of a labels file), or None for any.
        max_bytes: the most bytes of data read (after decompression).

    Returns:
        The array with the shape and dtype the file's header gives, in native byte order, e.g.
        ``(M, h, w) uint8`` for an images file and ``(M,) uint8`` for a labels file. It may be read-only.

    Raises:
        SourceError: naming the file, when it is missing, not gzip-readable, has a bad magic number or
            type code, a shape other than asked, more bytes of data than the cap, or holds fewer or more bytes
            than its header says.
    """
    path = Path(path)
    limit = max_bytes if max_bytes is not None else idx_byte_cap()
    with _open_idx(path) as (stream, header, compressed):
        shape, dtype, expected = header.shape, header.dtype, header.nbytes
        if ndim is not None and len(shape) != ndim:
            raise SourceError(f"IDX file {path} holds a {len(shape)}-dimensional array {shape}; it must be {ndim}-"
                              f"dimensional ({'(M, h, w) images' if ndim == 3 else '(M,) labels'})")
        if count is not None and shape[0] != count:
            raise SourceError(f"IDX file {path} holds {shape[0]:,} items but its pair holds {count:,}: the files "
                              "do not match")
        _check_size(path, header, limit)
        if not compressed:  # a raw file's size is known: no need to read a short or long one
            size = os.fstat(stream.fileno()).st_size - header.offset
            if size != expected:
                raise SourceError(
                    f"IDX file {path} holds {size} bytes of data but its header (shape {shape}, {dtype.name}) "
                    f"needs {expected}: the file is truncated or corrupt"
                )
        data = bytearray(expected)
        view, got = memoryview(data), 0
        while got < expected:
            n = stream.readinto(view[got:])
            if not n:
                break
            got += n
        if got < expected:
            raise SourceError(
                f"IDX file {path} holds {got} bytes of data but its header (shape {shape}, {dtype.name}) "
                f"needs {expected}: the file is truncated or corrupt"
            )
        if stream.read(1):
            raise SourceError(
                f"IDX file {path} holds more than the {expected} bytes of data that its header (shape {shape}, "
                f"{dtype.name}) needs{' once inflated' if compressed else ''}: the file is corrupt (reading "
                "stopped there)"
            )
    array = np.frombuffer(data, dtype).reshape(shape)
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def read_idx_pair(
    images_path: str | os.PathLike[str], labels_path: str | os.PathLike[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Read and check an images file and its labels file.

    Decoded pairs are kept in memory (keyed by path, size and modification time), so that ``train`` and
    ``val``, which are carved from the same files, decode them once.

    Returns:
        ``images (M, h, w) uint8`` and ``labels (M,) int16``, both read-only.
    """
    keys = [_file_key(Path(p)) for p in (images_path, labels_path)]
    return _read_pair_cached(*keys)


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise SourceError(f"IDX file {path} does not exist") from None
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=4)
def _read_pair_cached(
    images_key: tuple[str, int, int], labels_key: tuple[str, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    images_path, labels_path = images_key[0], labels_key[0]
    # Both headers are checked before either file's data is read (or inflated).
    images_header, labels_header = read_idx_header(images_path), read_idx_header(labels_path)
    if len(images_header.shape) != 3 or images_header.dtype != np.uint8:
        raise SourceError(
            f"IDX images file {images_path} must hold a (M, h, w) uint8 array, got {images_header.dtype.name} "
            f"{images_header.shape}"
        )
    if len(labels_header.shape) != 1 or labels_header.dtype.kind not in "iu":
        raise SourceError(
            f"IDX labels file {labels_path} must hold a (M,) integer array, "
            f"got {labels_header.dtype.name} {labels_header.shape}"
        )
    if labels_header.shape[0] != images_header.shape[0]:
        raise SourceError(
            f"IDX files {images_path} ({images_header.shape[0]} images) and {labels_path} "
            f"({labels_header.shape[0]} labels) do not match"
        )
    limit = idx_byte_cap()
    _check_size(images_path, images_header, limit)
    _check_size(labels_path, labels_header, limit)
    labels = read_idx(labels_path, ndim=1)
    images = read_idx(images_path, ndim=3, count=len(labels))
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) > np.iinfo(np.int16).max):
        raise SourceError(
            f"IDX labels file {labels_path} has labels in [{labels.min()}, {labels.max()}]; "
            f"they must lie in [0, {np.iinfo(np.int16).max}]"
        )
    labels = labels.astype(np.int16)
    for array in (images, labels):
        array.setflags(write=False)
    return images, labels


def find_idx_pair(directory: str | os.PathLike[str], split: str) -> tuple[Path, Path]:
    """Find the images and labels files of ``split`` (``train`` or ``test``) in ``directory``.

    See the module docstring for the names accepted.

    Raises:
        SourceError: listing the names looked for when a file is missing, or the candidates when several
            files fit one role.
    """
    directory = Path(directory)
    names = sorted(p.name for p in directory.iterdir() if p.is_file())
    found = []
    for kind, dims in (("images", 3), ("labels", 1)):
        patterns = []
        for stem in _SPLIT_STEMS[split]:
            patterns += [f"{stem}-{kind}-idx{dims}-ubyte", f"{stem}-{kind}.idx{dims}-ubyte"]
        prefixed = tuple(f"-{p}" for p in patterns if "." not in p)
        # A name without .gz and the same name with .gz are one file: prefer the uncompressed one.
        matches = sorted(
            {
                n.removesuffix(".gz")
                for n in names
                if n.removesuffix(".gz") in patterns or n.removesuffix(".gz").endswith(prefixed)
            }
        )
        if not matches:
            looked_for = (
                ", ".join(f"{p}[.gz]" for p in patterns) + ", " + ", ".join(f"*{p}[.gz]" for p in prefixed)
            )
            raise SourceError(
                f"no {split} {kind} file in {directory}: looked for {looked_for}"
                + (f" (the directory holds {', '.join(names)})" if names else " (the directory is empty)")
            )
        if len(matches) > 1:
            raise SourceError(
                f"several {split} {kind} files in {directory}: {', '.join(matches)}; name the pair you "
                f"want as idx:{directory}/IMAGES,{directory}/LABELS"
            )
        stem = matches[0]
        found.append(directory / (stem if stem in names else stem + ".gz"))
    return found[0], found[1]


def load_idx_source(name: str, split: str, *, val_size: int | None) -> GlyphBank:
    """Load one split of an ``idx:PATH`` source (see the module docstring for the forms of PATH).

    Args:
        name: the source name, ``"idx:DIR"`` or ``"idx:IMAGES,LABELS"``.
        split: ``train`` (minus the images carved for val), ``val`` (the last ``val_size`` training images)
            or ``test``.
        val_size: images carved from the end of the training split for ``val``; None = one sixth, 0 = none.

    Returns:
        A GlyphBank of ``(M, h, w) uint8`` images and ``(M,) int16`` labels named ``name``.
    """
    spec = name.removeprefix("idx:")
    file_split = "test" if split == "test" else "train"  # val is carved from the training files
    if not spec:
        raise SourceError("source='idx:' needs a path: idx:DIRECTORY or idx:IMAGES_FILE,LABELS_FILE")
    if "," in spec:
        images_path, labels_path = (Path(p.strip()).expanduser() for p in spec.split(",", 1))
        if split == "test":
            raise SourceError(
                f"source {name!r} is one images/labels pair, which has no test split: use split train or "
                "val (val is carved from the end of the pair), or give a directory holding train-* and "
                "t10k-* files"
            )
        pairs = {"train": (images_path, labels_path)}
    else:
        directory = Path(spec).expanduser()
        if not directory.is_dir():
            raise SourceError(
                f"source {name!r}: {directory} is not a directory; give idx:DIRECTORY (holding train-* and "
                "t10k-* IDX files) or idx:IMAGES_FILE,LABELS_FILE"
            )
        pairs = {file_split: find_idx_pair(directory, file_split)}
        # The other split's labels are read too (they are small) so that both splits get the same class names.
        other = "train" if split == "test" else "test"
        try:
            pairs[other] = find_idx_pair(directory, other)
        except SourceError:
            pass
    images, labels = read_idx_pair(*pairs[file_split])
    n_classes = 1 + max(int(read_idx(p, ndim=1).max(initial=0)) for _, p in pairs.values())
    bank = GlyphBank(name, file_split, images, labels, tuple(str(i) for i in range(n_classes)))
    return bank if split == "test" else carve_split(bank, split, val_size)
