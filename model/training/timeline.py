"""Training the timeline head: a temporal model over per-step features, then the decoder
settings, both chosen on the validation split.

The models are small (tens of thousands of weights) and their data is a few hundred feature
sequences that fit in memory, so this is a plain PyTorch loop on the local device: Ray Train's
workers and per-sample pipelines would cost more than the training itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmengine.runner import set_random_seed

from model.evaluation.segmentation import delay_summary, detection_delays, segmentation_metrics
from model.inference.decoding import lagged_online_labels, viterbi
from model.inference.step_features import StepFeatures, report_times, to_frames
from model.inference.timeline_head import step_probs
from model.networks.ms_tcn import segmentation_loss


def lagged_targets(labels: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """(targets, mask) of a model whose output at step k names the label of step k - lag:
    the first ``lag`` outputs name no step and are not scored."""
    targets = np.zeros_like(labels)
    targets[lag:] = labels[:len(labels) - lag]
    mask = np.zeros(len(labels), np.float32)
    mask[lag:] = 1.0
    return targets, mask


def _batch(videos: Sequence[StepFeatures],
           lag: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Zero-padded (N, C, S) features, (N, S) step targets and (N, S) mask of scored steps."""
    longest = max(len(v.steps) for v in videos)
    x = torch.zeros(len(videos), videos[0].features.shape[1], longest)
    y = torch.zeros(len(videos), longest, dtype=torch.long)
    mask = torch.zeros(len(videos), longest)
    for i, v in enumerate(videos):
        n = len(v.steps)
        targets, scored = lagged_targets(v.step_labels(), lag)
        x[i, :, :n] = torch.as_tensor(v.features.T)
        y[i, :n] = torch.as_tensor(targets)
        mask[i, :n] = torch.as_tensor(scored)
    return x, y, mask


def step_accuracy(net: torch.nn.Module, videos: Sequence[StepFeatures], lag: int = 0) -> float:
    right = total = 0
    for v in videos:
        targets, scored = lagged_targets(v.step_labels(), lag)
        hits = step_probs(net, v.features).argmax(1) == targets
        right += int(hits[scored > 0].sum())
        total += int(scored.sum())
    return right / total


def train_tcn(net: torch.nn.Module, train: Sequence[StepFeatures],
              val: Sequence[StepFeatures], cfg: dict, progress=None,
              lag: int = 0) -> tuple[dict, list]:
    """Train ``net`` (MS-TCN loss, AdamW, cosine schedule) to name at step k the label of step
    k - ``lag``; return the state of the epoch with the best validation step accuracy and the
    per-epoch history."""
    set_random_seed(cfg["seed"])
    opt = torch.optim.AdamW(net.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["epochs"])
    generator = np.random.default_rng(cfg["seed"])
    best, best_state, history = -1.0, None, []
    for epoch in range(cfg["epochs"]):
        net.train()
        order = generator.permutation(len(train))
        losses = []
        for start in range(0, len(order), cfg["batch_videos"]):
            x, y, mask = _batch([train[i] for i in order[start:start + cfg["batch_videos"]]],
                                lag)
            loss = segmentation_loss(net(x), y, mask, cfg["smooth_weight"], cfg["smooth_clip"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
        accuracy = step_accuracy(net, val, lag)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)),
                        "val_step_accuracy": accuracy})
        if accuracy > best:
            best = accuracy
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        if progress is not None:
            progress(history[-1])
    return best_state, history


def offline_figures(videos: Sequence[StepFeatures], step_scores: Sequence[np.ndarray],
                    switch_penalty: float, background: Sequence[int]) -> dict:
    """Segmentation metrics of Viterbi-decoded step scores, per frame."""
    preds = [to_frames(viterbi(p, switch_penalty), v.steps, v.num_frames)
             for v, p in zip(videos, step_scores, strict=True)]
    return segmentation_metrics([v.labels for v in videos], preds, background)


def online_figures(videos: Sequence[StepFeatures], step_scores: Sequence[np.ndarray],
                   switch_prob: float | None, background: Sequence[int],
                   lag: int = 0) -> dict:
    """Segmentation metrics and detection delays of forward-filtered (causal) step scores
    whose step k names step k - ``lag``; the delays count from a true start to the step at
    which the answer naming the action was given (``report_times``)."""
    preds = [to_frames(lagged_online_labels(p, switch_prob, lag)[0], v.steps, v.num_frames)
             for v, p in zip(videos, step_scores, strict=True)]
    figures = segmentation_metrics([v.labels for v in videos], preds, background)
    delays = [d for v, p in zip(videos, preds, strict=True)
              for d in detection_delays(v.labels, p, background, report_times(v, lag))]
    figures.update(delay_summary(delays, videos[0].fps), lag_steps=lag,
                   lag_s=lag * videos[0].step_frames / videos[0].fps)
    return figures



def offline_rank(figures: dict) -> float:
    return (100 * figures["frame_accuracy"] + figures["edit"] + figures["f1_50"]) / 3


def choose_offline(videos, step_scores, penalties, background) -> tuple[float, list[dict]]:
    """The switch penalty with the best mean of frame accuracy, edit and F1@50."""
    trials = [{"switch_penalty": p, **offline_figures(videos, step_scores, p, background)}
              for p in penalties]
    return max(trials, key=offline_rank)["switch_penalty"], trials


def choose_online(videos, step_scores, switch_probs, background, max_median_delay_s: float,
                  lag: int = 0) -> tuple[float | None, list[dict]]:
    """The switch probability with the best frame accuracy among those whose median
    detection delay is at most ``max_median_delay_s`` (all of them if none is)."""
    trials = [{"switch_prob": s, **online_figures(videos, step_scores, s, background, lag)}
              for s in switch_probs]
    fast = [t for t in trials if t["median_delay_s"] is not None
            and t["median_delay_s"] <= max_median_delay_s] or trials
    return max(fast, key=lambda t: t["frame_accuracy"])["switch_prob"], trials
