from pathlib import Path

import pytest

from ssflow.datasets import DATASETS, default_root, list_categories, load_category, prepare_root
from ssflow.errors import SettingError, UserInputError


def test_names_and_default_roots() -> None:
    assert DATASETS == ("mvtec", "btad", "dagm", "visa", "mvtec-ad2", "folder", "manifest", "demo", "demo-hard",
                        "demo-hard-lighting", "demo-hires")
    located = [name for name in DATASETS if name not in ("folder", "manifest")]
    assert [default_root(name) for name in located] == [Path("data") / name for name in located]


@pytest.mark.parametrize("dataset", ["folder", "manifest"])
def test_your_own_data_has_no_default_root(dataset: str) -> None:
    with pytest.raises(SettingError, match=f"dataset {dataset} has no default location; give data.root: ") as caught:
        default_root(dataset)
    assert (caught.value.key, caught.value.value) == ("data.root", None)


def test_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(UserInputError, match="unknown dataset 'mpdd'; expected one of mvtec, btad, dagm, visa, "):
        default_root("mpdd")


def test_every_command_offers_the_registry() -> None:
    import argparse

    from cli import search_arguments, train_arguments

    for module in (search_arguments, train_arguments):
        parser = argparse.ArgumentParser()
        module.add_arguments(parser)
        dataset = next(action for action in parser._actions if action.dest == "dataset")
        assert tuple(dataset.choices) == DATASETS


def test_each_reader_through_the_registry(mvtec_root: Path, btad_root: Path, dagm_root: Path) -> None:
    assert list_categories("mvtec", mvtec_root) == ["bottle", "carpet"]
    assert load_category("btad", btad_root, "03").dataset == "btad"
    assert len(load_category("dagm", dagm_root, "Class1").test) == 3


@pytest.mark.parametrize("dataset", ["mvtec", "btad", "dagm", "visa", "mvtec-ad2"])
def test_downloaded_datasets_must_exist(tmp_path: Path, dataset: str) -> None:
    hint = "not found.*must be downloaded.*given as data.root .data.dataset demo works offline"
    with pytest.raises(UserInputError, match=hint):
        prepare_root(dataset, tmp_path / "absent")
    with pytest.raises(UserInputError, match="not found"):
        list_categories(dataset, tmp_path / "absent")


def test_demo_must_be_prepared_first(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="demo data not found.*generated there on first use by prepare_root"):
        load_category("demo", tmp_path / "demo", "wood")


def test_demo_is_generated_by_prepare_root(default_demo_root: Path) -> None:
    root = default_demo_root
    assert prepare_root("demo", root) == root  # the second call finds it ready
    assert list_categories("demo", root) == ["fabric", "granite", "washer", "wood"]
    data = load_category("demo", root, "wood")
    assert (data.dataset, data.category, len(data.train)) == ("demo", "wood", 80)
    with pytest.raises(UserInputError, match="unknown demo category 'oak'.*found: fabric, granite, washer, wood"):
        load_category("demo", root, "oak")
