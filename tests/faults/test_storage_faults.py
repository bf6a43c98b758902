"""Faults of the storage and of the processes that write it: an HDF5 file whose edit fails half-way is rebuilt by
the next resume, a full disk is refused before the HDF5 file is touched, and pool workers die with their parent.
Every case ends with a dataset byte-identical to an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time

import pytest

import movingmnist as mm
from _io_helpers import PYTHON, SMALL, array_hashes, subprocess_env, write_idx_source
from movingmnist.cli import main
from movingmnist.io.manifest import Manifest


def _args(source: str, num: int, chunk: int, *more: str) -> list[str]:
    sets = [x for s in SMALL for x in ("--set", s)]
    return ["generate", "--preset", "srivastava", *sets, "--source", source, "--num", str(num),
            "--chunk-size", str(chunk), "--quiet", *more]


# -- HDF5: an edit cut short -------------------------------------------------------------------------------------
# The file may grow only to LIMIT bytes (RLIMIT_FSIZE; SIGXFSZ ignored, so writes past it fail with EFBIG as on a full
# disk). The free-space check that normally refuses a commit first is switched off here: this is the damage it
# guards against, made on purpose, and the resume must repair it.
FAILED_EDIT_SCRIPT = textwrap.dedent(
    """
    import json, resource, signal, sys
    import movingmnist.io.hdf5_writer as hdf5_writer
    from movingmnist.cli import main
    limit, path, *args = sys.argv[1:]
    hdf5_writer.require_space = lambda path, nbytes: None
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), resource.RLIM_INFINITY))
    print(json.dumps({"code": main([*args, "--out", path])}))
    """
)


def test_hdf5_edit_cut_short_is_rebuilt_by_resume(tmp_path, capsys):
    """Before: a failed flush left the file unreadable (`info` crashed on 'addr overflow'), every --resume failed,
    and the CLI printed an HDF5 traceback. After: one line with errno's reason, and --resume rebuilds the file from
    its intact chunks and completes it identically."""
    source = write_idx_source(tmp_path / "glyphs")
    num, chunk = 300, 10
    ref = str(tmp_path / "ref.h5")
    assert main([*_args(source, num, chunk), "--out", ref]) == 0
    want = array_hashes(ref)
    size = os.path.getsize(ref)
    script = tmp_path / "cut.py"
    script.write_text(FAILED_EDIT_SCRIPT)
    rebuilt = 0
    for i, fraction in enumerate((0.3, 0.47, 0.55, 0.71, 0.86, 0.93)):
        path = str(tmp_path / f"cut{i}.h5")
        run = subprocess.run(
            [PYTHON, str(script), str(int(size * fraction)), path, *_args(source, num, chunk)],
            env=subprocess_env(), capture_output=True, timeout=120,
        )
        err = [line for line in run.stderr.decode().splitlines() if line.strip()]
        assert json.loads(run.stdout.decode().splitlines()[-1])["code"] == 2, err
        assert len(err) == 1 and "--resume" in err[0] and "Traceback" not in err[0], err
        with pytest.raises(mm.DatasetError):
            mm.open(path)
        capsys.readouterr()
        assert main([*_args(source, num, chunk, "--resume"), "--out", path]) == 0
        out = capsys.readouterr().out
        rebuilt += "rebuilt: no written sequence was lost" in out
        assert array_hashes(path) == want, fraction
    # a write that fails at the end of the file leaves it short of its recorded end: every recorded chunk is kept
    assert rebuilt, "no limit damaged the file: the repair was not exercised"


def test_hdf5_resume_repairs_a_file_with_a_broken_end(tmp_path, capsys):
    """A file cut short after its chunks were recorded (a lost tail) reads as damaged; the resume rebuilds it,
    keeps the chunks that are intact, and regenerates the others."""
    source = write_idx_source(tmp_path / "glyphs")
    num, chunk = 200, 10
    ref = str(tmp_path / "ref.h5")
    assert main([*_args(source, num, chunk), "--out", ref]) == 0
    want = array_hashes(ref)
    path = str(tmp_path / "x.h5")
    assert main([*_args(source, num, chunk), "--out", path]) == 0
    manifest = Manifest.load(path + ".manifest.json")
    manifest.complete = False
    manifest.save()
    meta_ok = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(meta_ok * 2 // 3)
    capsys.readouterr()
    assert main([*_args(source, num, chunk, "--resume"), "--out", path]) == 0
    out = capsys.readouterr().out
    assert "bytes before its recorded end) and was rebuilt" in out and "are written again" in out, out
    assert array_hashes(path) == want


# -- pool workers die with their parent --------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped has stopped for good)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc to find the worker processes")
def test_workers_die_with_their_parent(tmp_path):
    """Before: `kill -9` of the parent of --workers 2 left both workers writing chunks that no manifest recorded,
    then blocked forever. After: they exit within moments, write nothing more, and --resume completes the dataset
    identically."""
    source = write_idx_source(tmp_path / "glyphs")
    num, chunk = 6000, 10
    path = str(tmp_path / "w.zarr")
    args = _args(source, num, chunk, "--workers", "2")
    proc = subprocess.Popen([PYTHON, "-m", "movingmnist", *args, "--out", path], env=subprocess_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest_path = os.path.join(path, "manifest.json")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        manifest = Manifest.load(manifest_path) if os.path.exists(manifest_path) else None
        if manifest is not None and len(manifest.done) >= 4:
            break
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.skip("the run ended before it could be killed")
    workers = _children(proc.pid)
    assert workers, "no worker processes found"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.05)
    survivors = [p for p in workers if _alive(p)]
    for p in survivors:  # do not leave them behind whatever the outcome
        os.kill(p, signal.SIGKILL)
    assert not survivors, f"worker processes {survivors} outlived their killed parent"
    assert main([*_args(source, num, chunk, "--workers", "2", "--resume"), "--out", path]) == 0
    fresh = str(tmp_path / "fresh.zarr")
    assert main([*_args(source, num, chunk), "--out", fresh]) == 0
    assert array_hashes(path) == array_hashes(fresh)
