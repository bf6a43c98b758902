"""The direct reader of zarr datasets written by this package: the ``sharding_indexed`` layout read without
zarr-python (one ``pread`` of each shard's index, cached, and one of the inner chunk per array), locally
(:class:`ZarrShards`) or on object storage through ranged GETs (:class:`RemoteZarrShards`). Shards carry a small
header naming their array and shard number, so a shard moved or swapped is refused, and a missing shard of a chunk
recorded as written is an error naming the rows, never fill values."""

from __future__ import annotations

import os
import stat
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import DatasetError
from .backends import Backend, Damage
from .files import check_inside, disk_usage
from .remote import as_oserror


class _LocalShard:
    """A shard file opened for reading: ``size`` and ``pread``, as :class:`_RemoteShard` offers them."""

    __slots__ = ("fd",)

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY)

    @property
    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def pread(self, n: int, offset: int) -> bytes:
        return os.pread(self.fd, n, offset)

    def close(self) -> None:
        os.close(self.fd)


class _RemoteShard:
    """A shard object on object storage: ``size`` (one HEAD, unless known) and ranged GETs, or the whole object
    fetched already (``data``). Errors of the store's client that are not OSErrors (connection errors of
    botocore...) become OSErrors, so they are reported as unreadable rows like local I/O errors."""

    __slots__ = ("fs", "path", "_size", "data")

    def __init__(self, fs: Any, path: str, size: int | None = None, data: bytes | None = None) -> None:
        self.fs = fs
        self.path = path
        self._size = size if data is None else len(data)
        self.data = data

    @property
    def size(self) -> int:
        if self._size is None:
            with as_oserror():
                self.fs.invalidate_cache(self.path)
                self._size = int(self.fs.size(self.path))
        return self._size

    def pread(self, n: int, offset: int) -> bytes:
        if n <= 0:
            return b""
        if self.data is not None:
            return self.data[offset : offset + n]
        with as_oserror():
            return self.fs.cat_file(self.path, start=offset, end=offset + n)

    def close(self) -> None:
        pass


class ZarrShards(Backend):
    """Direct reader of an array written with the sharded layout this package writes (see zarr_writer).

    A shard of a written chunk that is missing, has a damaged index, lacks an inner chunk, lies outside the dataset
    directory (a symlink) or holds another shard (its header names another shard or array) raises a DatasetError.
    These checks cost nothing per read: they run when a shard's index is loaded (once, then cached).
    :class:`RemoteZarrShards` reads the same layout from object storage.
    """

    def __init__(self, root: str, name: str, info: Mapping[str, Any], root_real: str | None = None) -> None:
        from .zarr_writer import numcodecs_for

        self.dir = os.path.join(root, name)
        self.c_dir = os.path.join(self.dir, "c")
        self.name = name
        self.root_real = os.path.realpath(root) if root_real is None else root_real
        self.shape = tuple(info["shape"])
        self.dtype = np.dtype(info["dtype"])
        self.shard_rows = int(info["shard_rows"])
        self.chunk_rows = int(info["chunk_rows"])
        self.per_shard = self.shard_rows // self.chunk_rows
        self.chunk_size = self.shard_rows
        self.codec = numcodecs_for(info["compression"])
        fill = info.get("fill_value")
        if isinstance(fill, str):
            fill = float(fill)
        self.fill = 0 if fill is None else fill
        self._indexes: OrderedDict[int, np.ndarray] = OrderedDict()
        self._verified: set[int] = set()  # shards whose path (inside the dataset) and header were checked
        self._name_crc = zlib.crc32(name.encode())
        self._lock = threading.Lock()

    # -- storage access (overridden for object storage) ---------------------------------------------------------
    def _path(self, shard: int) -> str:
        from .zarr_writer import shard_key

        return os.path.join(self.dir, shard_key(shard, len(self.shape)))

    def _open(self, shard: int) -> _LocalShard | _RemoteShard:
        """The shard, opened; FileNotFoundError when it is missing."""
        return _LocalShard(self._path(shard))

    def _entries(self) -> dict[str, bool]:
        """Names in the array's ``c`` directory -> whether each is a symlink; one listing."""
        top = self.c_dir
        if os.path.lexists(top):
            check_inside(top, self.root_real, f"{self.name}: shards")
        try:
            return {e.name: e.is_symlink() for e in os.scandir(top)}
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise DatasetError(f"{self.name}: cannot list {top}: {exc}") from None

    def _check_path(self, shard: int) -> None:
        """DatasetError when the shard's path leaves the dataset through a symlink. The array's ``c`` directory is
        checked at open; below it, one ``lstat`` per path component (a full ``realpath`` only on a symlink)."""
        path = self.c_dir
        for part in self._path(shard)[len(self.c_dir) + 1 :].split(os.sep):
            path = os.path.join(path, part)
            try:
                link = stat.S_ISLNK(os.lstat(path).st_mode)
            except OSError:
                return  # missing: reported by the read
            if link:
                lo, hi = self._rows(shard)
                check_inside(self._path(shard), self.root_real, f"{self.name}: rows {lo}..{hi - 1}")
                return

    def storage_bytes(self) -> int:
        return disk_usage([os.path.join(self.dir, "c")])

    # -- rows and errors ----------------------------------------------------------------------------------------
    def _rows(self, shard: int) -> tuple[int, int]:
        lo = shard * self.shard_rows
        return lo, min(self.shape[0], lo + self.shard_rows)

    def _damage(self, shard: int, reason: str) -> Damage:
        return Damage(self.name, *self._rows(shard), reason)

    def _missing(self, shard: int, reason: str) -> DatasetError:
        lo, hi = self._rows(shard)
        return DatasetError(
            f"{self.name}: rows {lo}..{hi - 1} are missing ({reason}: {self._path(shard)}), though the dataset "
            "records them as written; the dataset is damaged: restore the file or generate the dataset again"
        )

    def _unreadable(self, shard: int, exc: OSError) -> DatasetError:
        lo, hi = self._rows(shard)
        reason = exc.strerror or exc
        return DatasetError(f"{self.name}: cannot read rows {lo}..{hi - 1} ({self._path(shard)}): {reason}")

    def expect(self, written: np.ndarray | None, chunk_size: int) -> None:
        """Record the written chunks (shards) and check, with one directory listing, that each has its entry."""
        super().expect(written, chunk_size)
        if chunk_size != self.shard_rows:
            raise DatasetError(
                f"{self.name}: shards of {self.shard_rows} sequences, but the dataset's work chunks hold {chunk_size}"
            )
        shards = -(-self.shape[0] // self.shard_rows)
        wanted = range(shards) if written is None else np.flatnonzero(written[:shards]).tolist()
        entries = self._entries()
        for shard in wanted:
            link = entries.get(str(shard))
            if link is None:
                raise self._missing(shard, "no entry for this shard")
            if link:
                lo, hi = self._rows(shard)
                check_inside(os.path.join(self.c_dir, str(shard)), self.root_real, f"{self.name}: rows {lo}..{hi - 1}")

    def _index(self, shard: int, handle: _LocalShard | _RemoteShard) -> np.ndarray:
        index = self._indexes.get(shard)
        if index is None:
            from .zarr_writer import decode_index

            path = self._path(shard)
            verify = shard not in self._verified
            if verify:
                self._check_path(shard)
            size = handle.size
            tail = 16 * self.per_shard + 4
            if size < tail:
                raise DatasetError(f"{path}: shard is truncated ({size} bytes)")
            index = decode_index(handle.pread(tail, size - tail), self.per_shard, size, path)
            if verify:
                self._check_header(shard, handle, index)
                self._verified.add(shard)
            with self._lock:
                self._indexes[shard] = index
                if len(self._indexes) > 512:
                    self._indexes.popitem(last=False)
        return index

    def _check_header(self, shard: int, handle: _LocalShard | _RemoteShard, index: np.ndarray) -> None:
        """DatasetError when the shard's header names another shard or array (a shard file renamed over another)."""
        from .zarr_writer import HEADER_SIZE, MAX_UINT64, parse_shard_header

        used = index[:, 0] != MAX_UINT64
        if not used.any() or int(index[used, 0].min()) < HEADER_SIZE:
            return  # no room for a header: written by zarr or by an earlier version
        found = parse_shard_header(handle.pread(HEADER_SIZE, 0))
        if found is None:
            return
        own = self._name_crc
        if found != (shard, own):
            lo, hi = self._rows(shard)
            if found[1] == own:
                held = f"rows {found[0] * self.shard_rows}..{(found[0] + 1) * self.shard_rows - 1} of {self.name}"
            else:
                held = f"shard {found[0]} of another array"
            raise DatasetError(
                f"{self.name}: the shard file of rows {lo}..{hi - 1} ({self._path(shard)}) holds {held}: shard "
                "files were swapped or renamed; restore them or generate the dataset again"
            )

    def read(self, lo: int, hi: int) -> np.ndarray:
        out = np.empty((hi - lo, *self.shape[1:]), dtype=self.dtype)
        s_rows, c_rows = self.shard_rows, self.chunk_rows
        for shard in range(lo // s_rows, (hi - 1) // s_rows + 1):
            base = shard * s_rows
            a, b = max(lo, base), min(hi, base + s_rows)
            path = self._path(shard)
            try:
                handle = self._open(shard)
                try:
                    index = self._index(shard, handle)
                    c_lo, c_hi = (a - base) // c_rows, (b - 1 - base) // c_rows + 1
                    used = index[c_lo:c_hi, 0] != np.uint64(2**64 - 1)
                    if not used.all():
                        if self.is_written(shard):
                            raise self._missing(shard, "inner chunks absent from the shard's index")
                        if not used.any():
                            out[a - lo : b - lo] = self.fill
                            continue
                    offsets = index[c_lo:c_hi, 0][used].astype(np.int64)
                    ends = offsets + index[c_lo:c_hi, 1][used].astype(np.int64)
                    span_lo, span_hi = int(offsets.min()), int(ends.max())
                    data = handle.pread(span_hi - span_lo, span_lo)
                    if len(data) != span_hi - span_lo:
                        raise DatasetError(f"{path}: shard is truncated")
                finally:
                    handle.close()
            except FileNotFoundError:
                with self._lock:
                    self._indexes.pop(shard, None)
                if self.is_written(shard):
                    raise self._missing(shard, "no shard file") from None
                out[a - lo : b - lo] = self.fill
                continue
            except OSError as exc:
                raise self._unreadable(shard, exc) from None
            view = memoryview(data)
            for c in range(c_lo, c_hi):
                row0 = base + c * c_rows
                ra, rb = max(a, row0), min(b, row0 + c_rows)
                offset, length = (int(v) for v in index[c])
                if offset == 2**64 - 1:
                    out[ra - lo : rb - lo] = self.fill
                    continue
                piece = view[offset - span_lo : offset - span_lo + length]
                whole = ra == row0 and rb == row0 + c_rows
                target = out[ra - lo : rb - lo] if whole else np.empty((c_rows, *self.shape[1:]), self.dtype)
                self._decode(piece, target, path, row0)
                if not whole:
                    out[ra - lo : rb - lo] = target[ra - row0 : rb - row0]
        return out

    def scan(self) -> list[Damage]:
        """Open every written shard: present, inside the dataset, index intact, every inner chunk present, own
        header. One read of the index per shard (and of the header); the chunks themselves are not decoded."""
        damage = []
        shards = -(-self.shape[0] // self.shard_rows)
        for shard in range(shards):
            if not self.is_written(shard):
                continue
            path = self._path(shard)
            try:
                handle = self._open(shard)
            except FileNotFoundError:
                damage.append(self._damage(shard, f"shard file {path} is missing"))
                continue
            except OSError as exc:
                damage.append(self._damage(shard, f"cannot open {path}: {exc.strerror or exc}"))
                continue
            try:
                with self._lock:
                    self._indexes.pop(shard, None)  # read it afresh, and check its path and header again
                self._verified.discard(shard)
                index = self._index(shard, handle)
                lo, hi = self._rows(shard)
                needed = -(-(hi - lo) // self.chunk_rows)
                absent = int((index[:needed, 0] == np.uint64(2**64 - 1)).sum())
                if absent:
                    damage.append(self._damage(shard, f"{absent} of {needed} inner chunks are absent from {path}"))
            except FileNotFoundError:
                damage.append(self._damage(shard, f"shard file {path} is missing"))
            except (DatasetError, OSError) as exc:
                lo, hi = self._rows(shard)
                if isinstance(exc, OSError):
                    exc = self._unreadable(shard, exc)
                reason = str(exc).removeprefix(f"{self.name}: ").removeprefix(f"rows {lo}..{hi - 1}: ")
                damage.append(self._damage(shard, reason))
            finally:
                handle.close()
        return damage

    def _decode(self, piece: memoryview, target: np.ndarray, path: str, row0: int) -> None:
        try:
            if self.codec is None:
                flat = np.frombuffer(piece, dtype=np.uint8)
                if flat.size != target.nbytes:
                    raise ValueError(f"chunk has {flat.size} bytes, expected {target.nbytes}")
                target.reshape(-1).view(np.uint8)[:] = flat
            else:
                self.codec.decode(piece, out=target)
        except DatasetError:
            raise
        except Exception as exc:
            rows = f"{row0}..{row0 + self.chunk_rows - 1}"
            raise DatasetError(f"{self.name}: cannot decode rows {rows} ({path}): {exc}") from None


class RemoteZarrShards(ZarrShards):
    """:class:`ZarrShards` on object storage (an fsspec URL): the same checks (shards of written chunks present,
    indexes intact, every inner chunk present, headers naming their own shard and array), with a listing of the
    array's ``c/`` prefix at open, one HEAD and one ranged GET of the index the first time a shard is used in a
    process, then one ranged GET per read. Object stores have no symlinks, so the check that files stay inside the
    dataset does not apply (every key is read under the dataset's own prefix)."""

    def __init__(self, url: str, name: str, info: Mapping[str, Any], fs: Any, fs_root: str) -> None:
        super().__init__(url, name, info, root_real="")
        self.dir = f"{url.rstrip('/')}/{name}"
        self.c_dir = f"{self.dir}/c"
        self.fs = fs
        self._fs_dir = f"{fs_root.rstrip('/')}/{name}"
        self._sizes: dict[int, int] = {}
        self._fetched = threading.local()  # shard -> bytes (or the error) fetched for the read under way

    def _path(self, shard: int) -> str:
        from .zarr_writer import shard_key

        return f"{self.dir}/{shard_key(shard, len(self.shape))}"

    def _fs_path(self, shard: int) -> str:
        from .zarr_writer import shard_key

        return f"{self._fs_dir}/{shard_key(shard, len(self.shape))}"

    #: Whole shards fetched at once (concurrently) by a read that covers them.
    FETCH_BATCH = 32

    def _open(self, shard: int) -> _RemoteShard:
        fetched = getattr(self._fetched, "shards", {}).pop(shard, None)
        if isinstance(fetched, BaseException):
            raise fetched
        if fetched is not None:
            return _RemoteShard(self.fs, self._fs_path(shard), data=fetched)
        cached = shard in self._indexes
        return _RemoteShard(self.fs, self._fs_path(shard), self._sizes.get(shard) if cached else None)

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo .. hi - 1``. The shards the rows cover whole are fetched whole, up to :attr:`FETCH_BATCH` at
        a time with concurrent GETs (one request per shard instead of a HEAD and ranged GETs); the others are read
        by ranges through the cached index as locally."""
        s_rows = self.shard_rows
        first, last = lo // s_rows, (hi - 1) // s_rows
        if first == last and not (lo == first * s_rows and hi >= min(self.shape[0], (first + 1) * s_rows)):
            return super().read(lo, hi)  # a part of one shard: ranged reads
        out = np.empty((hi - lo, *self.shape[1:]), dtype=self.dtype)
        for group in range(first, last + 1, self.FETCH_BATCH):
            shards = range(group, min(last + 1, group + self.FETCH_BATCH))
            whole = [k for k in shards if lo <= k * s_rows and min(self.shape[0], (k + 1) * s_rows) <= hi]
            paths = {self._fs_path(k): k for k in whole}
            try:
                with as_oserror():
                    got = self.fs.cat(list(paths), on_error="return") if paths else {}
            except OSError:
                got = {}  # read them one by one below, where errors are reported per shard
            self._fetched.shards = {paths[p]: v for p, v in got.items() if p in paths}
            try:
                a, b = max(lo, shards[0] * s_rows), min(hi, (shards[-1] + 1) * s_rows)
                out[a - lo : b - lo] = super().read(a, b)
            finally:
                self._fetched.shards = {}
        return out

    def _index(self, shard: int, handle: _LocalShard | _RemoteShard) -> np.ndarray:
        index = super()._index(shard, handle)
        if isinstance(handle, _RemoteShard) and handle._size is not None:
            self._sizes[shard] = handle._size
        return index

    def _entries(self) -> dict[str, bool]:
        path = f"{self._fs_dir}/c"
        try:
            with as_oserror():
                self.fs.invalidate_cache(path)
                names = self.fs.ls(path, detail=False)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise DatasetError(f"{self.name}: cannot list {self.c_dir}: {exc}") from None
        return {str(n).rstrip("/").rsplit("/", 1)[-1]: False for n in names}

    def _check_path(self, shard: int) -> None:
        pass  # no symlinks on object storage

    def storage_bytes(self) -> int:
        try:
            with as_oserror():
                path = f"{self._fs_dir}/c"
                self.fs.invalidate_cache(path)
                return int(self.fs.du(path, total=True))
        except OSError:
            return 0
