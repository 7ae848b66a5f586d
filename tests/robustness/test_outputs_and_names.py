"""Output folders are shared with their users: predict replaces only what it wrote, train keeps a good model,
and file names of any bytes are scored, written and printed safely."""

import json
import os
import shutil
from pathlib import Path

import pandas as pd

import cli.train_command
from cli.main import main
from ssflow_runtime.predict_outputs import overlay_names
from ssflow_runtime.text import plain, safe_part
from file_fingerprints import folder_hashes
from ssflow.training.train import FitResult

ODD_NAMES = [b"caf\xff.png", b"two words #1.png", "\U0001f50d emoji.png".encode(), b"\x1b[31mred.png"]


def _images(small_demo_root: Path, count: int = 2) -> list[Path]:
    return sorted((small_demo_root / "wood" / "test" / "ko").glob("*.png"))[:count]


def _predict(trained: Path, inputs: list[Path], out: Path, *extra: str) -> int:
    return main(["predict", "--model", str(trained / "model.pt"), *map(str, inputs), "--out", str(out), *extra])


def test_predict_refuses_a_folder_holding_files_it_did_not_write(trained, small_demo_root, tmp_path, error_line):
    out = tmp_path / "results"
    (out / "overlays").mkdir(parents=True)
    (out / "overlays" / "mine.png").write_bytes(b"the user's own picture")
    (out / "predictions.csv").write_text("written by another tool\n")
    before = folder_hashes(tmp_path)
    assert _predict(trained, _images(small_demo_root), out) == 2
    line = error_line()
    assert str(out) in line and "predictions.csv" in line and "--force" in line
    assert folder_hashes(tmp_path) == before


def test_predict_reruns_replace_only_their_own_outputs(trained, small_demo_root, tmp_path, error_line):
    out = tmp_path / "results"
    assert _predict(trained, _images(small_demo_root), out, "--format", "parquet") == 0
    assert (out / "predictions.parquet").is_file() and (out / ".ssflow-outputs.json").is_file()
    assert _predict(trained, _images(small_demo_root, 1), out) == 0  # its own earlier outputs: replaced
    assert not (out / "predictions.parquet").exists() and len(list((out / "overlays").iterdir())) == 1
    (out / "notes.txt").write_text("the user's notes")
    before = folder_hashes(tmp_path)
    assert _predict(trained, _images(small_demo_root), out) == 2
    assert "notes.txt" in error_line() and folder_hashes(tmp_path) == before
    assert _predict(trained, _images(small_demo_root), out, "--force") == 0
    assert (out / "notes.txt").read_text() == "the user's notes"
    assert len(pd.read_csv(out / "predictions.csv")) == 2


def test_odd_file_names_are_scored_written_and_printed_escaped(trained, small_demo_root, tmp_path, capsys,
                                                               monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    inputs = tmp_path / b"in\xfe".decode(errors="surrogateescape")
    source = _images(small_demo_root, 1)[0]
    for index, name in enumerate(ODD_NAMES):
        folder = inputs / f"{'ab'[index % 2]}"  # two folders: a/ and b/ share names below
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, Path(os.fsdecode(bytes(folder) + b"/" + name)))
    shutil.copy(source, inputs / "a" / "x.png")
    shutil.copy(source, inputs / "b" / "x.png")
    out = tmp_path / "results"
    assert _predict(trained, [inputs], out, "--recursive", "--threshold=-1e30") == 0
    printed = capsys.readouterr().out
    assert "\x1b[31m" not in printed and "\\x1b" in printed  # the escape sequence is shown, not obeyed
    table = pd.read_csv(out / "predictions.csv", encoding="utf-8")  # valid UTF-8 whatever the names
    assert len(table) == len(ODD_NAMES) + 2 and table["anomalous"].all()
    assert any("\\xff" in path for path in table["path"]) and any("\U0001f50d" in path for path in table["path"])
    overlays = list((out / "overlays").rglob("*.png"))
    assert len(overlays) == len(table) == len(set(table["overlay"]))  # one overlay per input, none overwritten
    assert all((out / overlay).is_file() for overlay in table["overlay"])
    assert {"overlays/a/x.png", "overlays/b/x.png"} <= set(table["overlay"])  # the inputs' folders kept
    assert all(name.name.isprintable() for name in overlays)


def test_a_train_rerun_without_a_model_keeps_the_earlier_model(trained, small_demo_root, tmp_path, monkeypatch,
                                                               capsys):
    out = tmp_path / "wood"
    shutil.copytree(trained, out)
    before = folder_hashes(out)
    diverged = FitResult(status="diverged", reason="loss diverged [nan] at epoch 1", epochs=1, seconds=0.1,
                         selection=None, report=None, flow=None, calibration=None)
    monkeypatch.setattr(cli.train_command, "fit", lambda *args, **kwargs: diverged)
    code = main(["train", "--dataset", "btad", "--data-root", str(small_demo_root), "--category", "wood",
                 "--image-size", "64", "--epochs", "1", "--out", str(out)])
    assert code == 1
    printed = capsys.readouterr().out
    assert "kept" in printed and "model.pt" in printed and "diverged" in printed
    after = folder_hashes(out)
    assert {key: value for key, value in after.items() if not key.startswith("failed-run")} == before
    assert json.loads((out / "failed-run" / "metrics.json").read_text())["status"] == "diverged"


def test_force_replaces_only_predicts_own_paths_and_reruns_keep_files_put_in_its_folders(
        trained, small_demo_root, tmp_path):
    out = tmp_path / "results"
    (out / "overlays").mkdir(parents=True)
    (out / "overlays" / "mine.png").write_bytes(b"the user's own picture")
    assert _predict(trained, _images(small_demo_root), out, "--force") == 0
    assert (out / "overlays" / "mine.png").read_bytes() == b"the user's own picture"
    (out / "overlays" / "later.txt").write_text("put into predict's folder after a run")
    assert _predict(trained, _images(small_demo_root, 1), out, "--force") == 0
    assert (out / "overlays" / "later.txt").is_file() and (out / "overlays" / "mine.png").is_file()
    assert len([path for path in (out / "overlays").iterdir() if path.suffix == ".png"]) == 2  # mine + one overlay


def test_a_literal_backslash_never_prints_as_an_escape():
    assert plain("bad\\xff.png") != plain(os.fsdecode(b"bad\xff.png"))
    assert plain(os.fsdecode(b"bad\xff.png")) == "bad\\xff.png" and plain("bad\\xff.png") == "bad\\\\xff.png"


def test_overlay_names_never_leave_the_overlays_folder():
    names = overlay_names([Path("esc/a/x.png"), Path("esc/a/../../esc/a/y.png"), Path("work/imgs/../batch2/y.png")])
    assert all(".." not in Path(name).parts and not Path(name).is_absolute() for name in names)
    assert len(set(names)) == 3
    same_file = overlay_names([Path("pin/a/x.png"), Path("pin/b/../a/x.png"), Path("pin/b/x.png")])
    assert len(set(same_file)) == 3 and all(".." not in name for name in same_file)
    assert safe_part("..") == "_" and safe_part("\x1b[31mred") == "_x1b[31mred" and safe_part("a/b") == "a_b"
