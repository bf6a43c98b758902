"""One writer per dataset: an OS lock on ``<path>.writer.lock``, taken before anything at the path is looked at or
created and held until the run ends (or its process dies: the OS releases it, so a killed run leaves no stale lock).

The lock file holds the holder's pid, for the refusal message; it is removed when the run ends, so a finished
dataset looks the same with or without it. The HDF5 writers' own ``<file>.lock`` (taken per chunk by the workers of
one run) is a different file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from ..errors import DatasetError

#: Suffix of the lock file next to the output path.
LOCK_SUFFIX = ".writer.lock"
#: Windows locks a byte range that other processes then cannot read: lock a byte far past the pid instead.
_WINDOWS_LOCK_OFFSET = 1 << 20


class WriterLockedError(DatasetError):
    """Another process is writing the dataset at this path."""


def lock_path(path: str) -> str:
    """The lock file of the dataset at ``path`` (beside it, never inside a directory dataset)."""
    return path.rstrip("/" + os.sep) + LOCK_SUFFIX


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock on ``fd`` without waiting; False if another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(lock_file: str) -> str:
    try:
        with open(lock_file, encoding="ascii") as f:
            pid = f.read().strip()
    except (OSError, ValueError):
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "another process"


def _new_parents(directory: str) -> list[str]:
    """The missing directories on the way to ``directory``, innermost first."""
    missing = []
    while directory and not os.path.lexists(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    return missing


@contextlib.contextmanager
def writer_lock(path: str) -> Iterator[None]:
    """Hold the writer lock of the dataset at ``path`` inside the ``with`` block; WriterLockedError (one line,
    naming the holder's pid) if another run holds it. Where no lock file can be made (read-only or missing
    location), the block runs unlocked: creating the dataset would fail there anyway, with its own message."""
    lock_file = lock_path(path)
    parents = _new_parents(os.path.dirname(os.path.abspath(lock_file)))
    fd = None
    try:
        os.makedirs(os.path.dirname(os.path.abspath(lock_file)), exist_ok=True)
        for _ in range(10):
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd):
                os.close(fd)
                raise WriterLockedError(
                    f"{path} is being written by {_holder(lock_file)} (it holds {lock_file}); wait for that run to "
                    "finish, or stop it and run again with --resume"
                )
            # the holder before us may have removed the file between our open and our lock: lock the live one
            try:
                if os.stat(lock_file).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
            fd = None
        if fd is not None:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode())
    except OSError:
        if fd is not None:
            os.close(fd)
        fd = None
    try:
        yield
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):  # still held, so no other run can be using this file
                os.remove(lock_file)
            os.close(fd)
        for created in parents:  # innermost first; a dataset inside keeps them
            with contextlib.suppress(OSError):
                os.rmdir(created)
