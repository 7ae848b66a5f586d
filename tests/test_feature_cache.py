import os
import shutil
import threading
import time
from dataclasses import replace

import torch

from ssflow.datasets.prepared import prepare_data
from ssflow.training.feature_cache import cache_key, cached_features, data_identity
from ssflow.training.run_features import RunFeatures
from ssflow.settings.flat_config import config_from_flat


def _features(value: float) -> RunFeatures:
    level = torch.full((2, 3, 4, 4), value)
    return RunFeatures([level], [level + 1], [level + 2], [])


def test_miss_then_hit_returns_the_stored_features(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return _features(1.0)

    first, hit_first = cached_features(tmp_path, "k", torch.device("cpu"), compute)
    second, hit_second = cached_features(tmp_path, "k", torch.device("cpu"), compute)
    assert (hit_first, hit_second) == (False, True) and len(calls) == 1
    torch.testing.assert_close(second.report[0], first.report[0])
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]  # no temporary left behind


def test_runs_that_start_together_compute_an_entry_once(tmp_path):
    """The second caller waits on the entry's lock, then reads what the first one stored."""
    calls, started = [], threading.Event()

    def slow():
        calls.append(1)
        started.set()
        time.sleep(0.5)
        return _features(4.0)

    results = []
    first = threading.Thread(target=lambda: results.append(cached_features(tmp_path, "k", torch.device("cpu"), slow)))
    first.start()
    started.wait(5)
    results.append(cached_features(tmp_path, "k", torch.device("cpu"), slow))  # while the first still computes
    first.join()
    assert len(calls) == 1 and sorted(hit for _, hit in results) == [False, True]


def test_a_corrupt_entry_is_recomputed(tmp_path):
    (tmp_path / "k.pt").write_bytes(b"half a file")
    features, hit = cached_features(tmp_path, "k", torch.device("cpu"), lambda: _features(2.0))
    assert not hit and features.train[0][0, 0, 0, 0].item() == 2.0
    assert cached_features(tmp_path, "k", torch.device("cpu"), lambda: _features(3.0))[1]


def test_key_changes_with_every_input(small_demo_root):
    base = config_from_flat({"data.dataset": "btad", "data.root": str(small_demo_root), "data.category": "wood",
                             "backbone.image_size": 64})
    data = prepare_data(base)
    identity = data_identity(data)
    key = cache_key(base, identity, "weights-a")
    assert cache_key(base, data_identity(prepare_data(base)), "weights-a") == key  # read again: same key
    assert cache_key(base, identity, "weights-b") != key
    assert cache_key(config_from_flat({"backbone.levels": [1, 2]}, base), identity, "weights-a") != key
    assert cache_key(config_from_flat({"backbone.image_size": 96}, base), identity, "weights-a") != key
    for inputs in ({"data.tile_size": 64}, {"data.tile_overlap": 0.5}, {"data.scale": 0.5},
                   {"data.keep_aspect": True}, {"backbone.name": "tf_efficientnet_lite1"}):
        assert cache_key(config_from_flat(inputs, base), identity, "weights-a") != key, inputs
    other_split = prepare_data(config_from_flat({"data.split_seed": 1}, base))
    assert cache_key(base, data_identity(other_split), "weights-a") != key
    changed = data.train.copy()
    changed[0, 0, 0, 0] ^= 1  # one pixel of one image
    assert cache_key(base, data_identity(replace(data, train=changed)), "weights-a") != key


def test_identity_reads_no_file(small_demo_root, tmp_path):
    """Keys come from the pixels already in memory: a node without the dataset computes the same key."""
    copy = tmp_path / "copy"
    shutil.copytree(small_demo_root, copy)
    config = config_from_flat({"data.dataset": "btad", "data.root": str(copy), "data.category": "wood",
                               "backbone.image_size": 64})
    data = prepare_data(config)
    expected = data_identity(data)
    shutil.rmtree(copy)
    assert data_identity(data) == expected
