"""The serving graph's pieces that need no running service: the checks of a features window
(each refusal names its field), and the tracker of a stream detected every few frames."""

import numpy as np
import pytest

from model.frame_path.tracking import Tracker
from serve.features import FeatureWindow, example_window, window_arrays
from serve.settings import load_settings
from serve.stream import RequestError, detection_tracker


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
