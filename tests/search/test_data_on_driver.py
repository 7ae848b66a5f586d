"""Trials get everything from the driver: their category's images through the object store, cache keys
in their setup. They never read a dataset path, so a node without the dataset runs them as well."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest
import ray
from ray import cloudpickle, tune

from results.ranking import trial_summary
from results.store import ResultStore
from search.cluster import connect, disconnect
from search.options import SweepOptions
from search.searcher import OBJECTIVE, TIME_ATTR
from search.sweep import plan_categories, run_sweep
from spaces.space import parse_space
from ssflow.training.feature_cache import data_identity
from ssflow.settings.flat_config import config_from_flat

pytestmark = pytest.mark.cluster

# Ray's workers cannot import a test module: its stand-in trainable travels by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

SPACE = parse_space({"parameters": {"loss.weight": {"type": "float", "low": 0.1, "high": 0.3}}}, "test", "small")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    folder = Path(tempfile.mkdtemp(prefix="ssf", dir="/tmp"))  # Ray's socket paths must stay short
    connect(None, num_cpus=2, temp_dir=str(folder))
    try:
        yield
    finally:
        disconnect()
        shutil.rmtree(folder, ignore_errors=True)


def options_for(root: Path, storage: Path, name: str, **changes: Any) -> SweepOptions:
    base = config_from_flat({"data.dataset": "btad", "data.root": str(root), "backbone.image_size": 64})
    settings = dict(base=base, space=SPACE, name=name, storage=str(storage), num_samples=2, max_epochs=2,
                    grace_period=2, concurrency=2, device="cpu", finalists=0)
    return SweepOptions(**{**settings, **changes})


class DeleteAtStart(tune.Callback):
    """Removes the dataset once the driver has read it, before the first trial starts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def setup(self, **info: Any) -> None:
        shutil.rmtree(self.folder)


class Results(tune.Callback):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self.seen.append((trial.config["category"], result["digest"]))


def report_digest(config: dict[str, Any], setups: Mapping[str, Any], data: Mapping[str, Mapping[str, ray.ObjectRef]]
                  ) -> None:
    """A stand-in trial: reports which images it was given."""
    images = ray.get(next(iter(data[config["category"]].values())))  # the one data variant
    for epoch in (1, 2):
        tune.report({TIME_ATTR: epoch, OBJECTIVE: 0.5, "status": "running", "digest": data_identity(images).train})


def test_trials_train_where_the_dataset_paths_do_not_exist(local_ray: None, small_demo_root: Path,
                                                           tmp_path: Path) -> None:
    copy = tmp_path / "dataset"
    shutil.copytree(small_demo_root, copy)
    options = options_for(copy, tmp_path / "runs", "no-data", feature_cache=str(tmp_path / "cache"))
    plans = plan_categories(options, ["wood"])
    outcomes = run_sweep(options, plans, callbacks=[DeleteAtStart(copy)])
    assert not copy.exists()
    assert outcomes[0].complete and outcomes[0].statuses == {"finished": 2}
    summary = trial_summary(ResultStore(tmp_path / "runs").read(experiment="no-data"))
    assert (summary["status"] == "finished").all() and summary["report_image_auroc"].notna().all()
    assert list((tmp_path / "cache").glob("*.pt"))  # the trials shared features under the driver's key


def test_each_trial_sees_its_own_categorys_images(local_ray: None, small_demo_root: Path, tmp_path: Path) -> None:
    options = options_for(small_demo_root, tmp_path / "runs", "own-images", num_samples=3)
    plans = plan_categories(options, ["wood", "fabric"])
    expected = {plan.category: data_identity(plan.data).train for plan in plans}
    assert expected["wood"] != expected["fabric"]
    results = Results()
    outcomes = run_sweep(options, plans, callbacks=[results], trainable=report_digest)
    assert all(outcome.complete for outcome in outcomes)
    assert {category for category, _ in results.seen} == {"wood", "fabric"}
    assert all(digest == expected[category] for category, digest in results.seen)
