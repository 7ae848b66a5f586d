from collections import Counter
from pathlib import Path

import pytest

from ssflow.datasets.records import ImageRecord
from ssflow.datasets.splits import few_shot, selection_count, split_test
from ssflow.errors import UserInputError


def _records(counts: dict[str, int]) -> list[ImageRecord]:
    return [
        ImageRecord(Path(f"/d/{defect}/{index:03d}.png"), None if defect == "good" else Path("/m.png"),
                    int(defect != "good"), defect)
        for defect, count in counts.items()
        for index in range(count)
    ]


def test_few_shot_is_seeded_and_order_free() -> None:
    train = _records({"good": 20})
    first = few_shot(train, 4, seed=3)
    assert len(first) == 4 and len(set(first)) == 4
    assert few_shot(list(reversed(train)), 4, seed=3) == first
    assert {few_shot(train, 4, seed=s) for s in range(10)} != {first}  # the seed matters
    assert list(first) == sorted(first, key=lambda r: str(r.image_path))


def test_few_shot_zero_takes_all_normal_images() -> None:
    records = _records({"good": 5, "crack": 2})
    assert few_shot(records, 0, seed=0) == tuple(r for r in records if r.label == 0)


def test_few_shot_more_than_available() -> None:
    with pytest.raises(UserInputError, match="got 6, but the category has only 5 normal training images"):
        few_shot(_records({"good": 5}), 6, seed=0)
    with pytest.raises(UserInputError, match="got -1"):
        few_shot(_records({"good": 5}), -1, seed=0)


def test_split_is_stratified_disjoint_and_complete() -> None:
    records = _records({"good": 21, "crack": 10, "hole": 3, "stain": 2, "rare": 1})
    selection, report = split_test(records, 0.5, seed=7)
    assert not set(selection) & set(report)
    assert sorted(selection + report, key=str) == sorted(records, key=str)
    chosen, reported = Counter(r.defect for r in selection), Counter(r.defect for r in report)
    assert chosen == {"good": 10, "crack": 5, "hole": 1, "stain": 1}
    assert reported == {"good": 11, "crack": 5, "hole": 2, "stain": 1, "rare": 1}


def test_split_is_seeded_and_independent_of_input_order() -> None:
    records = _records({"good": 30, "crack": 12})
    first = split_test(records, 0.5, seed=1)
    assert split_test(list(reversed(records)), 0.5, seed=1) == first
    assert split_test(records, 0.5, seed=2) != first


def test_adding_a_defect_type_does_not_move_the_others() -> None:
    records = _records({"good": 30, "crack": 12})
    selection, _ = split_test(records, 0.5, seed=1)
    more, _ = split_test(records + _records({"hole": 4}), 0.5, seed=1)
    assert [r for r in more if r.defect != "hole"] == list(selection)


def test_selection_count_rules() -> None:
    assert [selection_count(n, 0.5) for n in range(1, 7)] == [0, 1, 1, 2, 2, 3]
    assert selection_count(10, 0.01) == 1 and selection_count(10, 0.99) == 9
    assert selection_count(10, 0.3) == 3


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2])
def test_split_fraction_out_of_range(fraction: float) -> None:
    with pytest.raises(UserInputError, match="selection_fraction"):
        split_test(_records({"good": 4}), fraction)
