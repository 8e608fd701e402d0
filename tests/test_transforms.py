"""The pose + object transforms on arrays built here: shapes, invariants, errors, repr."""

import numpy as np
import pytest
from mmaction.datasets.transforms import PoseDecode, UniformSampleFrames

import model.registry  # noqa: F401
from model.transforms.augment import (
    InjectFalseObjects,
    JointDropout,
    KeypointNoise,
    ObjectDropout,
    RandomAffine2D,
    RandomFlipLR,
)
from model.transforms.keys import LEFT_JOINTS, RIGHT_JOINTS
from model.transforms.normalize import (
    ImageFrameNormalize,
    PersonCentricNormalize,
    ZeroMissingJoints,
)
from model.transforms.objects import (
    NUM_OBJECT_FEATURES,
    NUM_TRACK_FEATURES,
    TRACK_FEATURES,
    EncodeObjects,
    EncodeObjectTracks,
    FormatObjectInput,
)
from model.transforms.temporal import ObjectDecode, TemporalSpeedJitter

T, N = 30, 4


def sample(seed=0, shift=(0.0, 0.0), scale=1.0) -> dict:
    """A standing figure (torso 100 px) with a tool in the right hand, moving over T frames."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(-60, 60, size=(17, 2)).astype(np.float32)
    base[[5, 6]] = [[-30, -100], [30, -100]]        # shoulders
    base[[11, 12]] = [[-20, 0], [20, 0]]            # hips
    motion = np.linspace(0, 20, T, dtype=np.float32)[:, None, None]
    kp = (base[None] + motion) * scale + np.array([300, 200], np.float32) + shift
    score = np.full((1, T, 17), 0.9, np.float32)
    score[0, :, 3] = 0.0                             # left ear missing throughout
    boxes = np.zeros((T, N, 4), np.float32)
    classes = np.full((T, N), -1, np.int64)
    wrist = kp[:, 10]
    boxes[:, 0] = np.concatenate([wrist - 10 * scale, wrist + 10 * scale], -1)
    classes[:, 0] = 2
    boxes[:, 1] = (np.array([100, 250, 140, 270]) * scale + np.tile(
        np.array([300, 200]) + shift, 2) - np.tile(np.array([300, 200]) * scale, 2))
    classes[:, 1] = 0
    tracks = np.where(classes >= 0, np.array([7, 3, -1, -1]), -1).astype(np.int32)
    return dict(video_id="v", keypoint=kp[None], keypoint_score=score, object_boxes=boxes,
                object_classes=classes, object_track_ids=tracks,
                object_scores=np.where(classes >= 0, 0.8, 0.0).astype(np.float32),
                total_frames=T, img_shape=(480, 640), label=3, start_index=0)


def normalized(s: dict) -> dict:
    return PersonCentricNormalize()(s)


def test_sampling_keeps_pose_and_objects_in_sync():
    s = sample()
    s["object_scores"] = np.arange(T, dtype=np.float32)[:, None].repeat(N, 1)
    out = ObjectDecode()(PoseDecode()(UniformSampleFrames(clip_len=8, num_clips=2,
                                                          test_mode=True)(s)))
    assert out["keypoint"].shape == (1, 16, 17, 2)
    assert out["object_boxes"].shape == (16, N, 4)
    np.testing.assert_array_equal(out["object_scores"][:, 0], out["frame_inds"])
    np.testing.assert_allclose(out["object_boxes"][:, 0, :2], out["keypoint"][0, :, 10] - 10)


def test_speed_jitter_crops_every_stream_alike():
    np.random.seed(0)
    s = sample()
    s["object_scores"] = np.arange(T, dtype=np.float32)[:, None].repeat(N, 1)
    out = TemporalSpeedJitter(ratio=(0.5, 0.5))(s)
    assert out["total_frames"] == 15
    assert out["keypoint"].shape[1] == 15 and out["object_boxes"].shape[0] == 15
    start = int(out["object_scores"][0, 0])
    np.testing.assert_allclose(out["keypoint"][0, 0], sample()["keypoint"][0, start])
    with pytest.raises(ValueError):
        TemporalSpeedJitter(ratio=(0.9, 0.5))


def test_normalisation_is_invariant_to_translation_and_scale():
    a = normalized(sample())
    b = normalized(sample(shift=(-150.0, 90.0), scale=1.7))
    np.testing.assert_allclose(a["keypoint"], b["keypoint"], atol=1e-4)
    np.testing.assert_allclose(a["object_boxes"], b["object_boxes"], atol=1e-4)
    # Torso length is the unit: shoulders are one unit above the hips at frame 0.
    mid_shoulder = a["keypoint"][0, 0, [5, 6]].mean(0)
    mid_hip = a["keypoint"][0, 0, [11, 12]].mean(0)
    assert np.linalg.norm(mid_shoulder - mid_hip) == pytest.approx(1.0, rel=1e-5)
    assert (a["object_boxes"][:, 2:] == 0).all()  # empty slots stay zero


def test_normalisation_without_torso_falls_back_to_body_extent():
    s = sample()
    s["keypoint_score"][0, :, [5, 6, 11, 12]] = 0.0
    out = normalized(s)
    assert np.isfinite(out["keypoint"]).all() and out["body_scale"] > 0
    nothing = sample()
    nothing["keypoint_score"][:] = 0.0                 # no visible joint at all
    out = normalized(nothing)
    assert out["body_scale"] == pytest.approx(0.3 * 480)
    np.testing.assert_allclose(out["body_center"], [320, 240])


def test_zero_missing_joints():
    out = ZeroMissingJoints()(normalized(sample()))
    assert (out["keypoint"][0, :, 3] == 0).all() and (out["keypoint"][0, :, 4] != 0).any()


def test_flip_swaps_left_and_right_and_mirrors_boxes():
    np.random.seed(0)
    before = normalized(sample())
    kp, score = before["keypoint"].copy(), before["keypoint_score"].copy()
    boxes = before["object_boxes"].copy()
    out = RandomFlipLR(prob=1.0)(before)
    for left, right in zip(LEFT_JOINTS, RIGHT_JOINTS, strict=True):
        np.testing.assert_allclose(out["keypoint"][..., left, 0], -kp[..., right, 0])
        np.testing.assert_allclose(out["keypoint"][..., left, 1], kp[..., right, 1])
        np.testing.assert_array_equal(out["keypoint_score"][..., left], score[..., right])
    np.testing.assert_allclose(out["object_boxes"][:, 0, [0, 2]], -boxes[:, 0, [2, 0]])
    # The held tool follows the (former right, now left) wrist.
    feats = EncodeObjects()(out)["objects"]
    np.testing.assert_allclose(feats[:, 0, 4:6], 0.0, atol=1e-5)


def test_flip_needs_normalised_input():
    with pytest.raises(KeyError, match=r"RandomFlipLR: results of video 'v' lack \['coord_frame'"):
        RandomFlipLR(prob=1.0)(sample())


def objects_only(s: dict) -> dict:
    """The sample as the object-only model's dataset gives it: no skeleton at all."""
    return {k: v for k, v in s.items() if k not in ("keypoint", "keypoint_score")}


def test_image_frame_normalize_uses_the_image_only():
    s = ImageFrameNormalize()(objects_only(sample()))
    assert s["coord_frame"] == "image"
    # The bench part's box [100, 250, 140, 270] in a 640x480 image, centre (320, 240), / 480.
    np.testing.assert_allclose(s["object_boxes"][0, 1], np.array([-220, 10, -180, 30]) / 480,
                               rtol=1e-6)
    assert (s["object_boxes"][:, 2:] == 0).all()            # empty slots stay zero
    shifted = sample(shift=(30.0, 0.0))                     # everything moves right 30 px
    moved = ImageFrameNormalize()(objects_only(shifted))
    dx = moved["object_boxes"][:, 1, [0, 2]] - s["object_boxes"][:, 1, [0, 2]]
    np.testing.assert_allclose(dx, 30 / 480, rtol=1e-4)


def test_encode_object_tracks_sees_boxes_and_tracks_only():
    s = UniformSampleFrames(clip_len=10, num_clips=3, test_mode=True)(objects_only(sample()))
    s = ImageFrameNormalize()(ObjectDecode()(s))
    encoded = EncodeObjectTracks()(s)
    feats = encoded["objects"]
    assert feats.shape == (30, N, NUM_TRACK_FEATURES) and len(TRACK_FEATURES) == 10
    assert (feats[:, 2:] == 0).all()                          # empty slots
    tool, part = feats[:, 0], feats[:, 1]
    # The tool (track 7) moves: velocity and displacement since its first frame of each clip.
    assert (tool[1:10, 7] == 1).all() and tool[0, 7] == 0 and tool[10, 7] == 0
    assert (np.abs(tool[1:10, 5:7]).sum(-1) > 0).all()
    np.testing.assert_allclose(tool[[0, 10, 20], 8:10], 0.0)  # a clip's first frame: no motion
    assert (np.linalg.norm(tool[9, 8:10]) > np.linalg.norm(tool[5, 8:10]) > 0)
    np.testing.assert_allclose(part[:, 5:7], 0.0, atol=1e-6)   # the part lies still
    np.testing.assert_allclose(part[:, 8:10], 0.0, atol=1e-6)
    assert part[1, 7] == 1
    # The same boxes under another skeleton give the same features: none come from the pose.
    other = sample(seed=9)
    other["object_boxes"] = sample()["object_boxes"]
    s2 = UniformSampleFrames(clip_len=10, num_clips=3, test_mode=True)(objects_only(other))
    np.testing.assert_array_equal(EncodeObjectTracks()(ImageFrameNormalize()(
        ObjectDecode()(s2)))["objects"], feats)


def test_object_encoders_refuse_the_other_coordinate_frame():
    with pytest.raises(ValueError, match="EncodeObjectTracks: expects image coordinates"):
        EncodeObjectTracks()(normalized(sample()))
    with pytest.raises(ValueError, match="EncodeObjects: expects body coordinates"):
        EncodeObjects()(ImageFrameNormalize()(sample()))


def test_augmentations_work_on_the_object_stream_alone():
    np.random.seed(3)
    s = ImageFrameNormalize()(objects_only(sample()))
    boxes = s["object_boxes"].copy()
    out = RandomFlipLR(prob=1.0)(dict(s))
    np.testing.assert_allclose(out["object_boxes"][:, 1, [0, 2]], -boxes[:, 1, [2, 0]])
    out = InjectFalseObjects(num_classes=8, prob=1.0, extent=0.6, size=(0.02, 0.15))(
        ObjectDropout(prob=1.0)(RandomAffine2D()(out)))
    assert "keypoint" not in out and ((out["object_classes"] >= 0).sum(1) == 1).all()
    assert np.abs(out["object_boxes"]).max() < 0.8
    jittered = TemporalSpeedJitter(ratio=(0.5, 0.5), prob=1.0)(objects_only(sample()))
    assert jittered["object_boxes"].shape[0] == jittered["total_frames"] == 15


def test_geometric_augmentations_work_without_objects():
    np.random.seed(0)
    s = normalized(sample())
    for key in ("object_boxes", "object_classes", "object_scores"):
        s.pop(key)
    out = RandomAffine2D()(RandomFlipLR(prob=1.0)(s))
    assert out["keypoint"].shape == (1, T, 17, 2) and "object_boxes" not in out


def test_affine_moves_keypoints_and_boxes_together():
    np.random.seed(1)
    s = normalized(sample())
    before = EncodeObjects()(dict(s, keypoint=s["keypoint"].copy()))["objects"]
    out = RandomAffine2D(scale=(1.0, 1.0), rotate_deg=0.0, shift=0.5)(s)
    after = EncodeObjects()(out)["objects"]
    # A pure shift leaves every wrist-relative offset unchanged.
    np.testing.assert_allclose(after[..., 4:8], before[..., 4:8], atol=1e-5)
    assert not np.allclose(after[..., :2], before[..., :2])
    with pytest.raises(ValueError):
        RandomAffine2D(scale=(1.2, 1.1))


def test_noise_and_dropouts_change_what_they_should():
    np.random.seed(2)
    s = normalized(sample())
    kp = s["keypoint"].copy()
    noisy = KeypointNoise(std=0.05)(s)
    assert 0.01 < np.abs(noisy["keypoint"] - kp).mean() < 0.1
    dropped = JointDropout(prob=1.0, max_span=1.0)(dict(noisy))
    assert (dropped["keypoint_score"] == 0).any()
    none = ObjectDropout(prob=1.0)(dict(noisy))
    assert (none["object_classes"] == -1).all() and (none["object_boxes"] == 0).all()
    assert (none["object_track_ids"] == -1).all()
    injected = InjectFalseObjects(num_classes=8, prob=1.0)(none)
    assert ((injected["object_classes"] >= 0).sum(1) == 1).all()
    assert ((injected["object_scores"] >= 0.3) & (injected["object_scores"] <= 0.6)).sum() == T


def test_encode_and_format_objects():
    s = UniformSampleFrames(clip_len=10, num_clips=3, test_mode=True)(sample())
    s = normalized(ObjectDecode()(PoseDecode()(s)))
    encoded = EncodeObjects()(s)
    assert encoded["objects"].shape == (30, N, NUM_OBJECT_FEATURES)
    assert encoded["object_classes"].dtype == np.int64
    assert (encoded["objects"][:, 2:] == 0).all()          # empty slots
    np.testing.assert_allclose(encoded["objects"][:, 0, 6:8], 0.0, atol=1e-5)  # at right wrist
    np.testing.assert_allclose(encoded["objects"][:, 0, 10:12], 0.0, atol=1e-5)  # in its box
    assert (np.abs(encoded["objects"][:, 1, 8:12]) > 0.5).all()  # the bench part: far away
    assert (encoded["objects"][:, 0, 12] == pytest.approx(0.8))
    # The held tool (track 7) moves with the right wrist; the bench part (track 3) stays.
    moving = encoded["objects"][:, 0]
    assert (moving[1:10, 21] == 1).all() and moving[0, 21] == 0 and moving[10, 21] == 0
    assert (np.abs(moving[1:10, 15:17]) > 0.01).any()
    np.testing.assert_allclose(moving[1:10, 19:21], 0.0, atol=1e-5)     # minus right wrist
    np.testing.assert_allclose(encoded["objects"][1:10, 1, 15:17], 0.0, atol=1e-5)
    out = FormatObjectInput()(encoded)
    assert out["objects"].shape == (3, 10, N, NUM_OBJECT_FEATURES)
    assert out["object_classes"].shape == (3, 10, N)


def test_reprs_echo_arguments():
    assert repr(TemporalSpeedJitter((0.8, 1.0), 0.5)) == \
        "TemporalSpeedJitter(ratio=(0.8, 1.0), prob=0.5)"
    assert repr(InjectFalseObjects(num_classes=3)).startswith("InjectFalseObjects(num_classes=3")
    with pytest.raises(ValueError):
        JointDropout(prob=1.5)
