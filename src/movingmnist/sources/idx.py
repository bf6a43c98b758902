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

import functools
import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from ..errors import SourceError
from .bank import GlyphBank, carve_split

__all__ = ["find_idx_pair", "load_idx_source", "read_idx", "read_idx_pair"]

# IDX type codes (third byte of the magic number) and the big-endian dtypes they denote.
_IDX_DTYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
# File name stems per split (MNIST calls its test split t10k; EMNIST calls it test).
_SPLIT_STEMS = {"train": ("train",), "test": ("t10k", "test")}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw (told apart by the file's first bytes, not its name).

    Returns:
        The array with the shape and dtype the file's header gives, in native byte order, e.g.
        ``(M, h, w) uint8`` for an images file and ``(M,) uint8`` for a labels file. It may be read-only.

    Raises:
        SourceError: naming the file, when it is missing, not gzip-readable, has a bad magic number or
            type code, or holds fewer or more bytes than its header says.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            compressed = f.read(2) == _GZIP_MAGIC
            f.seek(0)
            data = gzip.GzipFile(fileobj=f).read() if compressed else f.read()
    except FileNotFoundError:
        raise SourceError(f"IDX file {path} does not exist") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(f"IDX file {path} cannot be read ({exc}): it is corrupt or truncated") from exc

    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        magic = data[:4].hex() or "(empty file)"
        raise SourceError(
            f"{path} is not an IDX file: its magic number is {magic}, but an IDX file starts with two zero "
            "bytes, a type code and the number of dimensions (e.g. 00000803 for uint8 images)"
        )
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        allowed = ", ".join(f"0x{c:02x} ({np.dtype(t).name})" for c, t in _IDX_DTYPES.items())
        raise SourceError(f"IDX file {path} has type code 0x{code:02x}; the IDX format allows {allowed}")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise SourceError(
            f"IDX file {path} has a broken header ({ndim} dimensions, {len(data)} bytes in all)"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise SourceError(
            f"IDX file {path} holds {len(data) - header} bytes of data but its header (shape {dims}, "
            f"{dtype.name}) needs {expected}: the file is truncated or corrupt"
        )
    array = np.frombuffer(data, dtype, offset=header).reshape(dims)
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
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise SourceError(
            f"IDX images file {images_path} must hold a (M, h, w) uint8 array, got {images.dtype.name} "
            f"{images.shape}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise SourceError(
            f"IDX labels file {labels_path} must hold a (M,) integer array, "
            f"got {labels.dtype.name} {labels.shape}"
        )
    if labels.shape[0] != images.shape[0]:
        raise SourceError(
            f"IDX files {images_path} ({images.shape[0]} images) and {labels_path} "
            f"({labels.shape[0]} labels) do not match"
        )
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
    n_classes = 1 + max(int(read_idx(p).max(initial=0)) for _, p in pairs.values())
    bank = GlyphBank(name, file_split, images, labels, tuple(str(i) for i in range(n_classes)))
    return bank if split == "test" else carve_split(bank, split, val_size)
