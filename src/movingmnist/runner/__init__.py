"""The runner: writes a dataset chunk by chunk, in-process, in a local process pool or on a dask cluster.

    summary = mm.write_dataset("srivastava", seed=0, num=100_000, path="train.zarr", source="glyphs", workers=2)

Sequences ``[start, start + num)`` are cut into work chunks of ``chunk_size``. Whoever runs a chunk (this process,
a pool worker, a dask worker) renders it into a small reused Batch, ``render_rows`` sequences at a time, hands the
rows to the format's writer, which compresses them and commits the chunk durably to storage no other chunk
touches; only then does this process record the chunk in the manifest. Memory is bounded by the chunk size and
``render_rows``, never by ``num``. Because sequence i is a pure function of (spec, seed, i), the bytes do not
depend on how chunks are spread over processes or in which order they finish, and an interrupted run resumes
where it stopped (``resume=True``) with the same result as an uninterrupted one.

The package: :mod:`~movingmnist.runner.write` (:func:`write_dataset`: arguments, existing data, layout),
:mod:`~movingmnist.runner.existing` (what is at the path; resume checks), :mod:`~movingmnist.runner.loop` (the
write loop), :mod:`~movingmnist.runner.executors` (in-process, process pool, dask), :mod:`~movingmnist.runner.chunks`
(the job each executor runs) and :mod:`~movingmnist.runner.summary` (summary, interruption, progress bar).
"""

from .chunks import RENDER_STEP_BYTES, ChunkJob, ChunkResult, run_chunk
from .summary import Interrupted, WriteSummary
from .write import DEFAULT_CHUNK_BYTES, DEFAULT_MAX_CHUNK, write_dataset

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_MAX_CHUNK",
    "RENDER_STEP_BYTES",
    "ChunkJob",
    "ChunkResult",
    "Interrupted",
    "WriteSummary",
    "run_chunk",
    "write_dataset",
]
