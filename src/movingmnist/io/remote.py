"""Datasets on object storage: any fsspec URL (``s3://bucket/train.zarr``, ``gs://``, ``az://``, ``memory://``...).

The zarr writer, the manifest, the writer lock and the reader reach a URL only through the few functions here. An
object store replaces an object whole with one PUT: a reader sees the old object or the new one, never a part. So
shards, the manifest and the metadata are each written with one ``pipe_file`` (no temporary object and no rename:
stores have no atomic rename, and need none).

Storage options (endpoint, credentials, region...) come from fsspec's usual sources when none are given: the
backend's own environment variables and files (for S3: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_ENDPOINT_URL``, ``~/.aws``), and fsspec's configuration (``FSSPEC_S3_ENDPOINT_URL``, ``~/.config/fsspec``).
A ``storage_options`` dict given in Python is passed to the filesystem as keyword arguments and takes precedence.
"""

from __future__ import annotations

import errno
import posixpath
from collections.abc import Mapping
from typing import Any

from ..errors import DatasetError, MissingDependencyError

StorageOptions = Mapping[str, Any] | None


def is_remote(path: Any) -> bool:
    """Whether ``path`` is a URL of a store other than the local filesystem (``file://`` paths are local)."""
    text = str(path)
    return "://" in text and not text.startswith("file://")


def join(url: str, *parts: str) -> str:
    """``url`` with ``parts`` appended, ``/``-separated (the key layout of every object store)."""
    return posixpath.join(url.rstrip("/"), *parts)


class as_oserror:
    """Context manager: an exception of a store's client that is neither an OSError nor one of this package's errors
    (botocore's connection errors, for instance) is raised as an OSError (EIO) with its text, so that callers
    report it in one line as they report local I/O errors."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        from ..errors import MovingMNISTError

        if exc is None or isinstance(exc, (OSError, MovingMNISTError)) or not isinstance(exc, Exception):
            return False
        raise OSError(errno.EIO, f"{type(exc).__name__}: {exc}") from exc


def filesystem(url: str, storage_options: StorageOptions = None) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path of ``url`` inside it (for S3: ``bucket/key``).

    Raises MissingDependencyError naming the extra when fsspec or the protocol's package (s3fs, gcsfs...) is not
    installed, DatasetError for an unknown protocol or options the filesystem refuses."""
    try:
        import fsspec.core
    except ImportError as exc:
        raise MissingDependencyError(
            f"object storage ({url}) needs the optional dependency 'fsspec', which is not installed: "
            'pip install "movingmnist[s3]" (s3fs; gcsfs or adlfs for gs:// or az://)'
        ) from exc
    try:
        fs, root = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as exc:
        raise MissingDependencyError(
            f"{url}: {exc}; for s3:// URLs: pip install \"movingmnist[s3]\""
        ) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise DatasetError(f"cannot use {url}: {exc}") from None
    return fs, root


def read_bytes(url: str, storage_options: StorageOptions = None) -> bytes:
    """The whole object at ``url``; FileNotFoundError when there is none."""
    fs, path = filesystem(url, storage_options)
    with as_oserror():
        return fs.cat_file(path)


def write_bytes(url: str, data: bytes | memoryview | list, storage_options: StorageOptions = None) -> int:
    """Write ``data`` (bytes, or a list of buffers) as the object at ``url`` with one PUT (atomic on object
    stores: readers see the old object or the new one); returns the number of bytes."""
    fs, path = filesystem(url, storage_options)
    payload = b"".join(bytes(p) for p in data) if isinstance(data, list) else bytes(data)
    with as_oserror():
        fs.pipe_file(path, payload)
    return len(payload)


def exists(url: str, storage_options: StorageOptions = None) -> bool:
    """Whether an object, or objects under the prefix ``url/``, exist (listings are read afresh)."""
    fs, path = filesystem(url, storage_options)
    with as_oserror():
        fs.invalidate_cache(path)
        return bool(fs.exists(path))


def is_file(url: str, storage_options: StorageOptions = None) -> bool:
    fs, path = filesystem(url, storage_options)
    with as_oserror():
        fs.invalidate_cache(path)
        return bool(fs.isfile(path))


def remove(url: str, storage_options: StorageOptions = None, *, last: tuple[str, ...] = ()) -> None:
    """Delete the object ``url`` and every object under ``url/`` (nothing there is fine); the objects named in
    ``last`` (keys relative to ``url``) go after all the others."""
    fs, path = filesystem(url, storage_options)
    path = path.rstrip("/")
    with as_oserror():
        fs.invalidate_cache(path)
        if not fs.exists(path):
            return
        keys = fs.find(path) if fs.isdir(path) else [path]
        final = [k for k in (f"{path}/{name}" for name in last) if k in set(keys)]
        rest = [k for k in keys if k not in final]
        if rest:
            fs.rm(rest)
        if final:
            fs.rm(final)
        fs.invalidate_cache(path)


def disk_usage(url: str, storage_options: StorageOptions = None) -> int:
    """Bytes stored in the object ``url`` and under ``url/``."""
    fs, path = filesystem(url, storage_options)
    try:
        with as_oserror():
            fs.invalidate_cache(path)
            return int(fs.du(path, total=True))
    except FileNotFoundError:
        return 0


def list_names(url: str, storage_options: StorageOptions = None) -> set[str]:
    """Names of the entries directly under ``url/`` (objects and prefixes), read afresh; empty when none."""
    fs, path = filesystem(url, storage_options)
    try:
        with as_oserror():
            fs.invalidate_cache(path)
            entries = fs.ls(path, detail=False)
    except FileNotFoundError:
        return set()
    return {posixpath.basename(str(e).rstrip("/")) for e in entries}
