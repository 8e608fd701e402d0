"""The serving benchmark's accuracy rule: the operator's action per frame as a live stream's
answers name it (docs/benchmark-protocol.md, "Serving", states the same rule in words).

An answer to frame t names, per tracked person, the action of an earlier frame
(``about_frame``, the online head's lag before t). The operator in an answer is the person with
an action whose box overlaps the annotated subject's box of frame t most, with IoU at least
``min_iou``; no such person, no answer for the operator. The online head answers once per step
(``step_frames`` frames), so a frame f takes the answer about the newest named frame a <= f if
f - a < step_frames. The frames after the stream's last named frame take its answer for as long
as the answers were late (the delay of the last answer, plus one step): a live stream's last
frames are never named, and the timeline benchmark's online mode keeps the last answer for them
too. Every other frame counts as unanswered (wrong): the first window, frames whose answers were
dropped, frames whose operator was not tracked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.frame_path.boxes import box_iou

UNANSWERED = -1


@dataclass(frozen=True)
class Answer:
    """What the stream said about the operator in its answer to ``frame``."""
    frame: int          # the frame answered (sent)
    about: int          # the frame the action names
    label: int          # the action's class index


def operator_answers(replies: list[dict], subject_boxes: dict[int, np.ndarray],
                     classes: list[str], min_iou: float = 0.3) -> list[Answer]:
    """The operator's answers in a stream's replies (``frame_index``, ``persons`` with
    ``box``, ``action``, ``about_frame``), in reply order."""
    index = {c: i for i, c in enumerate(classes)}
    answers = []
    for reply in replies:
        t = reply["frame_index"]
        truth = subject_boxes.get(t)
        persons = [p for p in reply["persons"] if p["action"] is not None]
        if truth is None or not persons:
            continue
        overlap = box_iou(np.array([p["box"] for p in persons]), truth)[:, 0]
        best = int(np.argmax(overlap))
        if overlap[best] >= min_iou:
            answers.append(Answer(t, int(persons[best]["about_frame"]),
                                  index[persons[best]["action"]]))
    return answers


def frame_predictions(answers: list[Answer], num_frames: int, step_frames: int) -> np.ndarray:
    """The operator's label per frame under the rule of this module (UNANSWERED where
    none)."""
    named = np.full(num_frames, UNANSWERED)
    for a in answers:
        if 0 <= a.about < num_frames:
            named[a.about] = a.label
    labels = np.full(num_frames, UNANSWERED)
    frames = np.flatnonzero(named != UNANSWERED)
    if not len(frames):
        return labels
    last = frames[-1]
    tail = max(a.frame - a.about for a in answers if a.about == last) + step_frames
    everything = np.arange(num_frames)
    newest = frames[np.maximum(np.searchsorted(frames, everything, side="right") - 1, 0)]
    reach = np.where(newest == last, tail, step_frames)
    covered = (everything >= frames[0]) & (everything - newest < reach)
    labels[covered] = named[newest[covered]]
    return labels


def delays_frames(answers: list[Answer]) -> np.ndarray:
    """Per answer, how many frames it came after the frame it names."""
    return np.array([a.frame - a.about for a in answers], dtype=np.int64)
