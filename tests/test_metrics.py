"""Metric code against values computed by hand."""

import numpy as np
import pytest

from model.evaluation.metrics import classification_metrics

CLASSES = ["a", "b", "c", "d", "e", "f"]


def test_classification_metrics_match_hand_computed_values():
    labels = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 2, 2])
    scores = np.full((6, 6), 0.01)
    scores[np.arange(6), predicted] = 0.9
    scores[2, 0] = 0.5                  # the true class of sample 2 is its second choice
    scores[4, 5] = 0.6                  # sample 4's true class (1) ranks third, after 2 and 5
    scores[4, 1] = 0.02
    m = classification_metrics(labels, scores, CLASSES)
    assert m["num_clips"] == 6
    assert m["top1"] == pytest.approx(4 / 6)
    assert m["top5"] == pytest.approx(1.0)
    # Per class: a: P 2/2 R 2/3; b: P 1/2 R 1/2; c: P 1/2 R 1/1; d, e, f: neither labelled nor
    # predicted -> 0 in the table, left out of the macro averages.
    assert m["per_class"]["a"] == {"precision": 1.0, "recall": pytest.approx(2 / 3),
                                   "f1": pytest.approx(0.8), "support": 3}
    assert m["per_class"]["b"]["f1"] == pytest.approx(0.5)
    assert m["per_class"]["c"]["f1"] == pytest.approx(2 / 3)
    assert m["macro_precision"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert m["macro_recall"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["mean_class_accuracy"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert m["confusion_matrix"][0] == [2, 1, 0, 0, 0, 0]
    assert m["confusion_matrix"][1] == [0, 1, 1, 0, 0, 0]


def test_a_predicted_class_without_samples_counts_in_the_macro_averages():
    scores = np.full((2, 6), 0.01)
    scores[[0, 1], [0, 3]] = 0.9        # both are class a; the second is called d
    m = classification_metrics(np.array([0, 0]), scores, CLASSES)
    # a: P 1/1 R 1/2 F1 2/3; d: P 0 R 0 F1 0 (no samples); b, c, e, f: left out.
    assert m["macro_precision"] == pytest.approx(0.5)
    assert m["macro_recall"] == pytest.approx(0.25)
    assert m["macro_f1"] == pytest.approx(1 / 3)


def test_top5_counts_the_true_class_among_the_five_best():
    scores = np.tile(np.linspace(1.0, 0.5, 6), (2, 1))   # class 0 best ... class 5 worst
    m = classification_metrics(np.array([4, 5]), scores, CLASSES)
    assert m["top1"] == 0.0 and m["top5"] == 0.5
