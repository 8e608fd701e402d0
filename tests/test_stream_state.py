"""The serving graph's pieces that need no running service: person boxes from keypoints between
detections, and the checks of a features window (each refusal names its field)."""

import numpy as np
import pytest

from model.datasets.feature_table import tensor_column
from serve.features import FeatureWindow, example_window, window_table
from serve.settings import load_settings
from serve.stream import RequestError, keypoint_boxes


@pytest.fixture(scope="module")
def settings():
    return load_settings()


def test_a_person_between_detections_is_boxed_by_its_confident_keypoints():
    keypoints = np.zeros((2, 17, 2), np.float32)
    scores = np.zeros((2, 17), np.float32)
    keypoints[0, :4] = [[100, 100], [140, 100], [100, 200], [140, 200]]
    scores[0, :4] = 0.9
    keypoints[0, 4] = [400, 400]          # a keypoint the model is unsure of
    scores[0, 4] = 0.1
    keypoints[1, 0] = [10, 10]            # one confident keypoint only
    scores[1, 0] = 0.9
    previous = np.array([[0, 0, 1, 1], [5, 5, 50, 60]], np.float32)
    boxes = keypoint_boxes(keypoints, scores, previous, thr=0.3, padding=1.5, width=480,
                           height=360)
    np.testing.assert_allclose(boxes[0], [90, 75, 150, 225])   # centre (120, 150), 1.5 x size
    np.testing.assert_allclose(boxes[1], previous[1])
    edge = keypoint_boxes(keypoints[:1] + 400, scores[:1], previous[:1], 0.3, 1.5, 480, 360)
    assert edge[0, 2] == 480 and edge[0, 3] == 360             # clipped to the frame


def _window(settings) -> dict:
    table = example_window(settings, frames=6)
    body = {"fps": 15.0, "width": 480, "height": 360}
    for name in ("person_track_ids", "person_boxes", "keypoints", "keypoint_scores",
                 "object_track_ids", "object_classes", "object_boxes", "object_scores"):
        body[name] = tensor_column(table, name).tolist()
    return body


def test_a_features_window_becomes_the_table_rows_it_describes(settings):
    body = _window(settings)
    table = window_table(FeatureWindow(**body), settings)
    assert table.num_rows == 6
    np.testing.assert_array_equal(tensor_column(table, "keypoints"), body["keypoints"])
    assert table.column("num_persons").to_pylist() == [1] * 6
    assert table.column("num_objects").to_pylist() == [3] * 6


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
        window_table(FeatureWindow(**body), settings)
    assert refused.value.status == 422 and words in str(refused.value)
