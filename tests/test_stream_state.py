"""The serving graph's pieces that need no running service: the checks of a features window
(each refusal names its field), and the tracking of a stream detected every few frames."""

import numpy as np
import pytest

from model.frame_path.tracking import Tracker
from serve.features import FeatureWindow, example_window, window_arrays
from serve.settings import load_settings
from serve.stream import RequestError, StreamState, detection_tracker


@pytest.fixture(scope="module")
def settings():
    return load_settings()


def _window(settings) -> dict:
    arrays = example_window(settings, frames=6)
    body = {"fps": 15.0, "width": 480, "height": 360}
    for name in ("person_track_ids", "person_boxes", "keypoints", "keypoint_scores",
                 "object_track_ids", "object_classes", "object_boxes", "object_scores"):
        body[name] = getattr(arrays, name).tolist()
    return body


def test_a_features_window_becomes_the_table_rows_it_describes(settings):
    body = _window(settings)
    arrays = window_arrays(FeatureWindow(**body), settings)
    assert arrays.num_frames == 6
    np.testing.assert_array_equal(arrays.keypoints, body["keypoints"])
    assert arrays.num_persons.tolist() == [1] * 6
    assert arrays.num_objects.tolist() == [3] * 6


@pytest.mark.parametrize("edit, words", [
    (lambda b: b.update(keypoints=[f[:, :16].tolist() for f in np.array(b["keypoints"])]),
     "keypoints has shape"),
    (lambda b: b["keypoint_scores"][2][0].__setitem__(0, float("nan")), "NaN"),
    (lambda b: b["object_classes"][0].__setitem__(0, 99), "object_classes outside"),
    (lambda b: b.update(person_track_ids=[r[:1] for r in b["person_track_ids"]]),
     "person and"),
    (lambda b: b["object_scores"][1].append(0.5), "ragged"),
    (lambda b: b.update(person_track_ids=[]), "frames"),
])
def test_a_malformed_features_window_is_refused_naming_the_field(settings, edit, words):
    body = _window(settings)
    edit(body)
    with pytest.raises(RequestError) as refused:
        window_arrays(FeatureWindow(**body), settings)
    assert refused.value.status == 422 and words in str(refused.value)


def _detections(box: list[float], score: float) -> dict:
    """One frame's detections as ``select_detections`` gives them: one person, no object."""
    return {"num_persons": 1, "num_objects": 0,
            "person_boxes": np.array([box], np.float32),
            "person_scores": np.array([score], np.float32),
            "object_boxes": np.zeros((0, 4), np.float32),
            "object_scores": np.zeros(0, np.float32),
            "object_classes": np.zeros(0, np.int16)}


def test_a_strided_stream_keeps_a_person_whose_detection_is_weak(settings):
    """A person walking across, detected every third frame; one detection scores below
    ByteTrack's high threshold (a partly hidden person). Numbered by stream frame, every
    track would count as lost at each update and the weak detection would match nothing;
    numbered as consecutive updates, the person keeps one id throughout."""
    cfg = settings.frame_path.tracker
    low, high = cfg["obj_score_thrs"]["low"], cfg["obj_score_thrs"]["high"]
    weak = (low + high) / 2
    tracker = detection_tracker(cfg, detect_every=3)
    ids = []
    for k in range(12):
        x = 100.0 + 12 * k
        score = weak if k == 6 else 0.9
        ids.append(int(tracker.update(k, _detections([x, 50, x + 60, 250], score))[0][0]))
    assert ids == [ids[0]] * 12

    by_frame = Tracker(cfg)        # the same detections numbered by stream frame
    ids = [int(by_frame.update(3 * k, _detections([100.0 + 12 * k, 50, 160 + 12 * k, 250],
                                                  weak if k == 6 else 0.9))[0][0])
           for k in range(12)]
    assert ids[6] == -1            # what the numbering mends


def _frame_detections(boxes: list[list[float]], scores: list[float]) -> dict:
    """One frame's detections of several persons (``select_detections`` arrays), no object."""
    detections = _detections([0, 0, 1, 1], 0.0)
    detections.update(num_persons=len(boxes), person_boxes=np.array(boxes, np.float32),
                      person_scores=np.array(scores, np.float32))
    return detections


def _stream(settings, **options) -> StreamState:
    """A stream's state for its tracking only (no model runs in ``track``)."""
    stream = load_settings(options={f"stream.{k}": v for k, v in options.items()}) \
        if options else settings
    return StreamState("cell-1", 15.0, stream, package=None, head=None)


OPERATOR = [200.0, 40.0, 280.0, 300.0]
IMAGE = np.zeros((360, 480, 3), np.uint8)


def test_a_one_off_false_detection_is_never_a_tracked_person(settings):
    """The shipped stream answers a person once ByteTrack confirms its track: a false
    "person" detected once (over half the operator, as the shipped detector once gave) gets
    no id, box or timeline; a newcomer detected three times in a row is tracked from its
    third detection on, with one id. Reporting every track (as jobs.infer) shows both at once."""
    ghost = [200.0, 40.0, 240.0, 200.0]
    newcomer = [20.0, 60.0, 90.0, 300.0]
    detections = [_frame_detections([OPERATOR], [0.9]),
                  _frame_detections([OPERATOR, ghost], [0.9, 0.5]),
                  _frame_detections([OPERATOR], [0.9])] + \
        [_frame_detections([OPERATOR, newcomer], [0.9, 0.8])] * 4
    confirmed, every = _stream(settings), _stream(settings, confirmed_tracks_only=False)
    shown = [confirmed.track(IMAGE, d).ids.tolist() for d in detections]
    operator = shown[0][0]
    assert shown[:3] == [[operator]] * 3
    assert shown[3:5] == [[operator]] * 2
    assert shown[5][0] == operator and shown[5] == shown[6] and len(shown[5]) == 2
    reported = [len(every.track(IMAGE, d).ids) for d in detections]
    assert reported == [1, 2, 1, 2, 2, 2, 2]


def _skeleton(box: list[float]) -> np.ndarray:
    """17 keypoints spread over ``box`` as a pose model would find them (every joint seen)."""
    x1, y1, x2, y2 = box
    u = np.linspace(0.1, 0.9, 17)
    return np.stack([x1 + (x2 - x1) * u, y1 + (y2 - y1) * u[::-1]], 1).astype(np.float32)


def test_two_persons_crossing_through_detection_gaps_keep_their_ids(settings):
    """Two walkers cross in a stream detected every third frame; between detections each
    follows the box of its keypoints, and while their boxes overlap most the detector finds
    only the nearer one. Each keeps the id it had from the first frame to the last."""
    state = _stream(settings)
    every = int(settings.stream["detect_every"])
    first = None
    for t in range(60):
        left = [40.0 + 6 * t, 60, 110 + 6 * t, 300]       # walks right, nearer the camera
        right = [400.0 - 6 * t, 70, 470 - 6 * t, 310]     # walks left, behind
        hidden = abs((left[0] + left[2]) - (right[0] + right[2])) / 2 < 40
        detections = None
        if t % every == 0:
            detections = _frame_detections([left] if hidden else [left, right],
                                           [0.9] if hidden else [0.9, 0.85])
        persons = state.track(IMAGE, detections)
        truth = {0: left, 1: right}
        # Which walker each tracked box is (the nearer true box), and its keypoints.
        who = [int(np.argmin([abs(b[0] - truth[k][0]) for k in (0, 1)])) for b in persons.boxes]
        persons.keypoints = np.stack([_skeleton(truth[k]) for k in who]) if who else \
            np.zeros((0, 17, 2), np.float32)
        persons.keypoint_scores = np.full((len(who), 17), 0.9, np.float32)
        state.persons = persons
        ids = dict(zip(who, persons.ids.tolist(), strict=True))
        if first is None:
            first = ids
            assert len(ids) == 2 and ids[0] != ids[1]
        assert all(first[k] == i for k, i in ids.items()), (t, ids, first)
    assert len(ids) == 2
