"""Bad input gets one clear message: suggestions for misspelt names, bounded reprs, refused nonsense."""

from __future__ import annotations

import pytest

import movingmnist as mm
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
