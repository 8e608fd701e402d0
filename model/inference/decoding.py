"""From per-step class probabilities to a label per step: offline Viterbi decoding and the
causal forward filter of the online mode.

Both use the same model of a timeline, a hidden Markov chain over the action classes that
stays in its class or switches to any other with one switching cost; neither is in a library
we depend on (scikit-learn and PyTorch have no HMM decoder), and both are a few lines.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def viterbi(probs: np.ndarray, switch_penalty: float) -> np.ndarray:
    """The label sequence maximising sum_t log p_t(y_t) - switch_penalty x (number of label
    changes), for ``probs`` (S, K); a penalty of 0 is the per-step argmax."""
    if switch_penalty < 0:
        raise ValueError(f"switch_penalty must be >= 0, got {switch_penalty}")
    logp = np.log(np.maximum(probs, _EPS))
    num_steps, num_classes = logp.shape
    score = logp[0].copy()
    back = np.zeros((num_steps, num_classes), np.int64)
    for t in range(1, num_steps):
        best_prev = int(score.argmax())
        switch = score[best_prev] - switch_penalty
        stay = score >= switch
        back[t] = np.where(stay, np.arange(num_classes), best_prev)
        score = np.where(stay, score, switch) + logp[t]
    path = np.empty(num_steps, np.int64)
    path[-1] = int(score.argmax())
    for t in range(num_steps - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


class ForwardFilter:
    """Causal HMM filtering: after each step, the posterior over the current class given the
    steps so far, with ``switch_prob`` the chance of changing class between two steps (None:
    no filtering, the step's own argmax). ``update`` returns the label and its posterior."""

    def __init__(self, num_classes: int, switch_prob: float | None):
        if switch_prob is not None and not 0 < switch_prob < 1:
            raise ValueError(f"switch_prob must be in (0, 1) or None, got {switch_prob}")
        self.num_classes, self.switch_prob = num_classes, switch_prob
        self.belief: np.ndarray | None = None

    def update(self, probs: np.ndarray) -> tuple[int, np.ndarray]:
        probs = np.maximum(np.asarray(probs, float), _EPS)
        if self.switch_prob is None or self.belief is None:
            belief = probs
        else:
            s = self.switch_prob
            prior = (1 - s) * self.belief + s * (1 - self.belief) / (self.num_classes - 1)
            belief = prior * probs
        self.belief = belief / belief.sum()
        return int(self.belief.argmax()), self.belief


def forward_filter(probs: np.ndarray, switch_prob: float | None) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """(labels (S,), posteriors (S, K)) of the forward filter run over ``probs`` (S, K)."""
    filt = ForwardFilter(probs.shape[1], switch_prob)
    labels, beliefs = zip(*(filt.update(p) for p in probs), strict=True)
    return np.array(labels, np.int64), np.stack(beliefs)


def lagged_online_labels(scores: np.ndarray, switch_prob: float | None,
                         lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Per step, the online (label, posterior) of a model whose output at step k names step
    k - ``lag`` (a fixed-lag estimate: step j is answered when step j + lag is seen). The
    outputs are forward-filtered in the order they arrive; the last ``lag`` steps of a video,
    which no output names, keep the last answer."""
    labels, beliefs = forward_filter(scores, switch_prob)
    named = np.minimum(np.arange(len(scores)) + lag, len(scores) - 1)
    return labels[named], beliefs[named]
