"""Bad input gets one clear message: suggestions for misspelt names, bounded reprs, refused nonsense."""

from __future__ import annotations

import pytest

import movingmnist as mm
from _io_helpers import write_idx_source
from movingmnist.cli import main
from movingmnist.errors import SourceError, SpecError
from movingmnist.sources import load_source


def cli_error(capsys, argv: list[str]) -> str:
    """Run the CLI in-process; it must fail with one ``movingmnist: error:`` line and no traceback."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("movingmnist: error:") and "Traceback" not in err, err
    return lines[0]


def gen(tmp_path, *more: str) -> list[str]:
    return ["generate", "--num", "2", "--out", str(tmp_path / "d.zarr"), "--quiet", *more]


# -- did you mean ---------------------------------------------------------------------------------------------------
def test_unknown_preset_suggests_the_closest():
    with pytest.raises(SpecError, match=r"preset='srivastav' is not allowed: .*did you mean 'srivastava'\?"):
        mm.Spec.from_preset("srivastav")


def test_unknown_field_says_it_is_not_a_field_and_suggests():
    with pytest.raises(SpecError) as info:
        mm.Spec.from_preset("srivastava", ["motion.sped=3"])
    message = str(info.value)
    assert message.startswith("motion.sped is not a field (did you mean motion.speed?)"), message
    assert "unknown field" not in message and info.value.field == "motion.sped"
    with pytest.raises(SpecError, match=r"^motion.sped is not a field \(did you mean motion.speed\?\)"):
        mm.Spec.from_dict({"motion": {"sped": 3}})
    with pytest.raises(SpecError, match=r"^motoin is not a section \(did you mean motion\?\)"):
        mm.Spec.from_preset("srivastava", ["motoin.speed=3"])
    with pytest.raises(SpecError, match=r"^motion.zzz is not a field; known fields: motion.model"):
        mm.Spec.from_preset("srivastava", ["motion.zzz=3"])


def test_unknown_source_suggests_the_closest():
    with pytest.raises(SourceError, match=r"source='mnsit' is not allowed: .*did you mean 'mnist'\?"):
        load_source("mnsit")


def test_cli_did_you_mean(tmp_path, capsys):
    line = cli_error(capsys, gen(tmp_path, "--preset", "srivastav"))
    assert "did you mean 'srivastava'?" in line
    line = cli_error(capsys, gen(tmp_path, "--preset", "srivastava", "--set", "motion.sped=3"))
    assert "motion.sped is not a field (did you mean motion.speed?)" in line
    line = cli_error(capsys, gen(tmp_path, "--preset", "srivastava", "--source", "mnsit"))
    assert "did you mean 'mnist'?" in line
    assert not (tmp_path / "d.zarr").exists()


# -- configs: no alias bombs, no duplicate keys, text only, known presets -------------------------------------------
def _alias_bomb(flow: bool = False) -> str:
    """About 300 bytes of YAML whose last alias expands to 9**9 (~387 million) items."""
    names = "abcdefghi"
    items = ["a: &a [1,1,1,1,1,1,1,1,1]"]
    items += [f"{n}: &{n} [{','.join(['*' + names[i]] * 9)}]" for i, n in enumerate(names[1:])]
    if flow:
        return "{" + ", ".join(items) + "}"
    return "\n".join(items) + "\nmotion:\n  speed: *i\n"


def test_config_with_yaml_aliases_is_refused(tmp_path, capsys):
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb())
    with pytest.raises(SpecError, match=r"^config='.*bomb.yaml' is not allowed: YAML without anchors .*&a on line 1"):
        mm.Spec.from_file(path)
    line = cli_error(capsys, gen(tmp_path, "--config", str(path)))
    assert "YAML without anchors (&) or aliases (*)" in line
    line = cli_error(capsys, gen(tmp_path, "--preset", "srivastava", "--set", "motion.speed=" + _alias_bomb(True)))
    assert line.startswith("movingmnist: error: motion.speed=") and "YAML without anchors" in line
    assert len(line) < 400  # the value is shown cut short


def test_error_messages_cut_huge_values():
    bomb: list = [1] * 9
    for _ in range(8):  # 9**9 items by shared references: a full repr would never finish
        bomb = [bomb] * 9
    with pytest.raises(SpecError) as info:
        mm.Spec.from_dict({"motion": {"speed": bomb}})
    assert str(info.value).startswith("motion.speed=[[") and len(str(info.value)) < 300
    long = "x" * 10_000
    assert len(str(SpecError("source.name", long, "a name"))) < 150


def test_config_duplicate_keys_binary_files_and_bad_presets(tmp_path, capsys):
    dup = tmp_path / "dup.yaml"
    dup.write_text("frames: 3\nmotion:\n  speed: 1\n  speed: 2\n")
    with pytest.raises(SpecError, match=r"each key once per mapping; 'speed' is repeated on line 4"):
        mm.Spec.from_file(dup)
    assert "'speed' is repeated" in cli_error(capsys, gen(tmp_path, "--config", str(dup)))

    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x89PNG\x00\x01")
    with pytest.raises(SpecError, match=r"a YAML or JSON text file in UTF-8 \(byte 0 is not UTF-8\)"):
        mm.Spec.from_file(binary)
    assert "UTF-8" in cli_error(capsys, gen(tmp_path, "--config", str(binary)))

    nosuch = tmp_path / "nosuch.yaml"
    nosuch.write_text("preset: nosuch\nframes: 5\n")
    with pytest.raises(SpecError, match=r"^preset='nosuch' is not allowed: one of srivastava"):
        mm.Spec.from_file(nosuch)
    assert "preset='nosuch' is not allowed" in cli_error(capsys, gen(tmp_path, "--config", str(nosuch)))
    number = tmp_path / "number.yaml"
    number.write_text("preset: 5\n")
    with pytest.raises(SpecError, match=r"^preset=5 is not allowed: a preset name"):
        mm.Spec.from_file(number)
    assert not (tmp_path / "d.zarr").exists()


# -- accepted nonsense and raw tracebacks ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "override",
    ["frames=true", "canvas.height=false", "canvas.channels=true", "objects.size=true", "objects.count=[true, 2]",
     "motion.max_step=true", "motion.speed=[false, 2]", "annotations.ignore_label=true"],
)
def test_booleans_are_not_numbers(override):
    field = override.split("=")[0]
    with pytest.raises(SpecError, match=rf"^{field}=(True|False) is not allowed: a number, not the boolean"):
        mm.Spec.from_preset("srivastava", [override])
    assert mm.Spec.from_preset("srivastava", ["frames=3"]).frames == 3


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> str:
    return write_idx_source(tmp_path_factory.mktemp("glyphs"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--start", str(2**63)], f"start={2**63} is not allowed: an integer in [0, 2**63-1-num] = [0, {2**63 - 3}]"),
        (["--start", str(2**63 - 2)], "sequence indices start..start+num-1 are 64-bit"),
        (["--num", str(10**15)], "num=1000000000000000 is not allowed: at most "),
        (["--num", str(10**15)], "bytes of raw arrays, over the limit of 2**48 bytes (256 TiB) per dataset"),
        (["--compression", "zstd:"], "compression='zstd:' is not allowed: zstd:LEVEL with LEVEL an integer in [-7, "),
        (["--compression", "zstd:+3"], "compression='zstd:+3' is not allowed"),
        (["--compression", "none:"], "compression='none:' is not allowed: 'none' without a level"),
        (["--compression", ""], "compression='' is not allowed: one of zstd"),
        (["--set", "frames=true"], "frames=True is not allowed: a number, not the boolean true"),
    ],
)
def test_generate_refuses_up_front(tmp_path, capsys, source, extra, message):
    argv = ["generate", "--preset", "srivastava", "--source", source, "--num", "2", "--set", "frames=3",
            "--out", str(tmp_path / "d.zarr"), "--quiet", *extra]
    line = cli_error(capsys, argv)
    assert message in line, line
    assert not (tmp_path / "d.zarr").exists()


def test_generate_at_the_last_indices(tmp_path, source):
    out = tmp_path / "end.zarr"
    mm.write_dataset("srivastava", seed=0, num=2, path=out, source=source, start=2**63 - 3,
                     overrides=["frames=3"], progress=False)
    assert mm.open(out)[:].index.tolist() == [2**63 - 3, 2**63 - 2]


def test_dataset_indexing_refuses_bad_keys(tmp_path, source):
    out = tmp_path / "tiny.zarr"
    mm.write_dataset("srivastava", seed=0, num=3, path=out, source=source, overrides=["frames=3"], progress=False)
    ds = mm.open(out)
    with pytest.raises(TypeError, match=r"dataset index 1.5 is not allowed: use an integer row"):
        ds[1.5]
    with pytest.raises(TypeError, match=r"is a boolean"):
        ds[True]
    with pytest.raises(TypeError, match=r"dataset index \['a'\] is not allowed"):
        ds[["a"]]
    with pytest.raises(IndexError, match=r"boolean mask of shape \(2,\) does not match a dataset of 3 sequences"):
        ds[[True, False]]
    with pytest.raises(IndexError, match=r"row 3 is out of range for a dataset of 3 sequences"):
        ds[[0, 3]]
    assert ds[[True, False, True]].index.tolist() == [0, 2]
    assert ds[[-1, 0]].index.tolist() == [2, 0]
    assert ds[[]].index.tolist() == []
