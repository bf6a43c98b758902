"""What a run reports: the :class:`WriteSummary`, the :class:`Interrupted` exception, and the progress bar."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


@dataclass
class WriteSummary:
    """What :func:`write_dataset` did. ``seconds`` is wall-clock time; ``render_seconds`` and ``write_seconds``
    (compression + write + fsync) add up the wall-clock time every process spent in each, ``compress_seconds`` the
    part of ``write_seconds`` spent compressing, ``cpu_seconds`` the CPU time of the processes that ran chunks (less
    than render + write when they wait for the disk or for a core)."""

    path: str
    format: str
    num: int
    written: int
    already: int
    nbytes: int
    seconds: float
    render_seconds: float = 0.0
    write_seconds: float = 0.0
    compress_seconds: float = 0.0
    cpu_seconds: float = 0.0
    workers: int = 1
    chunks: int = 0
    complete: bool = True
    pids: set[int] = field(default_factory=set)  # processes that rendered and wrote chunks
    peak_rss: dict[int, int] = field(default_factory=dict)  # pid -> peak resident memory (bytes) seen so far
    note: str = ""  # how the run was carried out, when not as asked (e.g. a pool not worth starting)

    def add_note(self, text: str) -> None:
        self.note = f"{self.note}; {text}" if self.note else text

    @property
    def seq_per_s(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        """One-line summary for logs and the CLI."""
        if not self.written:
            head = f"{self.path} is already complete: {self.num:,} sequences"
            return f"{head}, {human_bytes(self.nbytes)} on disk"
        resumed = f" (resumed: {self.already:,} were already written)" if self.already else ""
        return (
            f"wrote {self.written:,} sequences{resumed} in {self.seconds:.1f} s ({self.seq_per_s:,.0f} seq/s; "
            f"render {self.render_seconds:.1f} s, compress {self.compress_seconds:.1f} s, write "
            f"{self.write_seconds - self.compress_seconds:.1f} s over "
            f"{self.workers} worker{'s' if self.workers != 1 else ''}): {self.num:,} sequences, "
            f"{human_bytes(self.nbytes)} on disk, {self.format} at {self.path}"
            + (f" ({self.note})" if self.note else "")
        )


class Interrupted(KeyboardInterrupt):
    """Generation was interrupted (Ctrl-C); finished chunks are recorded and ``resume=True`` completes it."""

    def __init__(self, path: str, written: int, total: int) -> None:
        self.path = path
        self.written = written
        self.total = total
        super().__init__(f"interrupted: {written:,} of {total:,} sequences are written to {path}")


# Both are documented (and shown in reprs and tracebacks) under their public path, movingmnist.runner.
WriteSummary.__module__ = Interrupted.__module__ = "movingmnist.runner"


class Progress:
    """A tqdm bar of sequences written (nothing when not ``enabled``)."""

    def __init__(self, total: int, initial: int, enabled: bool, desc: str) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, initial=initial, unit="seq", dynamic_ncols=True, desc=desc,
                smoothing=0.05, file=sys.stderr,
            )

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def human_bytes(nbytes: int) -> str:
    """``1234567`` -> ``"1.2 MB"`` (decimal units)."""
    value = float(nbytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{nbytes} B"
