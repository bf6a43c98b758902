"""The manifest: which work chunks of a dataset are durably written.

One JSON file, rewritten atomically (temporary file, fsync, ``os.replace``; on object storage one PUT of the whole
object) by one process only (the runner's parent), and only after a chunk's data is durably stored. Finished chunks
are stored as half-open ranges ``[[lo, hi], ...]`` so that the file stays small at any N. ``identity`` repeats
what the data depends on (fingerprint, seed, layout) so that a resume can check it before touching anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import DatasetError
from .files import atomic_write
from .remote import StorageOptions, is_remote

KIND = "movingmnist-manifest"
VERSION = 1


def to_ranges(chunks: Iterable[int]) -> list[list[int]]:
    """``{0, 1, 2, 5}`` -> ``[[0, 3], [5, 6]]``."""
    ranges: list[list[int]] = []
    for c in sorted(set(chunks)):
        if ranges and ranges[-1][1] == c:
            ranges[-1][1] = c + 1
        else:
            ranges.append([c, c + 1])
    return ranges


#: Work chunks one dataset may have: the manifest and the runner track each one (write_dataset raises its default
#: chunk size to stay under this, and refuses a chunk size that would not).
MAX_CHUNKS = 2**20


def from_ranges(ranges: Iterable[Iterable[int]], num_chunks: int = MAX_CHUNKS) -> set[int]:
    """``[[0, 3], [5, 6]]`` -> ``{0, 1, 2, 5}``; ValueError for a range outside ``[0, num_chunks]`` (checked
    before the set is built, so that a damaged manifest cannot claim billions of chunks)."""
    done: set[int] = set()
    for lo, hi in ranges:
        lo, hi = int(lo), int(hi)
        if not 0 <= lo <= hi <= num_chunks:
            raise ValueError(f"chunk range [{lo}, {hi}) is outside the dataset's {num_chunks} chunks")
        done.update(range(lo, hi))
    return done


class Manifest:
    """Finished chunks of one dataset, saved at ``path``.

    Attributes:
        num_chunks: chunks in the dataset. done: set of finished chunk ids. complete: the runner finished and
        marked the dataset complete. identity: fingerprint, seed, format and layout of the data.
        storage_options: of an object-store ``path`` (see :mod:`movingmnist.io.remote`).
    """

    def __init__(
        self,
        path: str,
        num_chunks: int,
        identity: Mapping[str, Any],
        done: Iterable[int] = (),
        complete: bool = False,
        *,
        durable: bool = True,
        storage_options: StorageOptions = None,
    ) -> None:
        self.path = path
        self.storage_options = storage_options
        self.num_chunks = int(num_chunks)
        self.identity = dict(identity)
        self.done: set[int] = set(done)
        self.complete = bool(complete)
        self.durable = durable

    # -- persistence ------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "version": VERSION,
            "num_chunks": self.num_chunks,
            "complete": self.complete,
            "done": to_ranges(self.done),
            "identity": self.identity,
        }

    def save(self) -> None:
        text = json.dumps(self.to_dict(), indent=1, sort_keys=True).encode()
        if is_remote(self.path):
            from .remote import write_bytes

            write_bytes(self.path, text, self.storage_options)  # one PUT: readers see the old or the new manifest
        else:
            atomic_write(self.path, text, durable=self.durable)

    @classmethod
    def load(
        cls, path: str, *, durable: bool = True, storage_options: StorageOptions = None
    ) -> Manifest | None:
        """The manifest at ``path``, or None when there is none; DatasetError when it is not one."""
        try:
            if is_remote(path):
                from .remote import read_bytes

                data = json.loads(read_bytes(path, storage_options))
            else:
                with open(path, "rb") as f:
                    data = json.loads(f.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise DatasetError(f"the manifest {path} cannot be read: {exc}") from None
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise DatasetError(f"{path} is not a movingmnist manifest")
        if data.get("version") != VERSION:
            raise DatasetError(f"the manifest {path} has version {data.get('version')!r}; this package reads {VERSION}")
        try:
            return cls(
                path,
                data["num_chunks"],
                data["identity"],
                from_ranges(data["done"], int(data["num_chunks"])),
                data["complete"],
                durable=durable,
                storage_options=storage_options,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"the manifest {path} is damaged: {exc!r}") from None

    @staticmethod
    def exists(path: str, storage_options: StorageOptions = None) -> bool:
        if is_remote(path):
            from .remote import is_file

            return is_file(path, storage_options)
        return os.path.isfile(path)

    # -- bookkeeping ------------------------------------------------------------------------------------------------
    def record(self, chunks: Iterable[int]) -> None:
        """Mark ``chunks`` finished and save."""
        new = set(chunks) - self.done
        bad = [c for c in new if not 0 <= c < self.num_chunks]
        if bad:
            raise DatasetError(f"chunks {bad} are out of range for a dataset of {self.num_chunks} chunks")
        if new:
            self.done |= new
            self.save()

    def missing(self) -> list[int]:
        return [c for c in range(self.num_chunks) if c not in self.done]

    @property
    def all_done(self) -> bool:
        return len(self.done) == self.num_chunks
