"""The model layer names settings by key; each command names them by its own flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import command_parser, main
from cli.setting_flags import setting_flags
from ssflow.errors import SettingError
from ssflow_search import train


def _error(capsys: pytest.CaptureFixture) -> str:
    return capsys.readouterr().err.strip()


def test_each_command_maps_the_keys_it_has_flags_for() -> None:
    train_flags, sweep_flags = setting_flags(command_parser("train")), setting_flags(command_parser("search"))
    assert train_flags["data.root"] == sweep_flags["data.root"] == "--data-root"
    assert train_flags["backbone.weights"] == "--backbone-weights" and "backbone.weights" not in sweep_flags
    assert train_flags["overrides"] == "--set" and sweep_flags["device"] == "--device"


def test_the_same_error_names_the_flag_on_the_command_line_and_the_key_in_python(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--dataset", "folder", "--category", "x", "--out", str(tmp_path / "a")]) == 2
    assert "has no default location; give --data-root: " in _error(capsys)
    assert main(["--dataset", "folder", "--storage", str(tmp_path / "runs")]) == 2
    assert "has no default location; give --data-root: " in _error(capsys)
    with pytest.raises(SettingError, match="has no default location; give data.root: ") as caught:
        train("folder", "x", out=tmp_path / "b")
    assert caught.value.key == "data.root"
    assert main(["train", "--dataset", "demo", "--category", "wood", "--out", str(tmp_path / "c"),
                 "--set", "no-equals-sign"]) == 2
    assert _error(capsys) == "error: --set 'no-equals-sign': expected key=value, e.g. flow.coupling_blocks=8"
    assert not any((tmp_path / name).exists() for name in ("a", "b", "c", "runs"))


def test_a_setting_error_without_a_flag_keeps_the_key() -> None:
    error = SettingError("backbone.name", "resnet_x", "no weights; give {backbone.weights} FILE")
    assert str(error) == "backbone.name resnet_x: no weights; give backbone.weights FILE"
    assert error.named({"backbone.weights": "--backbone-weights"}) == \
        "backbone.name resnet_x: no weights; give --backbone-weights FILE"


def test_a_setting_error_crosses_processes_whole() -> None:
    """A trial's error is pickled from a Ray worker to the driver; it must arrive with its fields."""
    import pickle

    error = pickle.loads(pickle.dumps(SettingError("device", "cuda", "no CUDA device; use {device} auto")))
    assert (type(error), error.key, error.value) == (SettingError, "device", "cuda")
    assert error.named({"device": "--device"}) == "--device cuda: no CUDA device; use --device auto"


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_a_local_sweep_on_cuda_without_a_gpu_is_refused_before_ray(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    assert main(["--dataset", "demo", "--device", "cuda", "--storage", str(tmp_path / "runs")]) == 2
    assert _error(capsys) == "error: --device cuda: no CUDA device is available here; use --device auto or cpu"
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("argv", "line"), [
    (["--datset", "demo"], "unrecognized argument --datset; did you mean --dataset?"),
    (["predict", "--modle", "m.onnx", "--out", "o", "x"], "unrecognized argument --modle; did you mean --model?"),
])
def test_a_misspelt_flag_is_named_before_a_missing_required_one(argv: list[str], line: str,
                                                                capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and line in _error(capsys)


def test_a_negative_value_reaches_its_own_check(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """argparse would read ``-5m`` as a flag and say --time-budget lacks its value."""
    assert main(["--dataset", "demo", "--time-budget", "-5m", "--storage", str(tmp_path / "runs")]) == 2
    assert _error(capsys) == "error: --time-budget -5m: expected a duration such as 90s, 20m, 2h or 1h30m"
    assert not (tmp_path / "runs").exists()
