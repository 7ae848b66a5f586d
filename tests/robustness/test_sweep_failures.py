"""A sweep that stops on an unexpected error still says how to continue it."""

import pytest

import cli.live_view
from cli.main import main


@pytest.mark.slow
def test_a_failing_callback_mid_sweep_ends_with_the_resume_command(small_demo_root, tmp_path, capsys, monkeypatch):
    seen = []
    original = cli.live_view.LiveView.on_trial_result

    def fails_on_the_second_result(self, *args, **kwargs):
        seen.append(1)
        if len(seen) == 2:
            raise RuntimeError("a bug in a callback")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cli.live_view.LiveView, "on_trial_result", fails_on_the_second_result)
    with pytest.raises(Exception, match="a bug in a callback"):  # a bug keeps its traceback
        main(["--dataset", "btad", "--data-root", str(small_demo_root), "--categories", "wood",
              "--storage", str(tmp_path / "runs"), "--name", "buggy", "--num-samples", "2", "--max-epochs", "2",
              "--finalists", "0", "--set", "backbone.image_size=64", "--concurrency", "1"])
    assert "continue with the same command plus --resume --name buggy" in capsys.readouterr().out
