"""Files of a dataset: atomic, durable writes, deletion, sizes, and one-line errors for failed storage operations."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil

from ..errors import DatasetError

#: Temporary files of :func:`atomic_write`: ``.<name>.<pid>-<8 hex digits>.tmp``.
TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(r"^\..+\.\d+-[0-9a-f]{8}\.tmp$")


def remove_stale_temps(path: str) -> int:
    """Remove the temporary files that killed writes left in the dataset at ``path`` (inside it, and its sidecar
    files' beside it). Only for a run that holds the dataset's writer lock: no other write can be under way."""
    path = path.rstrip("/" + os.sep)
    directory, name = os.path.split(os.path.abspath(path))
    # beside it: only the temporaries of the file itself and of its sidecars, never another dataset's
    beside = re.compile(rf"^\.{re.escape(name)}(\.json|\.manifest\.json)?\.\d+-[0-9a-f]{{8}}\.tmp$")
    found = [os.path.join(directory, n) for n in _listdir(directory) if beside.match(n)]
    if os.path.isdir(path):
        for root, _, files in os.walk(path):
            found += [os.path.join(root, n) for n in files if _TEMP_NAME.match(n)]
    for item in found:
        with contextlib.suppress(OSError):
            os.remove(item)
    return len(found)


def _listdir(directory: str) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []


def fsync_dir(path: str) -> None:
    """Make a rename or a new entry in directory ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes | memoryview | list, *, durable: bool = True) -> int:
    """Write ``data`` (bytes, or a list of buffers written one after the other) to ``path`` atomically.

    The bytes go to a temporary file beside ``path``, named for this process and call (two writers of the same
    file never share one; a failed write removes it, and :func:`remove_stale_temps` clears those a killed run left),
    are fsync'ed when ``durable``, and replace ``path`` with ``os.replace``. Returns the number of bytes written.
    """
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}-{os.urandom(4).hex()}{TEMP_SUFFIX}")
    parts = data if isinstance(data, list) else [data]
    total = 0
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            for part in parts:
                view = memoryview(part).cast("B")
                while view.nbytes:
                    written = os.write(fd, view)
                    total += written
                    view = view[written:]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    if durable:
        fsync_dir(directory or ".")
    return total


def storage_error(exc: OSError, path: str, doing: str, *, resumable: bool = True) -> DatasetError:
    """A one-line DatasetError for an OSError met while ``doing`` something to the dataset at ``path``."""
    reason = exc.strerror or str(exc)
    again = "run again with --resume" if resumable else "run again"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = f"free some space (or raise the quota) and {again}"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) or not resumable:
        hint = "choose a writable location" if resumable else "choose a writable location; nothing was written"
    else:
        hint = f"fix the cause and {again}"
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    return DatasetError(f"{doing} of {path} failed: {reason}{where}; {hint}")


def remove_path(path: str) -> None:
    """Delete a file or a directory tree (missing is fine)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def disk_usage(paths: list[str]) -> int:
    """Apparent size in bytes of the files under ``paths``."""
    total = 0
    for path in paths:
        if os.path.isdir(path):
            for root, _dirs, files in os.walk(path):
                for f in files:
                    try:
                        total += os.stat(os.path.join(root, f)).st_size
                    except OSError:
                        pass
        elif os.path.exists(path):
            total += os.stat(path).st_size
    return total


def inside(path: str, root_real: str) -> bool:
    """Whether ``path``, symlinks resolved, lies inside the directory whose real path is ``root_real``."""
    real = os.path.realpath(path)
    return os.path.commonpath([real, root_real]) == root_real


def check_inside(path: str, root_real: str, what: str) -> None:
    """DatasetError unless ``path`` (symlinks resolved) lies inside ``root_real``: a dataset reads only its files."""
    if not inside(path, root_real):
        raise DatasetError(
            f"{what}: {path} resolves to {os.path.realpath(path)}, outside the dataset directory {root_real}; "
            "only files inside the dataset are read (copy the file in instead of linking to it)"
        )
