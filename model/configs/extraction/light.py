# Extraction with light models: YOLOX-tiny (416x416 input) + RTMPose-t (256x192), ByteTrack.
# `python -m jobs.extract --config model/configs/extraction/light.py ...`; any value can be
# overridden with --cfg-options (e.g. detector.score_thr=0.4 video.stride=2).
_base_ = ["model_zoo.py"]

detector = dict(
    model="yolox-tiny",        # a key of model_zoo.detectors
    # Path or URL of the weights; None refuses to run unless --random-weights is given.
    checkpoint=None,
    # Dotted overrides of the model-zoo config (e.g. {"model.test_cfg.score_thr": 0.0},
    # {"test_pipeline.1.scale": (320, 320)} for a smaller input).
    cfg_options={},
    # Detector class name -> "person" or a dataset object class. Classes absent from the map
    # keep their name when the dataset has a class of that name (COCO's "person", "cup"), and
    # are dropped otherwise; see docs/extraction.md for mapping COCO classes onto a dataset.
    class_map={},
    # What happens to the other detector classes: "drop" them; "person" is only for random
    # weights (their labels mean nothing; see light_random_weights.py).
    unmapped_classes="drop",
    score_thr=0.3,             # detections below this score are dropped before tracking
    min_box_px=2.0,            # boxes narrower or lower than this are dropped
    # Boxes with less of their area inside the frame are dropped: the detector's boxes are
    # clamped to its padded input, and one mostly in the padding is the padding's edge
    # (RTMDet at 1.25x saw a "person" 3 px into a 480-px frame and 6 px past it).
    min_visible_fraction=0.5,
    batch_frames=8,            # frames per detector call (and per pose call: their persons)
    # "onnx": the network in ONNX Runtime (exported once per weights, cached), resizing,
    # padding and the head's decoding in NumPy (single-stage RTMDet / YOLOX heads); "torch":
    # MMDetection's own test pipeline and model (any detector); "auto": "onnx" where it runs
    # the model and ONNX Runtime can use this machine's GPU (if any), else "torch".
    backend="auto",
)
pose = dict(
    model="rtmpose-t",         # a key of model_zoo.pose_models
    checkpoint=None,
    cfg_options={},
    backend="auto",            # as the detector's ("onnx": top-down models without flip test)
    # The feature table holds confidences in [0, 1] and 0 for a missing joint; raw network
    # scores are neither (model/frame_path/keypoint_scores.py). "package": the calibration
    # jobs.calibrate_pose wrote beside the checkpoint; a file path; None: raw scores clipped.
    calibration=None,
    # Joints calibrated below this are marked missing (score 0, x = y = 0); None: the
    # calibration's own threshold (0 without a calibration).
    missing_below=None,
)
# MMDetection 3's ByteTrack (mmdet.models.trackers.ByteTracker) with its model-zoo settings;
# it matches persons and objects by category, so one tracker serves both.
tracker = dict(
    type="ByteTracker",
    motion=dict(type="KalmanFilter"),
    obj_score_thrs=dict(high=0.6, low=0.1),
    init_track_thr=0.7,
    weight_iou_with_det_scores=True,
    match_iou_thrs=dict(high=0.1, low=0.5, tentative=0.3),
    num_frames_retain=30,
)
video = dict(
    stride=1,                  # keep every stride-th frame (the table's fps is divided by it)
    shard_frames=150,          # long videos are cut into shards of this many source frames
)
table = dict(
    max_persons=2,             # top-k persons per frame (by score) that get a pose
    max_objects=16,            # object slots per frame (by score)
)
# The labelled subject of a segment is the tracked person whose boxes overlap the annotated
# subject's boxes most (mean IoU over the segment); below this the segment keeps no subject
# and, as for unlabelled frames, the largest person comes first.
subject = dict(min_iou=0.3)
