"""Fixtures shared across the suite: a small generated dataset in the BTAD layout."""

from pathlib import Path

import pytest

from ssflow.datasets.demo import DemoSettings, generate_demo

SMALL_DEMO = DemoSettings(size=128, train=24, test_ok=8, test_ko=8, categories=("wood", "fabric"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: a whole sweep end to end, a minute or more (the quick loop: -m 'not slow and not cluster')"
    )


@pytest.fixture(scope="session")
def small_demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two demo categories at 128 px, 24 training and 16 test images each (read as ``btad``)."""
    return generate_demo(tmp_path_factory.mktemp("small-demo") / "demo", seed=0, settings=SMALL_DEMO)
