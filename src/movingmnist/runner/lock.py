"""One writer per dataset: an OS lock on ``<path>.writer.lock``, taken before anything at the path is looked at or
created and held until the run ends (or its process dies: the OS releases it, so a killed run leaves no stale lock).

The lock file holds the holder's pid, for the refusal message; it is removed when the run ends, so a finished
dataset looks the same with or without it. The HDF5 writers' own ``<file>.lock`` (taken per chunk by the workers of
one run) is a different file.

On object storage there is no OS lock. The lock is an object ``<url>.writer.lock`` holding the writer's pid, host,
run id and a heartbeat time (:class:`RemoteLock`): created with a conditional PUT that fails when the object exists
(S3's ``If-None-Match: *``, fsspec's ``mode="create"``), refreshed by the holder every
:data:`HEARTBEAT_SECONDS`, deleted when the run ends. A killed run cannot delete it, so a lock is stale, and taken
over, when its process is gone (same host) or its heartbeat is older than :data:`STALE_SECONDS` (another host);
on S3 the takeover is a PUT conditional on the stale object's ETag (``If-Match``), so of two runs taking over the
same stale lock one wins. Stores without conditional writes get a best-effort check (look, write, read back).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import DatasetError
from ..io.files import storage_error
from ..io.remote import as_oserror, filesystem, is_remote

#: Suffix of the lock file next to the output path.
LOCK_SUFFIX = ".writer.lock"
#: Windows locks a byte range that other processes then cannot read: lock a byte far past the pid instead.
_WINDOWS_LOCK_OFFSET = 1 << 20


class WriterLockedError(DatasetError):
    """Another process is writing the dataset at this path."""


#: Object storage: how often the holder rewrites its lock object, and the age of the last heartbeat from which a lock
#: held from another host counts as stale (a run on the same host is known dead as soon as its pid is gone).
HEARTBEAT_SECONDS = 20.0
STALE_SECONDS = 90.0
LOCK_KIND = "movingmnist-writer-lock"
#: Run ids of the RemoteLocks this process holds now (a lock object of this pid with another run id was left by a
#: run of this process that has ended without deleting it, e.g. when the store was unreachable).
_HELD: set[str] = set()


def lock_path(path: str) -> str:
    """The lock file of the dataset at ``path`` (beside it, never inside a directory dataset)."""
    return path.rstrip("/" + os.sep) + LOCK_SUFFIX


class LocalLock:
    """What :func:`writer_lock` yields for a local path: the OS lock cannot be lost while the process lives."""

    def check(self) -> None:
        """Raise WriterLockedError if another run took the lock over (never, for an OS lock)."""


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
def writer_lock(path: str, storage_options: Mapping[str, Any] | None = None) -> Iterator[LocalLock | RemoteLock]:
    """Hold the writer lock of the dataset at ``path`` inside the ``with`` block; WriterLockedError (one line,
    naming the holder's pid) if another run holds it. Where no lock file can be made (read-only or missing
    location), the block runs unlocked: creating the dataset would fail there anyway, with its own message.
    An object-store URL gets a :class:`RemoteLock` (``storage_options`` reach its filesystem). The object
    yielded has ``check()``, which raises WriterLockedError once the lock is no longer this run's."""
    if is_remote(path):
        lock = RemoteLock(path, storage_options)
        try:
            lock.acquire()
        except OSError as exc:
            raise storage_error(exc, path, "taking the writer lock", resumable=False) from None
        try:
            yield lock
        finally:
            lock.release()
        return
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
        yield LocalLock()
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):  # still held, so no other run can be using this file
                os.remove(lock_file)
            os.close(fd)
        for created in parents:  # innermost first; a dataset inside keeps them
            with contextlib.suppress(OSError):
                os.rmdir(created)


class RemoteLock:
    """The writer lock of a dataset on object storage: the object ``<url>.writer.lock`` (see the module's text)."""

    def __init__(self, path: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self.path = path
        self.url = lock_path(path)
        self.fs, self.key = filesystem(self.url, storage_options)
        self.s3 = any(p in ("s3", "s3a") for p in _protocols(self.fs))
        self.record = {
            "kind": LOCK_KIND,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "run": os.urandom(8).hex(),
            "started": time.time(),
        }
        self.etag: str | None = None
        self.conditional = True  # False once the store has refused a conditional write (then: best effort)
        self.lost: str | None = None
        self.took_over: str | None = None  # why the lock found there was stale, when this run took it over
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the lock object ------------------------------------------------------------------------------------------
    def _payload(self) -> bytes:
        return json.dumps({**self.record, "heartbeat": time.time()}).encode()

    def _read(self) -> tuple[dict[str, Any] | None, str | None, bool]:
        """(content, ETag, exists) of the lock object; content is None when it is missing or not a lock record."""
        with as_oserror():
            self.fs.invalidate_cache(self.key)
            try:
                info = self.fs.info(self.key)
                data = self.fs.cat_file(self.key)
            except FileNotFoundError:
                return None, None, False
        try:
            held = json.loads(data)
        except ValueError:
            held = None
        if not isinstance(held, dict) or held.get("kind") != LOCK_KIND:
            held = None
        return held, info.get("ETag") or info.get("etag"), True

    def _put(self, **condition: Any) -> bool:
        """Write the lock object under ``condition`` (``mode="create"``, or S3's ``IfMatch=etag``); False when the
        condition fails (another run's lock is there)."""
        try:
            out = self.fs.pipe_file(self.key, self._payload(), **condition)
        except FileExistsError:
            return False
        except (TypeError, NotImplementedError):  # a filesystem that does not take the condition: the caller decides
            raise
        except OSError:
            if "IfMatch" in condition and self._read()[1] != condition["IfMatch"]:
                return False  # 412 Precondition Failed (or 409 on a concurrent conditional write): it changed
            raise
        except Exception as exc:  # the store client's own errors (botocore's connection errors...)
            raise OSError(errno.EIO, f"{type(exc).__name__}: {exc}") from exc
        self.etag = out.get("ETag") if isinstance(out, dict) else None
        return True

    def _create(self) -> bool:
        """Create the lock object if none exists (conditional PUT); False when another run's is there."""
        if self.conditional:
            try:
                return self._put(mode="create")
            except (TypeError, NotImplementedError):  # a filesystem without conditional writes
                self.conditional = False
            except OSError as exc:
                if exc.errno != errno.ENOSYS:  # S3's 501 NotImplemented: a store without conditional writes
                    raise
                self.conditional = False
        if self._read()[2]:  # best effort: look, write, read back
            return False
        self._put()
        return (self._read()[0] or {}).get("run") == self.record["run"]

    def _take_over(self, etag: str | None) -> bool:
        """Replace a stale lock object; False when it changed since it was read (another run took it first)."""
        if self.s3 and etag and self.conditional:
            try:
                return self._put(IfMatch=etag)
            except OSError as exc:
                if exc.errno != errno.ENOSYS:
                    raise
                self.conditional = False
        with contextlib.suppress(FileNotFoundError), as_oserror():
            self.fs.rm_file(self.key)
        return self._create()

    def _stale(self, held: dict[str, Any] | None) -> str | None:
        """Why the lock ``held`` belongs to a run that is gone, or None while that run may be alive."""
        if held is None:
            return "it is not a lock record of this package"
        age = time.time() - float(held.get("heartbeat", 0) or 0)
        if held.get("host") == socket.gethostname():
            if not _pid_alive(held.get("pid")):
                return f"its process, pid {held.get('pid')} on this host, is gone"
            if held.get("pid") == os.getpid() and held.get("run") not in _HELD:
                return "it was left by a run of this process that has ended"
        if age > STALE_SECONDS:
            return f"its last heartbeat was {age:.0f} s ago, over the {STALE_SECONDS:.0f} s limit"
        return None

    def _refusal(self, held: dict[str, Any] | None) -> WriterLockedError:
        if held is None:
            holder = "another run"
        else:
            age = time.time() - float(held.get("heartbeat", 0) or 0)
            holder = f"pid {held.get('pid')} on {held.get('host')} (run {held.get('run')}, heartbeat {age:.0f} s ago)"
        return WriterLockedError(
            f"{self.path} is being written by {holder} (it holds {self.url}); wait for that run to finish, or stop it "
            f"and run again with --resume (the lock of a run that died is taken over once its process is gone, or "
            f"from another host after {STALE_SECONDS:.0f} s without a heartbeat)"
        )

    # -- holding it -----------------------------------------------------------------------------------------------
    def acquire(self) -> None:
        """Take the lock, or raise WriterLockedError naming the live holder."""
        for _ in range(5):
            held, etag, there = self._read()
            if not there:
                if self._create():
                    break
                continue  # created by another run since we looked: look again
            why = self._stale(held)
            if why is None:
                raise self._refusal(held)
            if self._take_over(etag):
                self.took_over = why
                break
        else:
            raise self._refusal(self._read()[0])
        _HELD.add(self.record["run"])
        self._thread = threading.Thread(target=self._beat, name="movingmnist-lock-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self.heartbeat()
            except OSError:
                pass  # the store is unreachable: try again at the next beat (the lock goes stale if it stays so)
            if self.lost is not None:
                return

    def heartbeat(self) -> None:
        """Rewrite the lock object with the current time, if it is still this run's (else set ``lost``)."""
        if self.s3 and self.etag and self.conditional:
            if self._put(IfMatch=self.etag):
                return
        else:
            held, _, _ = self._read()
            if held is not None and held.get("run") == self.record["run"]:
                self._put()
                return
        held, _, there = self._read()
        if held is not None and held.get("run") == self.record["run"]:  # our PUT was lost in transit: ours still
            self._put()
            return
        who = f"pid {held.get('pid')} on {held.get('host')}" if held else ("nobody" if not there else "another run")
        self.lost = f"the lock {self.url} now belongs to {who}"

    def check(self) -> None:
        """WriterLockedError when the lock was taken over by another run (this run's heartbeat was too late)."""
        if self.lost is not None:
            raise WriterLockedError(
                f"{self.path}: this run lost its writer lock ({self.lost}; its heartbeat was late by more than "
                f"{STALE_SECONDS:.0f} s); it stops here: run again with --resume once the other run is finished"
            )

    def release(self) -> None:
        """Stop the heartbeat and delete the lock object if it is still this run's."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        _HELD.discard(self.record["run"])
        if self.lost is not None:
            return
        with contextlib.suppress(OSError):
            held, _, _ = self._read()
            if held is not None and held.get("run") == self.record["run"]:
                with as_oserror():
                    self.fs.rm_file(self.key)


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = getattr(fs, "protocol", ())
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _pid_alive(pid: Any) -> bool:
    """Whether process ``pid`` of this host is running (True when unknown: never declare a live run dead)."""
    if not isinstance(pid, int) or pid <= 0 or sys.platform == "win32":  # os.kill(pid, 0) kills on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
