"""The writer interface: the chunk sink protocol and the base class of the dataset writers.

A dataset of N sequences is cut into work chunks of ``chunk_size`` consecutive sequences (the last one may be
shorter). A chunk is the unit of work, of resume and of parallelism: one process renders it and writes it, whole,
to storage that no other chunk touches (a zarr shard, a range of rows of a .npy file, HDF5 chunks), and only then
does the runner record it in the manifest.

A writer is a small class registered by name (see :mod:`movingmnist.io.registry`)::

    with get_writer("zarr")(path, layout) as writer:
        with writer.chunk(3) as sink:        # sequences 3 * chunk_size ...
            sink.write(batch.arrays())       # rows in order, any number of calls
        # leaving the block without an error commits the chunk durably

``Writer.create`` makes the empty structure (and the metadata, marked incomplete); ``Writer.write_metadata``
rewrites the metadata, which is how a dataset is marked complete once every chunk is recorded.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from ..batch import SCHEMA_BY_NAME
from ..errors import DatasetError, SpecError
from .files import storage_error
from .layout import ArrayLayout, Layout, storage_chunk_rows

#: Name of the manifest inside a directory dataset; single-file datasets keep it beside the file as
#: ``<file>.manifest.json``.
MANIFEST_NAME = "manifest.json"


def make_layout(
    writer: type[Writer],
    shapes: Mapping[str, tuple[tuple[int, ...], np.dtype]],
    *,
    num: int,
    start: int,
    chunk_size: int,
    compression: str | None,
) -> Layout:
    """The layout ``writer`` uses for arrays ``shapes`` (name -> (per-sequence shape, dtype))."""
    compression = writer.check_compression(compression)
    arrays = {}
    for name, (shape, dtype) in shapes.items():
        if name not in writer.array_names(shapes):
            continue
        row_bytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        rows = storage_chunk_rows(row_bytes, chunk_size, writer.chunk_target_bytes)
        arrays[name] = ArrayLayout(name, tuple(int(s) for s in shape), np.dtype(dtype).name, rows)
    return Layout(writer.format, int(num), int(start), int(chunk_size), compression, arrays)


class CommitGate:
    """The chunk commits under way in this process. :meth:`close` waits for them to finish and lets no new one
    start: a pool worker whose parent died calls it before exiting, so that it never leaves a half-made edit (an
    HDF5 file is edited in place) and never writes after the run that owned the dataset is gone."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._closed = False

    @contextlib.contextmanager
    def commit(self) -> Iterator[None]:
        with self._cond:
            while self._closed:  # the process is about to exit: this commit never starts
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            while self._active:
                self._cond.wait()


#: The one gate of this process, used by every ChunkSink.
COMMITS = CommitGate()


# -- writer interface ---------------------------------------------------------------------------------------------
class ChunkSink:
    """Receives the rows of one work chunk in order and commits them when the ``with`` block ends cleanly.

    Subclasses implement ``_write(name, lo, data)`` (rows ``lo .. lo + len(data) - 1`` of the chunk, for one
    array), ``_commit()`` (make the whole chunk durable) and optionally ``_abort()``.
    """

    def __init__(self, writer: Writer, chunk: int) -> None:
        self.writer = writer
        self.layout = writer.layout
        self.chunk = chunk
        self.lo, self.hi = self.layout.chunk_range(chunk)
        self.filled = 0
        self.nbytes = 0  # bytes written to storage by the commit (after compression)
        self.compress_seconds = 0.0  # time spent encoding (compressing) storage chunks, part of the write time

    @property
    def rows(self) -> int:
        return self.hi - self.lo

    def write(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Append the next rows of the chunk: every stored array, same leading length, schema dtype and shape."""
        expected = self.layout.arrays
        n = self._rows_given(arrays)
        if not n:
            return
        if self.filled + n > self.rows:
            raise DatasetError(
                f"chunk {self.chunk} holds {self.rows} sequences; {self.filled} are written and {n} more were given"
            )
        for name in expected:
            self._write(name, self.filled, np.ascontiguousarray(arrays[name]))
        self.filled += n

    def _rows_given(self, arrays: Mapping[str, np.ndarray]) -> int | None:
        """The number of rows in ``arrays`` (None when the layout has no arrays), after checking that every stored
        array is there, as an ndarray of the dataset's dtype and per-sequence shape, all with that many rows."""
        expected = self.layout.arrays
        missing = [name for name in expected if name not in arrays]
        if missing:
            raise DatasetError(f"chunk {self.chunk}: arrays {missing} are missing from the data to write")
        n = None
        for name, spec in expected.items():
            data = arrays[name]
            if not isinstance(data, np.ndarray):
                raise DatasetError(f"chunk {self.chunk}: array {name!r} is a {type(data).__name__}, not an ndarray")
            if data.dtype != np.dtype(spec.dtype):
                raise DatasetError(
                    f"chunk {self.chunk}: array {name!r} has dtype {data.dtype}, the dataset {spec.dtype}"
                )
            if tuple(data.shape[1:]) != spec.shape:
                raise DatasetError(
                    f"chunk {self.chunk}: array {name!r} has per-sequence shape {tuple(data.shape[1:])}, "
                    f"the dataset {spec.shape}"
                )
            if n is None:
                n = data.shape[0]
            elif data.shape[0] != n:
                raise DatasetError(
                    f"chunk {self.chunk}: arrays have different numbers of rows ({n} and {data.shape[0]})"
                )
        return n

    def __enter__(self) -> ChunkSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._abort()
            return
        if self.filled != self.rows:
            self._abort()
            raise DatasetError(f"chunk {self.chunk} got {self.filled} of its {self.rows} sequences; nothing committed")
        try:
            with COMMITS.commit():
                self._commit()
        except OSError as exc:
            self._abort()
            raise storage_error(exc, self.writer.path, f"writing chunk {self.chunk}") from None

    # -- to implement -----------------------------------------------------------------------------------------------
    def _write(self, name: str, lo: int, data: np.ndarray) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _abort(self) -> None:
        pass


class StorageChunkSink(ChunkSink):
    """A sink that encodes whole storage chunks of ``spec.chunk_rows`` rows: incoming rows are cut into full
    storage chunks (passed to ``_encode(name, rows)`` as they fill) and the remainder is buffered until the next
    write; ``_commit`` starts with :meth:`_encode_partial` for the dataset's last, partial storage chunk. Encoding
    time is counted in ``compress_seconds`` here, so subclasses only implement ``_encode`` and ``_commit``."""

    def __init__(self, writer: Writer, chunk: int) -> None:
        super().__init__(writer, chunk)
        self._pending: dict[str, tuple[np.ndarray, int]] = {}

    def _encode(self, name: str, data: np.ndarray) -> None:
        raise NotImplementedError

    def _encode_rows(self, name: str, data: np.ndarray) -> None:
        """``_encode`` one storage chunk, timed (``compress_seconds``)."""
        t0 = time.perf_counter()
        self._encode(name, data)
        self.compress_seconds += time.perf_counter() - t0

    def _encode_partial(self) -> None:
        """Encode each array's buffered rows (the dataset's last storage chunk, when N is not a multiple of its
        rows) padded to full size with the fill value, as zarr and HDF5 store an edge chunk."""
        for name, (buf, pending) in self._pending.items():
            if pending:
                buf[pending:] = self.layout.arrays[name].fill_value
                self._encode_rows(name, buf)
        self._pending = {}

    def _write(self, name: str, lo: int, data: np.ndarray) -> None:
        spec = self.layout.arrays[name]
        rows = spec.chunk_rows
        i, n = 0, len(data)
        while i < n:
            buf, pending = self._pending.get(name, (None, 0))
            if pending == 0 and n - i >= rows:
                k = (n - i) // rows
                for j in range(k):
                    self._encode_rows(name, data[i + j * rows : i + (j + 1) * rows])
                i += k * rows
                continue
            if buf is None:
                buf = np.empty((rows, *spec.shape), dtype=spec.dtype)
            take = min(rows - pending, n - i)
            buf[pending : pending + take] = data[i : i + take]
            pending += take
            i += take
            if pending == rows:
                self._encode_rows(name, buf)
                pending = 0
            self._pending[name] = (buf, pending)


class Writer:
    """Base class of the dataset writers. Register subclasses with :func:`register_writer`.

    Class attributes: ``format`` (registry name), ``suffixes`` (path suffixes that select it),
    ``compressions`` (allowed compression names, the first is the default), ``default_level``,
    ``chunk_target_bytes`` (raw bytes per storage chunk), ``single_file``, ``all_arrays`` (False: frames only),
    ``distributed`` (workers on other machines may write chunks), ``object_storage`` (writes fsspec URLs).
    """

    format: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    compressions: ClassVar[tuple[str, ...]] = ("none",)
    default_level: ClassVar[dict[str, int]] = {}
    chunk_target_bytes: ClassVar[int] = 64 * 2**10
    single_file: ClassVar[bool] = False
    all_arrays: ClassVar[bool] = True
    distributed: ClassVar[bool] = False  # True: workers on other machines may write chunks concurrently
    #: True: writes object-store URLs (any fsspec URL); ``__init__`` and ``create`` then take ``storage_options``.
    object_storage: ClassVar[bool] = False

    def __init__(self, path: str, layout: Layout, *, durable: bool = True) -> None:
        self.path = str(path)
        self.layout = layout
        self.durable = durable

    # -- class-level helpers --------------------------------------------------------------------------------------
    @classmethod
    def array_names(cls, shapes: Mapping[str, Any]) -> list[str]:
        return list(shapes) if cls.all_arrays else [n for n in shapes if n == "frames"]

    @classmethod
    def check_compression(cls, compression: str | None) -> str:
        """``"zstd"``, ``"zstd:3"``, ``"none"``... -> canonical ``name:level`` (or ``none``)."""
        text = (cls.compressions[0] if compression is None else compression).strip().lower()
        name, colon, level = text.partition(":")
        if name not in cls.compressions:
            raise SpecError("compression", compression, f"one of {', '.join(cls.compressions)} for format {cls.format}")
        if name == "none":
            if colon:
                raise SpecError("compression", compression, "'none' without a level")
            return "none"
        low, high, default = _LEVELS[name]
        # Why fullmatch: int() also takes "", " 3", "+3", "3_0" and non-ASCII digits; "zstd:" is a typo, not a default.
        if colon and not re.fullmatch(r"-?[0-9]{1,3}", level):
            value = None
        else:
            value = int(level) if colon else cls.default_level.get(name, default)
        if value is None or not low <= value <= high:
            raise SpecError("compression", compression, f"{name}:LEVEL with LEVEL an integer in [{low}, {high}]")
        return f"{name}:{value}"

    @classmethod
    def check_layout(cls, layout: Layout) -> None:
        """Raise SpecError if this format cannot store ``layout`` (e.g. colour frames in the classic layout)."""

    @classmethod
    def manifest_path(cls, path: str) -> str:
        return path + ".manifest.json" if cls.single_file else os.path.join(path, MANIFEST_NAME)

    @classmethod
    def owned_paths(cls, path: str) -> list[str]:
        """Every path a dataset at ``path`` consists of (what ``overwrite`` deletes)."""
        return [path, cls.manifest_path(path)] if cls.single_file else [path]

    @classmethod
    def create(cls, path: str, layout: Layout, metadata: Mapping[str, Any]) -> None:
        """Make the empty structure at ``path`` (which does not exist, or is an empty directory) with ``metadata``."""
        raise NotImplementedError

    @classmethod
    def salvage(
        cls, path: str, layout: Layout, metadata: Mapping[str, Any], done: set[int]
    ) -> tuple[set[int], str | None]:
        """Before a resume: which of the recorded work chunks ``done`` the dataset really holds, and what was
        wrong (None: nothing), repairing its structure if an interrupted write damaged it. Formats whose chunks are
        written atomically (each to its own file) need no repair: all of them, None."""
        return set(done), None

    # -- instance API -----------------------------------------------------------------------------------------------
    def chunk(self, chunk: int) -> ChunkSink:
        raise NotImplementedError

    def write_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Replace the dataset metadata (the runner marks a dataset complete this way)."""
        raise NotImplementedError

    def write_chunk(self, chunk: int, arrays: Mapping[str, np.ndarray]) -> int:
        """Write a whole chunk at once; returns the bytes written."""
        with self.chunk(chunk) as sink:
            sink.write(arrays)
        return sink.nbytes

    def close(self) -> None:
        pass

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_LEVELS = {"zstd": (-7, 22, 1), "gzip": (0, 9, 1), "lz4": (1, 9, 5)}


def storage_kwargs(path: str, storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The keyword arguments that pass ``storage_options`` to a writer's ``__init__`` and ``create`` when ``path``
    is an object-store URL (only writers with ``object_storage`` take them), none for a local path."""
    from .remote import is_remote

    return {"storage_options": storage_options} if is_remote(path) else {}


def schema_dims(name: str) -> tuple[str, ...]:
    """Dimension names of a stored array: ``N`` then the schema's symbols (numbers become ``coord``)."""
    dims = SCHEMA_BY_NAME[name].dims if name in SCHEMA_BY_NAME else ()
    return ("N", *(d if isinstance(d, str) else "coord" for d in dims))
