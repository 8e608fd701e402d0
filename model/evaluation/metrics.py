"""Classification metrics of clip predictions, from scikit-learn (action timelines:
``model.evaluation.segmentation``)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)


def classification_metrics(labels: np.ndarray, scores: np.ndarray,
                           classes: list[str]) -> dict:
    """Top-1/top-5 accuracy, macro and per-class precision/recall/F1, confusion matrix.

    ``scores`` are (N, K) class probabilities (or any monotone scores), ``labels`` (N,) ints.
    Macro averages run over the classes that occur in the labels or the predictions (what
    scikit-learn does when not given the label list), so scoring a test set that holds only
    some of the classes does not count the absent ones as failures; a class predicted but
    absent still counts, with precision 0.
    """
    num_classes = len(classes)
    every_class = np.arange(num_classes)
    predicted = scores.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=every_class, zero_division=0)
    macro_p, macro_r, macro_f1, _ = precision_recall_fscore_support(
        labels, predicted, average="macro", zero_division=0)
    # With at most 5 classes every label is among the 5 best (and scikit-learn's binary case
    # expects 1-D scores).
    top5 = 1.0 if num_classes <= 5 else top_k_accuracy_score(labels, scores, k=5,
                                                               labels=every_class)
    confusion = confusion_matrix(labels, predicted, labels=every_class)
    present = support > 0
    return {
        "num_clips": int(len(labels)),
        "top1": float(accuracy_score(labels, predicted)),
        "top5": float(top5),
        "macro_precision": float(macro_p),
        "macro_recall": float(macro_r),
        "macro_f1": float(macro_f1),
        # Mean over the classes present in the test set of their recall (Penn Action's metric).
        "mean_class_accuracy": float(recall[present].mean()),
        "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]),
                             "f1": float(f1[i]), "support": int(support[i])}
                      for i, name in enumerate(classes)},
        "confusion_matrix": confusion.tolist(),
    }

