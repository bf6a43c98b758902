"""One writer per dataset: a second run on the same path (also a second --resume) is refused with one line naming
the holder's pid, and the lock leaves no trace in a finished dataset."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time

import pytest

import movingmnist as mm
from _io_helpers import PYTHON, SMALL, subprocess_env
from movingmnist.cli import main
from movingmnist.io.files import atomic_write, remove_stale_temps
from movingmnist.runner.lock import lock_path, writer_lock

# A CLI run that imports first and starts when its gate file appears: the two runs then start close together.
_GATED = textwrap.dedent(
    """
    import os, sys, time
    from movingmnist.cli import main
    gate = sys.argv[1]
    while not os.path.exists(gate):
        time.sleep(0.005)
    sys.exit(main(sys.argv[2:]))
    """
)


def _gen_args(out, num: int, chunk: int, *more: str) -> list[str]:
    sets = [x for s in SMALL for x in ("--set", s)]
    return ["generate", "--preset", "srivastava", *sets, "--source", "glyphs", "--num", str(num),
            "--chunk-size", str(chunk), "--out", str(out), "--quiet", *more]


def _gated(tmp_path, name: str, args: list[str]) -> tuple[subprocess.Popen, str]:
    gate = str(tmp_path / f"go-{name}")
    proc = subprocess.Popen([PYTHON, "-c", _GATED, gate, *args], env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, gate


@pytest.mark.parametrize("suffix", [".zarr", ".npy-dir"])
def test_two_writers_on_one_path_one_is_refused(tmp_path, suffix):
    out = tmp_path / f"race{suffix}"
    first, gate1 = _gated(tmp_path, "1", _gen_args(out, 1500, 100))
    second, gate2 = _gated(tmp_path, "2", _gen_args(out, 1500, 100, "--overwrite"))
    open(gate1, "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(lock_path(str(out))) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert first.poll() is None, first.communicate()
    open(gate2, "w").close()  # even --overwrite must not touch a dataset another run is writing
    err2 = second.communicate(timeout=120)[1]
    err1 = first.communicate(timeout=120)[1]
    assert first.returncode == 0, err1
    assert second.returncode != 0
    lines = [line for line in err2.splitlines() if line.strip()]
    assert len(lines) == 1 and f"is being written by pid {first.pid}" in lines[0], err2
    # the finished dataset: no lock file, opens, verifies
    assert not os.path.exists(lock_path(str(out)))
    ds = mm.open(out)
    assert len(ds) == 1500
    assert mm.verify_dataset(out, sample=5).ok


def test_second_resume_is_refused_naming_the_pid(tmp_path, capsys):
    out = tmp_path / "held.zarr"
    assert main(_gen_args(out, 20, 10)) == 0
    capsys.readouterr()
    with writer_lock(str(out)):  # flock conflicts between two opens even in one process
        assert main(_gen_args(out, 20, 10, "--resume")) != 0
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and f"pid {os.getpid()}" in lines[0] and "--resume" in lines[0], err
    assert main(_gen_args(out, 20, 10, "--resume")) == 0  # released: the next run goes ahead
    assert not os.path.exists(lock_path(str(out)))


def test_lock_of_a_trailing_slash_path_is_beside_the_directory(tmp_path):
    assert lock_path(str(tmp_path / "a.zarr") + "/") == str(tmp_path / "a.zarr.writer.lock")


def test_atomic_write_temporaries_are_unique_and_stale_ones_are_removed(tmp_path, monkeypatch):
    target = tmp_path / "data.h5.manifest.json"
    names = []
    real_open = os.open

    def spy(path, *args, **kwargs):
        names.append(os.path.basename(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    atomic_write(str(target), b"a", durable=False)
    atomic_write(str(target), b"b", durable=False)
    monkeypatch.undo()
    assert target.read_bytes() == b"b"
    assert names[0] != names[1] and all(f".{os.getpid()}-" in n for n in names)
    stale = tmp_path / ".data.h5.manifest.json.123-0123abcd.tmp"
    other = tmp_path / ".data.h5x.manifest.json.123-0123abcd.tmp"  # another dataset's: kept
    stale.write_bytes(b"x")
    other.write_bytes(b"x")
    assert remove_stale_temps(str(tmp_path / "data.h5")) == 1
    assert not stale.exists() and other.exists()
