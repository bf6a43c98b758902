"""Resume after SIGKILL, Ctrl-C and a full disk: the result is byte-identical to an uninterrupted run, and a dataset
is never reported complete while chunks are missing."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import textwrap
import time

import numpy as np
import pytest

import movingmnist as mm
from _io_helpers import PYTHON, SMALL, array_hashes, subprocess_env, undo_zarr_chunk, write_idx_source
from movingmnist.cli import main
from movingmnist.io import get_writer
from movingmnist.io.manifest import Manifest


def _args(source: str, num: int, chunk: int, *more: str) -> list[str]:
    sets = [x for s in SMALL for x in ("--set", s)]
    return ["generate", "--preset", "srivastava", *sets, "--source", source, "--num", str(num),
            "--chunk-size", str(chunk), "--quiet", *more]


def _spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, "-m", "movingmnist", *args], env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _wait_for(path: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)


def _check_consistent(path: str, fmt: str, reference: mm.Dataset) -> bool:
    """After a kill: every chunk the manifest records holds the right bytes; complete only if all are there.
    Returns whether the dataset is complete."""
    manifest = Manifest.load(get_writer(fmt).manifest_path(path))
    if manifest is None:
        return False
    try:
        ds = mm.open(path, allow_incomplete=True)
    except mm.DatasetError:
        assert not manifest.done, "chunks recorded although the dataset cannot be opened"
        return False
    if ds.complete:
        assert manifest.all_done
    else:
        assert ds.missing > 0 or not ds.metadata["complete"]
        with pytest.raises(mm.DatasetError, match="incomplete"):
            mm.open(path)
    layout = ds.layout
    for chunk in sorted(manifest.done):
        lo, hi = layout.chunk_range(chunk)
        got, want = ds[lo:hi], reference[lo:hi]
        for name, array in want.arrays().items():
            assert getattr(got, name).tobytes() == array.tobytes(), (chunk, name)
    ds.close()
    return ds.complete


@pytest.mark.parametrize(("fmt", "suffix", "kills"), [("zarr", ".zarr", 10), ("npy", ".npy-dir", 3)])
def test_sigkill_chaos(tmp_path, fmt, suffix, kills):
    source = write_idx_source(tmp_path / "glyphs")
    num, chunk = 600, 10
    ref_path = str(tmp_path / f"ref{suffix}")
    t0 = time.perf_counter()
    assert main([*_args(source, num, chunk), "--out", ref_path]) == 0
    duration = time.perf_counter() - t0
    want = array_hashes(ref_path)
    reference = mm.open(ref_path)
    rng = random.Random(20240 + kills)
    path = str(tmp_path / f"x{suffix}")
    manifest_path = get_writer(fmt).manifest_path(path)
    for round_ in range(kills):
        flags = ["--overwrite"]
        for _attempt in range(1 + (round_ % 2)):  # odd rounds also kill the resuming process
            proc = _spawn([*_args(source, num, chunk, *flags), "--out", path])
            _wait_for(manifest_path, proc)
            time.sleep(rng.uniform(0, duration))
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            _check_consistent(path, fmt, reference)
            flags = ["--resume"]
        assert main([*_args(source, num, chunk, "--resume"), "--out", path]) == 0
        assert array_hashes(path) == want, f"round {round_}"


def test_sigkill_hdf5_resumes(tmp_path, capsys):
    """A single HDF5 file killed mid-write may be damaged; the resume then rebuilds it from its intact chunks (and
    says so). Either way the result is identical to an uninterrupted run."""
    source = write_idx_source(tmp_path / "glyphs")
    ref_path = str(tmp_path / "ref.h5")
    assert main([*_args(source, 300, 10), "--out", ref_path]) == 0
    want = array_hashes(ref_path)
    path = str(tmp_path / "x.h5")
    rng = random.Random(7)
    for _ in range(3):
        proc = _spawn([*_args(source, 300, 10, "--overwrite"), "--out", path])
        _wait_for(path + ".manifest.json", proc)
        time.sleep(rng.uniform(0, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert main([*_args(source, 300, 10, "--resume"), "--out", path]) == 0
        assert array_hashes(path) == want


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_exits_130_and_resumes(tmp_path, workers):
    source = write_idx_source(tmp_path / "glyphs")
    num, chunk = 400 * workers, 10
    path = str(tmp_path / "c.zarr")
    proc = _spawn([*_args(source, num, chunk, "--workers", str(workers)), "--out", path])
    manifest_path = f"{path}/manifest.json"
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:  # wait until some chunks are done
        manifest = Manifest.load(manifest_path) if os.path.exists(manifest_path) else None
        if manifest is not None and len(manifest.done) >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    err = err.decode()
    if proc.returncode == 0:
        pytest.skip("the run finished before Ctrl-C arrived")
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0] and "--resume" in lines[0], err
    assert "Traceback" not in err
    with pytest.raises(mm.DatasetError, match="incomplete"):
        mm.open(path)
    assert main([*_args(source, num, chunk, "--workers", str(workers), "--resume"), "--out", path]) == 0
    fresh = str(tmp_path / "fresh.zarr")
    assert main([*_args(source, num, chunk), "--out", fresh]) == 0
    assert array_hashes(path) == array_hashes(fresh)


DISK_FULL_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from movingmnist.cli import main
    mnt, source, fmt, suffix = sys.argv[1:5]
    args = {args}
    ballast = os.path.join(mnt, "ballast")
    with open(ballast, "wb") as f:
        f.write(b"x" * {ballast})
    path = os.path.join(mnt, "d" + suffix)
    code = main([*args, "--out", path])
    result = {{"first": code, "exists": os.path.exists(path)}}
    try:
        import movingmnist as mm
        mm.open(path)
        result["opened"] = True
    except mm.DatasetError as exc:
        result["opened"] = False
        result["open_error"] = str(exc)
    os.remove(ballast)
    result["second"] = main([*args, "--resume", "--out", path])
    import hashlib, numpy as np
    with mm.open(path) as ds:
        result["hashes"] = {{n: hashlib.sha256(np.ascontiguousarray(a[:]).tobytes()).hexdigest()
                            for n, a in ds.arrays.items()}}
    print(json.dumps(result))
    """
)


@pytest.mark.parametrize(("fmt", "suffix", "size_kb", "ballast_kb"), [("zarr", ".zarr", 4096, 3072),
                                                                       ("npy", ".npy-dir", 20480, 12288),
                                                                       ("hdf5", ".h5", 4096, 3072)])
def test_disk_full_then_resume(tmp_path, fmt, suffix, size_kb, ballast_kb):
    """A tiny tmpfs (size=...) mounted in a private user+mount namespace (``unshare``) fills up during generation:
    one-line error, exit 2, nothing reported complete; after freeing space, --resume completes it identically."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not available to mount a small tmpfs")
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {probe.stderr.decode().strip()}")
    source = write_idx_source(tmp_path / "glyphs")
    num, chunk = 400, 20
    ref = str(tmp_path / f"ref{suffix}")
    assert main([*_args(source, num, chunk), "--out", ref]) == 0
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = tmp_path / "fill.py"
    script.write_text(DISK_FULL_SCRIPT.format(args=_args(source, num, chunk), ballast=ballast_kb * 1024))
    run = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
         f"mount -t tmpfs -o size={size_kb}k tmpfs {mnt} && exec {PYTHON} {script} {mnt} {source} {fmt} {suffix}"],
        env=subprocess_env(), capture_output=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr.decode()
    result = json.loads(run.stdout.decode().strip().splitlines()[-1])
    err_lines = [line for line in run.stderr.decode().splitlines() if line.strip()]
    assert result["first"] == 2, result
    assert len(err_lines) == 1 and "No space left on device" in err_lines[0] and "--resume" in err_lines[0], err_lines
    assert result["opened"] is False and ("incomplete" in result["open_error"] or "not" in result["open_error"])
    assert result["second"] == 0
    assert result["hashes"] == array_hashes(ref)


def test_resume_semantics(tmp_path, capsys):
    source = write_idx_source(tmp_path / "glyphs")
    path = str(tmp_path / "r.zarr")
    # --resume where nothing exists starts afresh
    assert main([*_args(source, 50, 10, "--resume"), "--out", path]) == 0
    # --resume of a complete dataset writes nothing
    capsys.readouterr()
    assert main([*_args(source, 50, 10, "--resume"), "--out", path]) == 0
    assert "already complete" in capsys.readouterr().out
    # a resume that leaves out --chunk-size uses the stored one; a different one is refused
    undo_zarr_chunk(path, 2)
    assert main([*_args(source, 50, 25, "--resume"), "--out", path]) == 2
    assert "chunk_size (stored 10, given 25)" in capsys.readouterr().err
    args = [a for a in _args(source, 50, 10, "--resume") if a not in ("--chunk-size", "10")]
    assert main([*args, "--out", path]) == 0
    assert "resumed: 40 were already written" in capsys.readouterr().out
    ref = mm.Generator(mm.Spec.from_preset("srivastava", SMALL), 0, source=source).render(0, 50)
    assert np.array_equal(mm.open(path).arrays["frames"][:], ref.frames)
