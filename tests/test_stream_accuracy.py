"""The serving benchmark's accuracy rule (benchmarks/stream_accuracy.py) on hand-made replies
whose answers are known."""

import numpy as np

from benchmarks.stream_accuracy import (
    UNANSWERED,
    Answer,
    delays_frames,
    frame_predictions,
    operator_answers,
)

CLASSES = ["idle", "reach", "drill"]
OPERATOR = np.array([100, 50, 200, 300], np.float32)


def _reply(t: int, *persons: tuple) -> dict:
    return {"frame_index": t,
            "persons": [{"box": list(box), "action": action, "about_frame": about}
                        for box, action, about in persons]}


def test_the_operator_is_the_person_over_the_annotated_box():
    passerby = [300, 40, 400, 300]
    replies = [_reply(10, (passerby, "drill", 6), (OPERATOR.tolist(), "reach", 6)),
               # only the passer-by has an action: no answer for the operator
               _reply(11, (passerby, "drill", 7), (OPERATOR.tolist(), None, None)),
               # the operator's box barely overlaps the annotated one (IoU < 0.3)
               _reply(12, ([180, 50, 280, 300], "idle", 8)),
               # a frame without an annotated subject
               _reply(13, (OPERATOR.tolist(), "idle", 9))]
    boxes = {t: OPERATOR for t in (10, 11, 12)}
    assert operator_answers(replies, boxes, CLASSES) == [Answer(10, 6, 1)]


def test_each_answer_covers_its_step_and_the_last_one_the_end_of_the_stream():
    # Steps of 2 frames, answers 4 frames late: frames 0..3 are never named.
    answers = [Answer(t, t - 4, label) for t, label in
               [(4, 1), (5, 1), (6, 2), (7, 2), (8, 0), (9, 0)]]
    labels = frame_predictions(answers, num_frames=10, step_frames=2)
    # frame 5's answer names frame 1; frames 0-5 named in order, 6-9 are the tail (4 + 2).
    assert labels.tolist() == [1, 1, 2, 2, 0, 0, 0, 0, 0, 0]
    assert delays_frames(answers).tolist() == [4] * 6


def test_a_gap_in_the_answers_is_unanswered_beyond_one_step():
    # Answers name steps 0, 2, then nothing until 8 (dropped frames, operator lost), then 10.
    answers = [Answer(4, 0, 1), Answer(6, 2, 1), Answer(12, 8, 2), Answer(14, 10, 2)]
    labels = frame_predictions(answers, num_frames=16, step_frames=2)
    u = UNANSWERED
    # The tail after frame 10 is 4 + 2 frames long: frames 10..15 are covered.
    assert labels.tolist() == [1, 1, 1, 1, u, u, u, u, 2, 2, 2, 2, 2, 2, 2, 2]


def test_nothing_named_is_all_unanswered_and_a_late_stream_keeps_its_delay():
    assert (frame_predictions([], 5, 2) == UNANSWERED).all()
    # One answer about frame 1 given at frame 3: frames 1..4 (delay 2 + one step) covered.
    labels = frame_predictions([Answer(3, 1, 2)], num_frames=8, step_frames=2)
    assert labels.tolist() == [UNANSWERED, 2, 2, 2, 2, UNANSWERED, UNANSWERED, UNANSWERED]
