# Extraction with the workcell models trained on the rendered frames and shipped in
# trained_models/ (jobs.train_detector: RTMDet-nano for person + the object classes at the
# native 480x360 input; jobs.train_pose: RTMPose-t at 160x224), ByteTrack as in light.py.
# The detector's classes are the dataset's own names, so no class map is needed.
# `python -m jobs.extract --config model/configs/extraction/workcell.py ...`
_base_ = ["light.py"]

# The model's own test-time score threshold (0.001 in the model zoo) is raised to score_thr:
# detections under it are dropped before tracking anyway, a lower-scored box never suppresses
# a higher one in NMS, so the kept boxes are the same, and NMS over thousands of boxes cost
# two thirds of the detector's time on CPU.
detector = dict(model="workcell-rtmdet-nano", checkpoint="official", score_thr=0.3,
                cfg_options={"model.test_cfg.score_thr": 0.3})
# Calibrated keypoint scores and the calibration's missing-joint threshold (jobs.calibrate_pose:
# fitted on the validation persons, as many joints marked missing as the annotations leave out).
pose = dict(model="workcell-rtmpose-t", checkpoint="official", calibration="package")
# RTMDet's scores are IoU-aware (a good box of a small model scores 0.4-0.7, not 0.9), so the
# model zoo's ByteTrack thresholds for COCO detectors (high 0.6, new track 0.7) would start
# almost no track; these were set once, before any figure was measured.
tracker = dict(obj_score_thrs=dict(high=0.35, low=0.1), init_track_thr=0.4)
