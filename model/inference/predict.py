"""Run a recognizer over a dataset and collect class probabilities."""

from __future__ import annotations

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from torch.utils.data import Dataset

from model.builders import build_dataloader


@torch.no_grad()
def predict_dataset(model: torch.nn.Module, dataset: Dataset, batch_size: int,
                    progress=None) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """(scores (N, K), labels (N,), metainfo per sample) of every sample, in dataset order.

    The scores are MMAction2's predictions: class probabilities averaged over the test clips
    of the pipeline. ``progress`` is called with the number of samples done per batch.
    """
    model.eval()
    scores, labels, metas = [], [], []
    for data in build_dataloader(dataset, batch_size, shuffle=False, seed=0):
        for sample in model.test_step(data):
            scores.append(sample.pred_score.float().cpu().numpy())
            labels.append(int(sample.gt_label.item()))
            metas.append(sample.metainfo)
        if progress is not None:
            progress(len(data["data_samples"]))
    return np.stack(scores), np.array(labels), metas


@torch.no_grad()
def predict_samples(model: torch.nn.Module, pipeline, samples: list[dict],
                    batch_size: int) -> np.ndarray:
    """(N, K) class probabilities of windows held in memory (``VideoArrays.sample`` dicts)
    through a test ``pipeline`` (a composed MMAction2 pipeline), as ``predict_dataset``
    scores a dataset's."""
    model.eval()
    scores = []
    for start in range(0, len(samples), batch_size):
        # What BaseActionDataset.get_data_info adds to every sample of the dataset path.
        batch = [pipeline({**s, "modality": "Pose", "start_index": 0})
                 for s in samples[start:start + batch_size]]
        scores += [r.pred_score.float().cpu().numpy()
                   for r in model.test_step(pseudo_collate(batch))]
    return np.stack(scores)
