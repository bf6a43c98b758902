"""The movingmnist command, run in-process on real command lines (and once as a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import movingmnist as mm
from _io_helpers import PYTHON, SMALL, array_hashes, subprocess_env, write_idx_source
from movingmnist import cli
from movingmnist.cli import main
from movingmnist.io.zarr_writer import decode_index


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> str:
    return write_idx_source(tmp_path_factory.mktemp("glyphs"))


def gen_args(source: str, out, *more: str, num: int = 40, chunk: int = 10) -> list[str]:
    sets = [x for s in SMALL for x in ("--set", s)]
    return ["generate", "--preset", "srivastava", *sets, "--source", source, "--num", str(num),
            "--chunk-size", str(chunk), "--out", str(out), *more]


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("movingmnist") and "error" in lines[0] and "Traceback" not in captured.err
    return lines[0]


# -- presets ------------------------------------------------------------------------------------------------------
def test_presets_list(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(mm.list_presets())
    assert any(line.startswith("srivastava@1 ") and "Original Moving MNIST" in line for line in lines)


def test_presets_show(capsys):
    assert main(["presets", "stochastic"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stochastic@1: ") and "reference: Denton & Fergus" in out
    assert "motion.max_step" in out and "objects.size" in out and "notes:" in out


def test_presets_unknown(capsys):
    assert main(["presets", "nope"]) == 2
    assert "preset='nope'" in one_error_line(capsys)


# -- generate, info, verify -----------------------------------------------------------------------------------------
def test_generate_info_verify(tmp_path, source, capsys):
    out = tmp_path / "d.zarr"
    assert main(gen_args(source, out, "--seed", "4", "--start", "100")) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # not a terminal: no progress bar
    summary = captured.out.strip().splitlines()
    assert len(summary) == 1 and "wrote 40 sequences" in summary[0] and str(out) in summary[0]
    ds = mm.open(out)
    assert ds.seed == 4 and ds.start == 100 and ds.metadata["command"].startswith("movingmnist generate")
    ref = mm.Generator(mm.Spec.from_preset("srivastava", SMALL), 4, source=source).render(100, 40)
    assert ds[:].frames.tobytes() == ref.frames.tobytes()

    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    fields = {line.split()[0]: " ".join(line.split()[1:]) for line in info.splitlines() if line[:1].strip()}
    assert fields["complete"] == "yes" and fields["seed"] == "4"
    assert "40 (indices 100..139)" in info and "seed" in info and "frames" in info and "motion.speed" in info
    assert main(["info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == 4

    assert main(["verify", str(out), "--sample", "5", "--seed", "1"]) == 0
    assert "verified 5 of 40" in capsys.readouterr().out
    assert main(["verify", str(out), "--all"]) == 0
    assert "verified 40 of 40" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["hdf5", "npy", "classic-npy"])
def test_generate_other_formats(tmp_path, source, fmt, capsys):
    out = tmp_path / {"hdf5": "d.h5", "npy": "d.npy-dir", "classic-npy": "d.npy"}[fmt]
    assert main(gen_args(source, out, "--quiet")) == 0
    assert f" {fmt} at " in capsys.readouterr().out
    assert mm.open(out).format == fmt
    assert main(["verify", str(out), "--all"]) == 0


def test_format_flag_overrides_suffix(tmp_path, source):
    out = tmp_path / "plain"
    assert main(gen_args(source, out, "--format", "hdf5", "--quiet")) == 0
    assert mm.open(out).format == "hdf5"


def test_info_incomplete(tmp_path, source, capsys):
    out = tmp_path / "i.zarr"
    assert main(gen_args(source, out, "--quiet")) == 0
    with open(out / "zarr.json") as f:
        meta = json.load(f)
    meta["attributes"]["movingmnist"]["complete"] = False
    with open(out / "zarr.json", "w") as f:
        json.dump(meta, f)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["done"], manifest["complete"] = [[0, 2]], False
    (out / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "NO: 20 of 40 sequences are missing" in capsys.readouterr().out
    assert main(["verify", str(out)]) == 2
    assert "incomplete: 20 of 40 sequences are missing" in one_error_line(capsys)


# -- corruption -----------------------------------------------------------------------------------------------------
def _flip(path, offset: int, count: int = 4) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        data = bytearray(f.read(count))
        f.seek(offset)
        f.write(bytes(b ^ 0xFF for b in data))


def test_verify_finds_corrupt_zarr_chunk(tmp_path, source, capsys):
    out = tmp_path / "c.zarr"
    assert main(gen_args(source, out, "--quiet", "--start", "1000")) == 0
    rows = mm.open(out).layout.arrays["frames"].chunk_rows  # sequences per inner chunk
    shard = out / "frames" / "c" / "1" / "0" / "0" / "0" / "0"  # rows 10..19
    size = shard.stat().st_size
    per_shard = 10 // rows
    with open(shard, "rb") as f:
        f.seek(size - per_shard * 16 - 4)
        index = decode_index(f.read(), per_shard, size, str(shard))
    offset, length = (int(v) for v in index[3 // rows])  # the inner chunk holding row 13
    _flip(shard, offset + length // 2)
    capsys.readouterr()
    assert main(["verify", str(out), "--all"]) == 1
    report = capsys.readouterr().out
    first = 10 + (3 // rows) * rows
    named = ", ".join(str(1000 + r) for r in range(first, first + rows))
    assert f"{rows} of 40 sequences" in report and f"sequences: {named}\n" in report
    assert "sequence 1013 (row 13): cannot read frames" in report
    # corrupt a shard index: every sequence of that shard is named
    shard3 = out / "semantic" / "c" / "3" / "0" / "0" / "0"
    _flip(shard3, shard3.stat().st_size - 8)
    assert main(["verify", str(out), "--all"]) == 1
    report = capsys.readouterr().out
    assert f"{rows + 10} of 40 sequences" in report and "sequence 1035 (row 35): cannot read semantic" in report
    assert "checksum mismatch" in report


def test_verify_finds_changed_npy_bytes(tmp_path, source, capsys):
    out = tmp_path / "n.npy-dir"
    assert main(gen_args(source, out, "--quiet")) == 0
    boxes = np.load(out / "boxes.npy", mmap_mode="r+")
    boxes[27, 3, 0, 1] += 1.0
    boxes.flush()
    del boxes
    frames = np.load(out / "frames.npy", mmap_mode="r+")
    frames[5, 2, 0, 10, 10] ^= 0x10
    frames.flush()
    del frames
    capsys.readouterr()
    assert main(["verify", str(out), "--all"]) == 1
    report = capsys.readouterr().out
    assert "sequences: 5, 27" in report
    assert "sequence 5 (row 5): differs in frames" in report and "sequence 27 (row 27): differs in boxes" in report


def test_verify_finds_corrupt_hdf5_chunk(tmp_path, source, capsys):
    import h5py

    out = tmp_path / "h.h5"
    assert main(gen_args(source, out, "--quiet")) == 0
    with h5py.File(out, "r") as f:
        rows = f["instance"].chunks[0]
        info = f["instance"].id.get_chunk_info_by_coord((20, 0, 0, 0))
    _flip(out, info.byte_offset + info.size // 2)
    capsys.readouterr()
    assert main(["verify", str(out), "--all"]) == 1
    report = capsys.readouterr().out
    assert f"{rows} of 40 sequences" in report and "sequence 20 (row 20)" in report and "instance" in report


# -- bad input ------------------------------------------------------------------------------------------------------
def _listing(root) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


@pytest.mark.parametrize(
    ("case", "extra", "message"),
    [
        ("unwritable", [], "Not a directory"),
        ("exists", [], "already exists (a complete zarr dataset); pass --overwrite"),
        ("resume-spec", ["--resume", "--set", "motion.speed=0.2"], "motion.speed (stored [0.1, 0.1], given [0.2, "),
        ("resume-seed", ["--resume", "--seed", "9"], "seed (stored 0, given 9)"),
        ("format", ["--format", "tiff"], "invalid choice: 'tiff'"),
        ("num0", ["--num", "0"], "num=0 is not allowed: an integer >= 1"),
        ("num-neg", ["--num", "-3"], "num=-3 is not allowed"),
        ("chunk", ["--chunk-size", "500"], "chunk_size=500 is not allowed: an integer in [1, num=40]"),
        ("workers", ["--workers", "0"], "workers=0 is not allowed"),
        ("set", ["--set", "motion.sped=3"], "motion.sped"),
        ("both", ["--resume", "--overwrite"], "resume or overwrite, not both"),
        ("not-ours", ["--overwrite"], "is not a movingmnist dataset"),
    ],
)
def test_bad_input(tmp_path, source, capsys, case, extra, message):
    existing = tmp_path / "have.zarr"
    assert main(gen_args(source, existing, "--quiet")) == 0
    before = array_hashes(existing)
    target = tmp_path / "new.zarr"
    if case == "unwritable":
        (tmp_path / "file.txt").write_text("x")
        target = tmp_path / "file.txt" / "sub" / "d.zarr"
    elif case in ("exists", "resume-spec", "resume-seed"):
        target = existing
    elif case == "not-ours":
        target = tmp_path / "mine"
        target.mkdir()
        (target / "notes.txt").write_text("keep me")
    listing = _listing(tmp_path)
    args = gen_args(source, target, "--quiet")
    for flag in extra:  # later flags win over the defaults of gen_args
        args.append(flag)
    capsys.readouterr()
    assert main(args) == 2
    line = one_error_line(capsys)
    assert message in line, line
    assert _listing(tmp_path) == listing  # nothing written, nothing removed
    assert array_hashes(existing) == before


def test_overwrite_replaces(tmp_path, source, capsys):
    out = tmp_path / "o.zarr"
    assert main(gen_args(source, out, "--quiet", "--seed", "1")) == 0
    assert main(gen_args(source, out, "--quiet", "--seed", "2", "--overwrite")) == 0
    assert mm.open(out).seed == 2
    assert not [p for p in os.listdir(tmp_path) if ".trash-" in p]


def test_usage_errors(capsys):
    assert main([]) == 2
    assert "generate" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "generate" in capsys.readouterr().out
    assert main(["generate", "--num", "3"]) == 2
    one_error_line(capsys)
    assert main(["info", "/nonexistent/d.zarr"]) == 2
    assert "does not exist" in one_error_line(capsys)
    assert main(["download", "no-such-source"]) == 2
    assert "no-such-source" in one_error_line(capsys)


def test_subcommand_registry(tmp_path, monkeypatch, capsys):
    (tmp_path / "mm_extra_cmd.py").write_text(
        "def add_parser(subparsers):\n"
        "    p = subparsers.add_parser('hello', help='say hello')\n"
        "    p.add_argument('--name', default='world')\n"
        "    p.set_defaults(func=lambda args: print(f'hello {args.name}') or 0)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "COMMAND_MODULES", [*cli.COMMAND_MODULES, "mm_extra_cmd"])
    assert main(["hello", "--name", "mm"]) == 0
    assert capsys.readouterr().out == "hello mm\n"


def test_python_dash_m(tmp_path, source):
    out = tmp_path / "s.zarr"
    run = subprocess.run([PYTHON, "-m", "movingmnist", *gen_args(source, out)], env=subprocess_env(),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr == "" and "wrote 40 sequences" in run.stdout
    run = subprocess.run([PYTHON, "-m", "movingmnist", "verify", str(out)], env=subprocess_env(),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "all identical" in run.stdout


def test_import_stays_light():
    code = "import sys, movingmnist; print(sorted(m for m in ('zarr', 'h5py', 'dask', 'distributed', 'tqdm') " \
           "if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True)
    assert run.stdout.strip() == "[]", run.stderr


def test_format_that_contradicts_the_suffix_is_refused(tmp_path, capsys):
    """An HDF5 file named .zarr would mislead every later reader: the error names both, and nothing is written."""
    from movingmnist.cli import main

    out = tmp_path / "x.zarr"
    code = main(["generate", "--preset", "srivastava", "--source", "glyphs", "--num", "4", "--format", "hdf5",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "format='hdf5'" in err and "zarr" in err and not out.exists()


def test_classic_npy_output_says_it_is_frames_only(tmp_path, capsys):
    from movingmnist.cli import main

    assert main(["generate", "--preset", "srivastava", "--source", "glyphs", "--num", "4", "--out",
                 str(tmp_path / "x.npy")]) == 0
    assert "frames only" in capsys.readouterr().out
