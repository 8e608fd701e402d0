"""Ensemble weights: checked where they are written, read and used."""

import json

import numpy as np
import pytest

from model.inference.ensemble import ENSEMBLE_FILE, combine, load_ensemble, write_ensemble


def test_combine_is_the_weighted_mean_of_the_members():
    a, b = np.array([[0.8, 0.2], [0.4, 0.6]]), np.array([[0.2, 0.8], [0.2, 0.8]])
    np.testing.assert_allclose(combine({"a": a, "b": b}, {"a": 1.0, "b": 3.0}), (a + 3 * b) / 4)
    np.testing.assert_allclose(combine({"a": a, "b": b}, {"a": 0.0, "b": 1.0}), b)


@pytest.mark.parametrize(("weights", "message"), [
    ({"a": 0.0, "b": 0.0}, "weights sum to 0"),
    ({"a": float("nan"), "b": 1.0}, "finite numbers >= 0"),
    ({"a": -1.0, "b": 2.0}, "finite numbers >= 0"),
    ({"a": "1", "b": 1.0}, "finite numbers >= 0"),
    ({"a": 1.0}, r"weights \['a'\] do not match the members \['a', 'b'\]"),
])
def test_bad_weights_are_refused_everywhere(tmp_path, weights, message):
    scores = {"a": np.ones((1, 2)) / 2, "b": np.ones((1, 2)) / 2}
    with pytest.raises(ValueError, match=message):
        combine(scores, weights)
    for member in ("a", "b"):
        (tmp_path / member).mkdir(exist_ok=True)
        (tmp_path / member / "config.py").write_text("")
    with pytest.raises(ValueError, match=message):
        write_ensemble(tmp_path, {"a": "a", "b": "b"}, weights)
    (tmp_path / ENSEMBLE_FILE).write_text(json.dumps({"members": {"a": "a", "b": "b"},
                                                      "weights": weights}))
    with pytest.raises(ValueError, match=message):
        load_ensemble(tmp_path)
