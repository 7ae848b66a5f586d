"""Sweep names that would escape the storage folder, and passwords that must never be printed."""

import pickle

import pytest

from cli.main import main
from file_fingerprints import folder_hashes
from search.options import SweepOptions, check_sweep_name, default_sweep_name
from spaces.space import load_space
from ssflow.settings.config import SSFlowConfig
from ssflow.errors import UserInputError
from ssflow.redaction import redacted, redacted_text


@pytest.mark.parametrize("name", ["../x", "../../x", "a/b", "..", ".hidden", "x y", "a\\b", "\x1b[31mred", "",
                                  "x" * 129, "caf\udcff"])
def test_a_sweep_name_that_is_not_plain_is_refused_first(name, small_demo_root, tmp_path, error_line):
    storage = tmp_path / "runs"
    storage.mkdir()
    (storage / "keep.txt").write_text("earlier work")
    before = folder_hashes(tmp_path)
    code = main(["--dataset", "btad", "--data-root", str(small_demo_root), "--storage", str(storage),
                 "--name", name, "--num-samples", "1"])
    assert code == 2
    line = error_line()
    assert line.startswith("error: --name") and "plain name" in line
    assert "\x1b" not in line  # shown escaped, never as a terminal control sequence
    assert folder_hashes(tmp_path) == before and sorted(p.name for p in tmp_path.rglob("*")) == ["keep.txt", "runs"]


def test_plain_names_pass_and_default_names_are_made_plain():
    for name in ("wood-sweep", "demo-hard-default-20261207-101010", "v1.2_run"):
        assert check_sweep_name(name) == name
    made = default_sweep_name("my data/../set", "my space", "20261207-101010")
    assert check_sweep_name(made) == made and "/" not in made and ".." not in made
    with pytest.raises(UserInputError, match="--name"):
        check_sweep_name("../x")


@pytest.mark.parametrize("url, secret", [
    ("postgresql://ssflow:hunter2@db.example:5432/studies", "hunter2"),
    ("mysql+pymysql://ssflow:p%40ss@db/studies", "p%40ss"),
    ("s3://bucket/runs?region=eu&secret_key=hunter2&access_key=AK", "hunter2"),
    ("gs://bucket/runs?session_token=hunter2", "hunter2"),
    ("az://container/runs?sv=2024&sig=hunter2", "hunter2"),
    ("s3://bucket/runs?region=eu&token=hunter2", "hunter2"),
])
def test_passwords_in_urls_are_masked(url, secret):
    shown = redacted(url)
    assert secret not in shown and "***" in shown
    assert shown.split("://")[0] == url.split("://")[0]  # still says which kind of storage
    assert redacted_text(f"could not connect to {url}: password for {secret!r} refused", url).count(secret) == 0


def test_plain_paths_and_urls_without_secrets_stay_as_they_are():
    for url in ("runs", "/data/runs", "sqlite:////tmp/optuna.db", "postgresql://ssflow@db/studies",
                "s3://bucket/runs?region=eu"):
        assert redacted(url) == url


def test_a_password_in_optuna_storage_is_never_printed(small_demo_root, tmp_path, capsys):
    url = "postgresql://ssflow:hunter2@127.0.0.1:1/studies"
    code = main(["--dataset", "btad", "--data-root", str(small_demo_root), "--storage", str(tmp_path / "runs"),
                 "--optuna-storage", url, "--num-samples", "1", "--name", "secret-test"])
    captured = capsys.readouterr()
    assert code == 2
    assert "hunter2" not in captured.err + captured.out
    assert "postgresql://ssflow:***@127.0.0.1:1/studies" in captured.err


def test_only_the_secret_parts_change():
    assert redacted("sqlite:////tmp/runs/optuna.db?token=abc") == "sqlite:////tmp/runs/optuna.db?token=***"
    assert redacted("postgresql://me:pw@db:5432/s?sslmode=require#x") == "postgresql://me:***@db:5432/s?sslmode=require#x"


def test_pickled_sweep_options_hold_no_password():
    """Ray Tune pickles the sweep's searcher and trainable (with these options) into the experiment folder."""
    options = SweepOptions(base=SSFlowConfig(), space=load_space("demo"), name="s", storage="/tmp/runs",
                           optuna_storage="postgresql://me:hunter2@db/studies?token=abc")
    pickled = pickle.dumps(options)
    assert b"hunter2" not in pickled and b"abc" not in pickled
    assert options.optuna_storage.endswith("token=abc")  # the driver's own copy keeps it
