"""The MNIST family (``mnist``, ``fashion-mnist``, ``kmnist``): download from mirrors, verify, cache.

Each family is four gzip-compressed IDX files. A split needs two of them (``test`` the ``t10k-*`` pair,
``train`` and ``val`` the ``train-*`` pair), and only those are fetched. Every file is checked against its
published checksum before it is used:

- downloads go through pooch, which writes to a temporary file in the cache directory, checks its hash and
  only then renames it into place, so a killed, truncated or corrupt download never takes the file's name;
- a file already in the cache is hashed on every load; one with the wrong hash is downloaded again (and, when
  that fails or ``download=False``, refused with an error), never used.

Mirrors are tried in order: the base URLs in ``$MOVINGMNIST_MIRRORS`` (comma-separated; ``{name}`` in a URL
is replaced by the family name, e.g. ``https://example.org/data/{name}/``) and then the family's own. The
``mirrors=`` argument of the functions below replaces both. When every mirror fails, :class:`DownloadError`
lists each URL tried with its error and the exact paths to save the files to by hand.

Cache directory: the ``cache_dir`` argument, else ``$MOVINGMNIST_CACHE``, else
``pooch.os_cache("movingmnist")`` (e.g. ``~/.cache/movingmnist``); family ``NAME`` lives in ``<cache>/NAME/``
under the files' original names.

:data:`FAMILIES` is the registry; :func:`register_family` adds to it (another IDX dataset such as EMNIST,
or, in tests, a family served from 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DownloadError, SourceError
from .bank import GlyphBank, carve_split
from .idx import read_idx_pair

__all__ = [
    "FAMILIES",
    "Family",
    "RemoteFile",
    "cache_root",
    "download_source",
    "fetch_split_files",
    "load_mnist_family",
    "mirror_urls",
    "register_family",
]

CACHE_ENV = "MOVINGMNIST_CACHE"
MIRRORS_ENV = "MOVINGMNIST_MIRRORS"
TIMEOUT_ENV = "MOVINGMNIST_DOWNLOAD_TIMEOUT"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a family.

    Attributes:
        name: file name on every mirror and in the cache, e.g. ``"t10k-images-idx3-ubyte.gz"``.
        size: size in bytes (shown in messages; the hash is what is checked).
        known_hash: checksum in pooch's form ``"sha256:<hex>"`` (or ``"md5:<hex>"``).
    """

    name: str
    size: int
    known_hash: str


@dataclass(frozen=True)
class Family:
    """A dataset published as MNIST-style IDX files.

    Attributes:
        name: source name, also the cache subdirectory.
        train: ``(images, labels)`` files of the training split (``val`` is carved from its end).
        test: ``(images, labels)`` files of the test split.
        mirrors: base URLs, tried in order; a file's URL is the base URL followed by its name.
        class_names: name of each class id.
    """

    name: str
    train: tuple[RemoteFile, RemoteFile]
    test: tuple[RemoteFile, RemoteFile]
    mirrors: tuple[str, ...]
    class_names: tuple[str, ...]

    def files(self, split: str) -> tuple[RemoteFile, RemoteFile]:
        """The ``(images, labels)`` files that ``split`` (train, val or test) is read from."""
        return self.test if split == "test" else self.train


def _standard(files: Sequence[tuple[int, str]]) -> dict[str, tuple[RemoteFile, RemoteFile]]:
    """Train and test pairs under MNIST's four file names, from (size, hash) in the order
    train-images, train-labels, t10k-images, t10k-labels."""
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    names += ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    remote = [RemoteFile(n, size, digest) for n, (size, digest) in zip(names, files, strict=True)]
    return {"train": (remote[0], remote[1]), "test": (remote[2], remote[3])}


FAMILIES: dict[str, Family] = {
    "mnist": Family(
        "mnist",
        **_standard(
            [
                (9912422, "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
                (28881, "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
                (1648877, "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
                (4542, "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
            ]
        ),
        # yann.lecun.com now answers 403/404 to most clients: last resort only.
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        class_names=tuple(str(i) for i in range(10)),
    ),
    "fashion-mnist": Family(
        "fashion-mnist",
        **_standard(
            [
                (26421880, "sha256:3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
                (29515, "sha256:a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
                (4422102, "sha256:346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
                (5148, "sha256:67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
            ]
        ),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
    ),
    # The KMNIST authors (rois-codh/kmnist) publish no checksums. These sha256 and sizes are the ones several
    # independent libraries pin for the files at codh.rois.ac.jp, and they agree; torchvision pins md5
    # bdb82020997e1d708af4cf47b453dcf7, e144d726b3acfaa3e44228e80efcd344, 5c965bf0a639b31b8f53240b1b52f4d7,
    # 7320c461ea6c1c855c0b718fb2a4b134 for the same four files.
    "kmnist": Family(
        "kmnist",
        **_standard(
            [
                (18165135, "sha256:51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"),
                (29497, "sha256:e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"),
                (3041136, "sha256:edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"),
                (5120, "sha256:20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"),
            ]
        ),
        mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        # One hiragana from each row of the syllabary, romanised.
        class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    ),
}


def register_family(family: Family) -> None:
    """Add ``family`` to :data:`FAMILIES` (replacing one of the same name), making it a source name."""
    FAMILIES[family.name] = family


def _family(name: str) -> Family:
    if name not in FAMILIES:
        raise SourceError(f"source={name!r} is not allowed here: choose one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache directory: ``cache_dir``, else ``$MOVINGMNIST_CACHE``, else pooch's per-user cache."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import pooch

    return Path(pooch.os_cache("movingmnist"))


def mirror_urls(family: Family, mirrors: Sequence[str] | None = None) -> list[str]:
    """Base URLs to try, in order: ``mirrors`` if given, else ``$MOVINGMNIST_MIRRORS`` then the family's."""
    if mirrors is None:
        env = [u.strip() for u in os.environ.get(MIRRORS_ENV, "").split(",") if u.strip()]
        mirrors = [*env, *family.mirrors]
    bases = [u.replace("{name}", family.name) for u in mirrors]
    return list(dict.fromkeys(u if u.endswith("/") else u + "/" for u in bases))


def _is_valid(path: Path, file: RemoteFile) -> bool:
    """Whether ``path`` is a file whose checksum is ``file.known_hash`` (``alg:hex``, or bare sha256 hex)."""
    if not path.is_file():
        return False
    algorithm, _, expected = file.known_hash.rpartition(":")
    digest = hashlib.new(algorithm or "sha256")
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == expected.lower()


def _describe(exc: BaseException) -> str:
    """A one-line reason for a failed download (requests' messages run to several hundred characters)."""
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return f"HTTP {response.status_code} {response.reason or ''}".strip()
    text = str(exc)
    errno = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    if errno:
        return f"{type(exc).__name__}: {errno.group(0).strip()}"
    got = re.search(r"but got (\w+)", text)
    if isinstance(exc, ValueError) and got:
        return (
            f"checksum mismatch, got {got.group(1)[:16]}... (an error page, a truncated or a different file; "
            "deleted)"
        )
    text = " ".join(text.split())
    return f"{type(exc).__name__}: {text[:200]}{'...' if len(text) > 200 else ''}"


def _fetch(
    family: Family,
    files: Sequence[RemoteFile],
    cache_dir: Path,
    download: bool,
    mirrors: Sequence[str] | None,
) -> list[Path]:
    """Paths of ``files`` in ``cache_dir / family.name``, each verified, downloading those that need it."""
    directory = cache_dir / family.name
    paths = [directory / f.name for f in files]
    todo = [(f, p) for f, p in zip(files, paths, strict=True) if not _is_valid(p, f)]
    if not todo:
        return paths
    if not download:
        lines = [
            f"  {p}" + (" (present, but its checksum does not match: not used)" if p.exists() else "")
            for _, p in todo
        ]
        hint = f"Allow downloads, run `movingmnist download {family.name}`, or save the files there by hand."
        raise SourceError(
            f"source {family.name!r} needs files that are not in the cache and download=False:\n"
            + "\n".join([*lines, hint])
        )
    import pooch

    directory.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(directory, 2 * download_timeout(max(f.size for f, _ in todo)))
    failures: list[tuple[RemoteFile, Path, list[str]]] = []
    with _quiet_pooch(pooch):
        _download_all(todo, family, mirrors, directory, failures)
    if failures:
        raise DownloadError(_short_download_message(family, failures), _download_message(family, failures, cache_dir))
    return paths


@contextlib.contextmanager
def _quiet_pooch(pooch: Any) -> Iterator[None]:
    """pooch logs a "Downloading data from ..." line per attempt; the outcome is ours to report."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def download_timeout(size: int) -> float:
    """Seconds one file of ``size`` bytes may take in all: ``$MOVINGMNIST_DOWNLOAD_TIMEOUT``, else 30 s plus the time
    at 100 kB/s (a mirror that trickles is left for the next one; a read that stalls gives up after 30 s)."""
    env = os.environ.get(TIMEOUT_ENV)
    if env:
        try:
            return max(0.1, float(env))
        except ValueError:
            raise SourceError(f"${TIMEOUT_ENV}={env!r} is not allowed: a number of seconds") from None
    return 30.0 + size / 100e3


def _bounded_downloader(size: int, timeout: float) -> Any:
    """A pooch downloader that stops past ``size`` bytes (the file's known size) and past ``timeout`` seconds."""

    def download(url: str, output_file: Any, _pooch: Any) -> None:
        import requests

        deadline = time.monotonic() + timeout
        with requests.get(url, stream=True, timeout=(10, min(30.0, timeout))) as response:
            response.raise_for_status()
            sink = open(output_file, "w+b") if isinstance(output_file, (str, os.PathLike)) else output_file
            try:
                received = 0
                for block in _blocks_as_they_arrive(response):
                    received += len(block)
                    if received > size:
                        raise OSError(f"the response is longer than the file's {size:,} bytes: stopped")
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{received:,} of {size:,} bytes after {timeout:.0f} s: too slow, stopped "
                                           f"(${TIMEOUT_ENV} sets the limit)")
                    sink.write(block)
            finally:
                if sink is not output_file:
                    sink.close()

    return download


def _blocks_as_they_arrive(response: Any) -> Iterator[bytes]:
    """The body in blocks of whatever has arrived (a fixed block size would wait for a trickling mirror to fill it,
    past the time limit)."""
    raw = response.raw
    if not hasattr(raw, "read1"):  # urllib3 < 2
        yield from response.iter_content(chunk_size=1 << 10)
        return
    from urllib3.exceptions import HTTPError

    try:
        while block := raw.read1(1 << 16, decode_content=True):
            yield block
    except HTTPError as exc:  # a dropped connection (IncompleteRead): an OSError like requests' own errors
        raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc


def _remove_stale_temporaries(directory: Path, age: float) -> None:
    """Temporary files of downloads killed mid-way (pooch names them ``tmp*``): removed once no download could still
    be writing them (untouched for ``age`` seconds, longer than a download may take)."""
    cutoff = time.time() - age
    for tmp in directory.glob("tmp*"):
        with contextlib.suppress(OSError):
            if tmp.is_file() and tmp.stat().st_mtime < cutoff:
                tmp.unlink()


def _download_all(todo, family, mirrors, directory, failures) -> None:
    """Download each file of ``todo`` from the first mirror that works; append the others to ``failures``."""
    import pooch

    for file, path in todo:
        downloader = _bounded_downloader(file.size, download_timeout(file.size))
        errors = []
        for base in mirror_urls(family, mirrors):
            url = base + file.name
            # retrieve() streams to a temporary file next to `path`, checks the hash, then renames it.
            # requests' errors are OSErrors; pooch reports a hash mismatch as a ValueError.
            try:
                pooch.retrieve(url, file.known_hash, fname=file.name, path=directory, downloader=downloader)
                break
            except (OSError, ValueError) as exc:
                errors.append(f"    {url}: {_describe(exc)}")
        else:
            failures.append((file, path, errors))


def _short_download_message(family: Family, failures: list[tuple[RemoteFile, Path, list[str]]]) -> str:
    """At most three lines: what failed (with one error as an example), the fixes, where the details are."""
    attempts = [e for _, _, errors in failures for e in errors]
    example = attempts[0].split(": ", 1)[1] if attempts else "no mirrors to try"
    return "\n".join(
        [
            f"could not download {len(failures)} file(s) of source {family.name!r}: {len(attempts)} attempt(s) "
            f"failed (e.g. {example[:120]})",
            f"offline? use --source glyphs (built in), or run `movingmnist download {family.name}` on a connected "
            f"machine and copy its cache here (or read copied IDX files with idx:/path/to/folder)",
            f"other mirrors: ${MIRRORS_ENV} (comma-separated base URLs); every URL tried and where to save each file "
            f"by hand: --verbose (DownloadError.detail)",
        ]
    )


def _download_message(family: Family, failures: list[tuple[RemoteFile, Path, list[str]]], cache: Path) -> str:
    lines = [f"could not download {len(failures)} file(s) of source {family.name!r} from any mirror:"]
    for file, path, errors in failures:
        lines.append(f"  {file.name} ({file.size:,} bytes, {file.known_hash}):")
        lines += errors or ["    (no mirrors to try)"]
        if path.exists():
            lines.append(f"    (the file already at {path} does not match this checksum: not used)")
    lines.append("To install them by hand, download each file from a mirror above and save it as:")
    lines += [f"  {path}" for _, path, _ in failures]
    lines.append(
        f"(cache directory {cache}: the cache_dir argument, else ${CACHE_ENV}, else the user cache). "
        f"Other mirrors can be listed in ${MIRRORS_ENV} (comma-separated base URLs)."
    )
    return "\n".join(lines)


def fetch_split_files(
    name: str,
    split: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[Path, Path]:
    """The verified ``(images, labels)`` files of one split of family ``name``, downloaded if needed.

    Raises:
        DownloadError: every mirror failed for some file (the message lists each URL with its error and
            the paths to save the files to by hand).
        SourceError: a file is missing or corrupt and ``download`` is False.
    """
    family = _family(name)
    images, labels = _fetch(family, family.files(split), cache_root(cache_dir), download, mirrors)
    return images, labels


def load_mnist_family(
    name: str,
    split: str,
    *,
    val_size: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> GlyphBank:
    """Load one split of an MNIST-family source, fetching only the two files that split needs.

    Args:
        name: a family name (``mnist``, ``fashion-mnist``, ``kmnist`` or one registered).
        split: ``train`` (minus the images carved for val), ``val`` (the last ``val_size`` training images)
            or ``test``.
        val_size: images carved from the end of train for ``val``; None = one sixth (10,000 of 60,000),
            0 = none.
        cache_dir: cache directory (see the module docstring for the default).
        download: fetch missing or corrupt files; if False such files are an error.
        mirrors: base URLs to try instead of ``$MOVINGMNIST_MIRRORS`` and the built-in ones.

    Returns:
        A GlyphBank of ``(M, 28, 28) uint8`` images and ``(M,) int16`` labels.
    """
    family = _family(name)
    file_split = "test" if split == "test" else "train"
    images_path, labels_path = fetch_split_files(
        name, file_split, cache_dir=cache_dir, download=download, mirrors=mirrors
    )
    images, labels = read_idx_pair(images_path, labels_path)
    bank = GlyphBank(name, file_split, images, labels, family.class_names)
    return bank if split == "test" else carve_split(bank, split, val_size)


def download_source(
    name: str,
    cache_dir: str | os.PathLike[str] | None = None,
    splits: Sequence[str] = ("train", "test"),
    *,
    mirrors: Sequence[str] | None = None,
) -> list[Path]:
    """Download and verify the files ``splits`` of family ``name`` need (for ``movingmnist download``).

    Files already in the cache with the right checksum are not downloaded again.

    Returns:
        The paths of the verified files, train pair first.
    """
    family = _family(name)
    bad = [s for s in splits if s not in ("train", "val", "test")]
    if bad:
        raise SourceError(f"splits={bad!r} are not allowed: choose from train, val, test")
    file_splits = sorted({"test" if s == "test" else "train" for s in splits}, key=("train", "test").index)
    files = [f for s in file_splits for f in family.files(s)]
    return _fetch(family, files, cache_root(cache_dir), True, mirrors)
