"""User mistakes on the command line: one line on stderr, exit code 2, nothing written."""

import cv2
import numpy as np
import pytest

from cli.main import main


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


@pytest.fixture()
def broken_btad(tmp_path):
    """A BTAD tree whose first anomalous image's mask has the wrong shape."""
    root = tmp_path / "btad"
    for folder in ("01/train/ok", "01/test/ok", "01/test/ko", "01/ground_truth/ko"):
        (root / folder).mkdir(parents=True)
    rng = np.random.default_rng(0)

    def image():  # distinct images: identical ones would be refused as leakage first
        return rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)

    for index in range(4):
        cv2.imwrite(str(root / f"01/train/ok/{index:03d}.png"), image())
    for index in range(2):
        cv2.imwrite(str(root / f"01/test/ok/{index:03d}.png"), image())
        cv2.imwrite(str(root / f"01/test/ko/{index:03d}.png"), image())
        cv2.imwrite(str(root / f"01/ground_truth/ko/{index:03d}.png"), np.zeros((32, 32), np.uint8))
    cv2.imwrite(str(root / "01/ground_truth/ko/000.png"), np.zeros((16, 24), np.uint8))
    return root


@pytest.mark.parametrize("arguments, words", [
    (["--dataset", "btad", "--category", "01", "--data-root", "/nonexistent/btad"], "/nonexistent/btad"),
    (["--dataset", "demo", "--category", "wood", "--set", "flow.coupling_blocks=zero"], "flow.coupling_blocks"),
    (["--dataset", "demo", "--category", "wood", "--set", "flow.bogus=1"], "flow.bogus"),
    (["--dataset", "demo", "--category", "wood", "--config", "nope.yaml"], "nope.yaml"),
    (["--dataset", "demo", "--category", "wood", "--epochs", "0"], "train.epochs"),
    (["--dataset", "demo", "--category", "wood", "--set", "train.photometric=1.5"], "train.photometric"),
    (["--dataset", "demo", "--category", "wood", "--set", "data.normalize=gray"], "data.normalize"),
    (["--dataset", "demo", "--category", "wood", "--shifted-test", "/nonexistent/lit"], "/nonexistent/lit"),
])
def test_train_mistakes_exit_2_without_output(arguments, words, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["train", *arguments, "--out", str(out)]) == 2
    assert words in _error_line(capsys)
    assert not out.exists()


def test_unknown_category_lists_the_found_ones(small_demo_root, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["train", "--dataset", "btad", "--data-root", str(small_demo_root), "--category", "tiles",
                 "--out", str(out)])
    assert code == 2
    line = _error_line(capsys)
    assert "tiles" in line and "fabric" in line and "wood" in line
    assert not out.exists()


def test_mask_of_the_wrong_size_is_named(broken_btad, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["train", "--dataset", "btad", "--data-root", str(broken_btad), "--category", "01",
                 "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert "000.png is 24x16" in line
    assert not out.exists()


def test_unreadable_image_is_named(broken_btad, tmp_path, capsys):
    (broken_btad / "01/ground_truth/ko/000.png").unlink()
    cv2.imwrite(str(broken_btad / "01/ground_truth/ko/000.png"), np.zeros((32, 32), np.uint8))
    (broken_btad / "01/train/ok/002.png").write_bytes(b"not a png at all")
    out = tmp_path / "out"
    assert main(["train", "--dataset", "btad", "--data-root", str(broken_btad), "--category", "01",
                 "--out", str(out)]) == 2
    assert "002.png" in _error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("arguments, words", [
    (["--dataset", "demo", "--space", "missing-space"], "missing-space"),
    (["--dataset", "demo", "--categories", "tiles"], "tiles"),
    (["--dataset", "demo", "--reduction-factor", "1"], "--reduction-factor"),
    (["--dataset", "demo", "--max-failures", "-1"], "--max-failures"),
    (["--dataset", "demo", "--address", "127.0.0.1:9"], "127.0.0.1:9"),
    (["--dataset", "demo", "--resume"], "--name"),
    (["--dataset", "btad", "--data-root", "/nonexistent/btad"], "--dataset demo works offline"),
])
def test_search_mistakes_exit_2(arguments, words, capsys):
    assert main(arguments) == 2
    assert words in _error_line(capsys)


def test_bad_space_file_names_file_and_key(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("parameters:\n  train.lr: {type: float, low: 0.1, high: 0.01}\n")
    assert main(["--dataset", "demo", "--space", str(space)]) == 2
    line = _error_line(capsys)
    assert str(space) in line and "train.lr" in line


def test_usage_mistake_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--dataset", "demo", "--num-samples", "many"])
    assert exit_info.value.code == 2
    assert "--num-samples" in _error_line(capsys)


def test_storage_below_a_file_is_one_line(small_demo_root, tmp_path, capsys):
    a_file = tmp_path / "best.yaml"
    a_file.write_text("x: 1\n")
    assert main(["--dataset", "btad", "--data-root", str(small_demo_root), "--storage", str(a_file / "runs")]) == 2
    line = _error_line(capsys)
    assert "--storage" in line and str(a_file) in line


@pytest.mark.parametrize("arguments, words", [
    (["--warm-start", "nosuch"], "--warm-start nosuch"),
    (["--optuna-storage", "nosuchdb://x"], "--optuna-storage"),
])
def test_a_sweep_that_fails_to_start_does_not_take_its_name(arguments, words, small_demo_root, tmp_path, capsys):
    common = ["--dataset", "btad", "--data-root", str(small_demo_root), "--storage", str(tmp_path / "runs"),
              "--name", "first"]
    assert main([*common, *arguments]) == 2
    assert words in _error_line(capsys)
    assert not list((tmp_path / "runs").rglob("sweep.json"))


def test_mistyped_command_names_the_commands(capsys):
    assert main(["shwo", "--name", "x"]) == 2
    line = _error_line(capsys)
    assert "'shwo'" in line and "show" in line and "export-model" in line
