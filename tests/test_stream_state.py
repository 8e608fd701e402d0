"""The serving graph's pieces that need no running service: the checks of a features window
(each refusal names its field)."""

import numpy as np
import pytest

from serve.features import FeatureWindow, example_window, window_arrays
from serve.settings import load_settings
from serve.stream import RequestError


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
