from collections import Counter
from pathlib import Path

import pytest

from ssflow.datasets.records import ImageRecord
from ssflow.datasets.splits import (
    ensure_scorable,
    few_shot,
    hold_out,
    holdout_count,
    require_anomalies,
    selection_count,
    split_test,
)
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


def _labels(side) -> set[int]:
    return {record.label for record in side}


def test_lone_images_are_moved_so_both_sides_can_be_scored() -> None:
    # Every defect type has one image, so split_test puts them all on the report side.
    records = _records({"good": 4, "crack": 1, "hole": 1, "stain": 1})
    selection, report = split_test(records, 0.5, seed=0)
    assert _labels(selection) == {0}
    repaired = ensure_scorable(selection, report, "part")
    assert _labels(repaired[0]) == _labels(repaired[1]) == {0, 1}
    assert sorted(repaired[0] + repaired[1], key=str) == sorted(records, key=str)
    assert ensure_scorable(*repaired, "part") == repaired  # already scorable: unchanged
    assert ensure_scorable(report, selection, "part") == tuple(reversed(repaired))  # either side


def test_a_single_normal_test_image_is_refused_in_one_line() -> None:
    records = _records({"good": 1, "crack": 6})
    with pytest.raises(UserInputError) as error:
        ensure_scorable(*split_test(records, 0.5, seed=0), "bottle")
    message = str(error.value)
    assert "\n" not in message
    assert ("category 'bottle': the selection split has no normal test image (0 normal, 3 anomalous; "
            "report: 1 normal, 3 anomalous)") in message


def test_normal_only_categories_are_checked_for_normal_images_only() -> None:
    selection, report = split_test(_records({"good": 4}), 0.5, seed=0)
    assert ensure_scorable(selection, report, "plain") == (selection, report)
    with pytest.raises(UserInputError, match="category 'plain' has no anomalous test images .*4 normal"):
        require_anomalies(selection + report, "plain")


@pytest.mark.parametrize(("n", "expected"), [(0, 0), (1, 0), (2, 1), (3, 1), (4, 2), (10, 2), (20, 4), (6, 2)])
def test_holdout_count(n: int, expected: int) -> None:
    assert holdout_count(n, 0.2) == expected


def test_hold_out_is_seeded_disjoint_and_order_free() -> None:
    train = _records({"good": 20})
    kept, held = hold_out(train, 0.2, seed=4)
    assert len(held) == 4 and len(kept) == 16 and not set(kept) & set(held)
    assert hold_out(list(reversed(train)), 0.2, seed=4) == (kept, held)
    assert hold_out(train, 0.2, seed=5) != (kept, held)
