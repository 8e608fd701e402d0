"""Train / validation / test splits by video: from a split file or drawn from a seed.

Splits are always by whole video, never by window: windows of one video overlap and share the
operator, so splitting windows would leak test data into training. Videos that share more than
a video (the operator, the camera, the day: ``video.groups`` of the annotations) can be kept
together too, so that no operator is in both training and test.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from sklearn.model_selection import GroupShuffleSplit, train_test_split

from model.datasets.feature_table import SPLITS


class SplitError(ValueError):
    """A split file is malformed or disagrees with the videos being ingested."""


def load_split_file(path: str | Path) -> dict[str, str]:
    """Read ``{"train": [ids], "val": [ids], "test": [ids]}`` into video id -> split."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SplitError(f"{path}: cannot read split file: {exc}") from exc
    if not isinstance(doc, dict) or not set(doc) <= set(SPLITS):
        raise SplitError(f"{path}: expected an object with keys among {SPLITS}")
    out: dict[str, str] = {}
    for split, ids in doc.items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise SplitError(f"{path}: {split}: expected a list of video ids")
        for video_id in ids:
            if video_id in out:
                raise SplitError(f"{path}: video {video_id!r} is in both {out[video_id]!r} "
                                 f"and {split!r}")
            out[video_id] = split
    return out


def write_split_file(path: str | Path, assignment: dict[str, str]) -> None:
    doc = {s: sorted(v for v, split in assignment.items() if split == s) for s in SPLITS}
    Path(path).write_text(json.dumps({k: v for k, v in doc.items() if v}, indent=1) + "\n")


def _stratifiable(strata: list[str], n_held_out: int) -> bool:
    counts = Counter(strata)
    return min(counts.values()) >= 2 and n_held_out >= len(counts)


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1
            and val_fraction + test_fraction < 1):
        raise SplitError(f"bad split fractions: val {val_fraction}, test {test_fraction}")


def assign_group_splits(group_by_video: dict[str, str], val_fraction: float,
                        test_fraction: float, seed: int) -> dict[str, str]:
    """Seeded split of whole groups (scikit-learn's ``GroupShuffleSplit``): every video of a
    group lands in the same split. The fractions are of groups, not of videos."""
    _check_fractions(val_fraction, test_fraction)
    ids = sorted(group_by_video)
    groups = [group_by_video[i] for i in ids]
    out = dict.fromkeys(ids, "train")
    held_fraction = val_fraction + test_fraction
    if held_fraction == 0:
        return out
    if len(set(groups)) < 2:
        raise SplitError(f"only {len(set(groups))} group(s): cannot hold any out")
    _, held = next(GroupShuffleSplit(1, test_size=held_fraction, random_state=seed)
                   .split(ids, groups=groups))
    held_ids = [ids[i] for i in held]
    held_groups = [groups[i] for i in held]
    if val_fraction == 0 or test_fraction == 0 or len(set(held_groups)) < 2:
        out.update(dict.fromkeys(held_ids, "test" if test_fraction else "val"))
        return out
    _, test = next(GroupShuffleSplit(1, test_size=test_fraction / held_fraction,
                                     random_state=seed).split(held_ids, groups=held_groups))
    out.update(dict.fromkeys(held_ids, "val"))
    out.update(dict.fromkeys((held_ids[i] for i in test), "test"))
    return out


def assign_splits(strata_by_video: dict[str, str], val_fraction: float, test_fraction: float,
                  seed: int) -> dict[str, str]:
    """Seeded split of videos, stratified by the given label where every label allows it."""
    _check_fractions(val_fraction, test_fraction)
    ids = sorted(strata_by_video)
    out = dict.fromkeys(ids, "train")
    held_fraction = val_fraction + test_fraction
    n_held = round(held_fraction * len(ids))
    if n_held == 0:
        return out
    strata = [strata_by_video[i] for i in ids]
    train_ids, held_ids = train_test_split(
        ids, test_size=n_held, random_state=seed,
        stratify=strata if _stratifiable(strata, n_held) else None)
    n_test = round(len(held_ids) * test_fraction / held_fraction)
    if n_test in (0, len(held_ids)):
        split = "test" if n_test else "val"
        out.update(dict.fromkeys(held_ids, split))
        return out
    held_strata = [strata_by_video[i] for i in held_ids]
    val_ids, test_ids = train_test_split(
        held_ids, test_size=n_test, random_state=seed,
        stratify=held_strata if _stratifiable(held_strata, min(n_test, len(held_ids) - n_test))
        else None)
    out.update(dict.fromkeys(val_ids, "val"))
    out.update(dict.fromkeys(test_ids, "test"))
    return out
