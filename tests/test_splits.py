"""Seeded splits: by video (stratified) and by group (an operator never in two splits)."""

import pytest

from model.datasets.splits import SplitError, assign_group_splits, assign_splits


def test_group_splits_keep_every_group_in_one_split():
    groups = {f"{op}_v{i}": op for op in "abcdefghij" for i in range(4)}
    out = assign_group_splits(groups, val_fraction=0.2, test_fraction=0.2, seed=1)
    split_of_group = {}
    for video, split in out.items():
        split_of_group.setdefault(groups[video], set()).add(split)
    assert all(len(s) == 1 for s in split_of_group.values())
    counts = {s: sum(next(iter(v)) == s for v in split_of_group.values())
              for s in ("train", "val", "test")}
    assert counts == {"train": 6, "val": 2, "test": 2}
    assert out == assign_group_splits(groups, 0.2, 0.2, seed=1)          # seeded
    assert out != assign_group_splits(groups, 0.2, 0.2, seed=2)


def test_group_splits_refuse_what_cannot_be_split():
    with pytest.raises(SplitError, match="only 1 group"):
        assign_group_splits({"a": "op", "b": "op"}, 0.2, 0.2, seed=0)
    with pytest.raises(SplitError, match="bad split fractions"):
        assign_group_splits({"a": "x", "b": "y"}, 0.6, 0.6, seed=0)
    assert set(assign_group_splits({"a": "x", "b": "y"}, 0.0, 0.0, seed=0).values()) == {"train"}


def test_video_splits_are_stratified_by_label():
    labels = {f"v{i}": "ab"[i % 2] for i in range(40)}
    out = assign_splits(labels, 0.25, 0.25, seed=0)
    for split in ("val", "test"):
        held = [labels[v] for v, s in out.items() if s == split]
        assert held.count("a") == held.count("b") == 5
