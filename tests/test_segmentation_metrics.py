"""Temporal action segmentation metrics against hand-computed examples, and the decoders and
the causal temporal model on synthetic sequences."""

import numpy as np
import pytest
import torch

from model.evaluation.segmentation import (
    delay_summary,
    detection_delays,
    edit_score,
    segment_hits,
    segmentation_metrics,
    segments,
)
from model.inference.decoding import (
    ForwardFilter,
    forward_filter,
    lagged_online_labels,
    viterbi,
)
from model.networks.ms_tcn import MultiStageTCN, segmentation_loss

BG = [0]


def test_segments_are_runs_without_background():
    assert segments([0, 0, 1, 1, 0, 2, 2, 2]) == [(0, 0, 2), (1, 2, 4), (0, 4, 5), (2, 5, 8)]
    assert segments([0, 0, 1, 1, 0, 2, 2, 2], BG) == [(1, 2, 4), (2, 5, 8)]
    assert segments([]) == []


def test_perfect_prediction():
    truth = [0, 0, 1, 1, 1, 0, 2, 2]
    m = segmentation_metrics([truth], [truth], BG)
    assert m["frame_accuracy"] == 1.0
    assert m["edit"] == 100.0
    assert m["f1_10"] == m["f1_25"] == m["f1_50"] == 100.0


def test_empty_prediction():
    """Only background predicted: no segment, so no hit, edit 0; the background frames are
    still right."""
    truth = [0, 0, 1, 1, 1, 0, 2, 2]
    m = segmentation_metrics([truth], [[0] * 8], BG)
    assert m["frame_accuracy"] == pytest.approx(3 / 8)
    assert m["edit"] == 0.0
    assert m["f1_10"] == m["f1_50"] == 0.0
    assert segment_hits(truth, [0] * 8, 0.5, BG) == (0, 0, 2)
    # Both empty: nothing to disagree on.
    assert edit_score([0] * 4, [0] * 4, BG) == 100.0


def test_one_long_segment():
    """Action 1 over the whole video against truth 1 (frames 0-3) then 2 (frames 5-7):
    IoU of the one predicted segment with the true 1 is 3/8."""
    truth = [1, 1, 1, 0, 0, 2, 2, 2]
    pred = [1] * 8
    assert segment_hits(truth, pred, 0.25, BG) == (1, 0, 1)   # 3/8 >= 0.25
    assert segment_hits(truth, pred, 0.50, BG) == (0, 1, 2)
    m = segmentation_metrics([truth], [pred], BG)
    # P = 1, R = 1/2 -> F1 = 2/3
    assert m["f1_25"] == pytest.approx(200 / 3)
    assert m["f1_50"] == 0.0
    assert m["edit"] == pytest.approx(50.0)         # [1] vs [1, 2]: one insertion of two
    assert m["frame_accuracy"] == pytest.approx(3 / 8)


def test_over_segmentation():
    """One true action cut into 1,2,1,2,1: five predicted segments, one true."""
    truth = [1] * 10
    pred = [1, 1, 1, 2, 1, 1, 1, 2, 1, 1]
    assert edit_score(truth, pred) == pytest.approx(100 * (1 - 4 / 5))
    # IoUs of the three 1-segments with the truth: 0.3, 0.3, 0.2. At 0.1 the first hits and
    # the others are false positives (the true segment is taken), as are both 2-segments.
    assert segment_hits(truth, pred, 0.1) == (1, 4, 0)
    m = segmentation_metrics([truth], [pred])
    assert m["f1_10"] == pytest.approx(100 * 2 * 0.2 * 1 / 1.2)
    assert m["f1_50"] == 0.0
    assert m["frame_accuracy"] == pytest.approx(0.8)


def test_hits_are_summed_over_videos_and_edit_averaged():
    a, b = [1, 1, 2, 2], [1, 1, 1, 1]
    m = segmentation_metrics([a, a], [a, b])
    # Video 1: tp 2; video 2: tp 1 (IoU 1/2), fn 1. P = 3/3, R = 3/4.
    assert m["f1_50"] == pytest.approx(100 * 2 * 0.75 / 1.75)
    assert m["edit"] == pytest.approx((100 + 50) / 2)
    assert m["frames"] == 8


def test_background_choice_matters():
    truth, pred = [0, 1, 1, 0], [1, 1, 1, 1]
    assert edit_score(truth, pred) == pytest.approx(100 * (1 - 2 / 3))
    assert edit_score(truth, pred, BG) == 100.0


def test_unlabelled_frames_are_not_scored():
    truth, pred = [-1, -1, 1, 1, 2, 2], [3, 3, 1, 1, 2, 1]
    m = segmentation_metrics([truth], [pred])
    assert m["frames"] == 4 and m["frame_accuracy"] == pytest.approx(3 / 4)
    assert segments(truth) == [(1, 2, 4), (2, 4, 6)]


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="predictions"):
        segmentation_metrics([[1, 2]], [[1, 2], [1]])
    with pytest.raises(ValueError, match="frames"):
        segmentation_metrics([[1, 2]], [[1]])


def test_detection_delays_and_misses():
    truth = [0, 0, 1, 1, 1, 1, 0, 2, 2, 2]
    online = [0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    assert detection_delays(truth, online, BG) == [2, None]
    summary = delay_summary([2, None], fps=10)
    assert summary["missed"] == 1
    assert summary["median_delay_frames"] == 2 and summary["median_delay_s"] == 0.2
    assert summary["p90_delay_frames"] is None       # the 90th percentile is a miss
    assert delay_summary([1, 3, 5], fps=1)["median_delay_s"] == 3
    # Answers reported 4 frames after their frame come 4 frames later.
    assert detection_delays(truth, online, BG, report_times=np.arange(10) + 4) == [6, None]


def test_lagged_online_labels_name_the_step_lag_before():
    """Output k names step k - 2: step j's answer is output j + 2; the last two steps keep
    the last answer."""
    scores = np.eye(3)[[0, 0, 1, 1, 2, 2, 0]]
    labels, beliefs = lagged_online_labels(scores, None, lag=2)
    assert labels.tolist() == [1, 1, 2, 2, 0, 0, 0]
    assert np.allclose(beliefs.sum(1), 1)
    assert (lagged_online_labels(scores, None, lag=0)[0] == scores.argmax(1)).all()


def _noisy(true: np.ndarray, num_classes: int, flips: list[int], seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    probs = np.full((len(true), num_classes), 0.1) + 0.05 * rng.random((len(true), num_classes))
    probs[np.arange(len(true)), true] = 0.6
    for t in flips:   # single-step confusions
        probs[t] = 0.1
        probs[t, (true[t] + 1) % num_classes] = 0.7
    return probs / probs.sum(1, keepdims=True)


def test_viterbi_removes_flicker_and_keeps_real_changes():
    true = np.repeat([0, 1, 2, 0], 20)
    probs = _noisy(true, 4, flips=[5, 25, 26, 47, 70])
    assert (viterbi(probs, 0.0) == probs.argmax(1)).all()
    assert (probs.argmax(1) != true).sum() == 5
    assert (viterbi(probs, 4.0) == true).all()
    # A huge penalty allows no change at all.
    assert len(set(viterbi(probs, 1e6).tolist())) == 1


def test_forward_filter_is_causal_smoothing():
    true = np.repeat([0, 1, 2], 20)
    probs = _noisy(true, 3, flips=[5, 30, 45])
    labels, beliefs = forward_filter(probs, 0.05)
    assert (forward_filter(probs, None)[0] == probs.argmax(1)).all()
    assert (labels[[5, 30, 45]] == true[[5, 30, 45]]).all()      # flips filtered out
    assert np.allclose(beliefs.sum(1), 1.0)
    # A real change is followed within a few steps.
    assert (labels[25:40] == 1).all() and (labels[45:] == 2).all()
    # Causal: the labels of a prefix do not depend on what follows.
    prefix, _ = forward_filter(probs[:33], 0.05)
    assert (prefix == labels[:33]).all()
    with pytest.raises(ValueError, match="switch_prob"):
        ForwardFilter(3, 1.5)


def test_causal_tcn_never_reads_a_future_step():
    torch.manual_seed(0)
    net = MultiStageTCN(in_channels=5, num_classes=3, num_stages=2, num_layers=3, channels=8,
                        causal=True).eval()
    x = torch.randn(1, 5, 40)
    changed = x.clone()
    changed[:, :, 25:] = torch.randn(1, 5, 15)
    with torch.no_grad():
        a, b = net(x)[-1], net(changed)[-1]
    assert torch.allclose(a[..., :25], b[..., :25])
    assert not torch.allclose(a[..., 25:], b[..., 25:])
    # The receptive field is exact: output 39 depends on steps 39 - rf + 1 .. 39, no other.
    rf = net.receptive_field
    assert rf == 2 * 2 * (2 ** 3 - 1) + 1
    inputs = x.clone().requires_grad_(True)
    net(inputs)[-1][0, :, 39].sum().backward()
    reached = (inputs.grad.abs().sum(1)[0] > 0).nonzero().flatten()
    assert reached.min() == 39 - rf + 1 and reached.max() == 39


def test_offline_tcn_sees_both_sides_and_the_loss_trains_it():
    torch.manual_seed(0)
    net = MultiStageTCN(in_channels=4, num_classes=2, num_layers=3, channels=8, dropout=0.0)
    x = torch.zeros(2, 4, 30)
    x[:, 0, 15:] = 1.0                     # the class is in feature 0
    y = (x[:, 0] > 0).long()
    mask = torch.ones(2, 30)
    mask[1, 25:] = 0                       # padding is not scored
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    first = None
    for _ in range(60):
        loss = segmentation_loss(net(x), y, mask, smooth_weight=0.15, smooth_clip=4.0)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        assert (net(x)[-1].argmax(1) == y).float().mean() > 0.95
        # Not causal: step 14 reacts to a change at step 16.
        changed = x.clone()
        changed[:, 1:3, 16] += torch.tensor([3.0, -3.0])
        assert not torch.allclose(net(x)[-1][..., 14], net(changed)[-1][..., 14])
    assert loss.item() < first
