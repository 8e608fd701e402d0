# The light models with random weights (--random-weights; tests and benchmarks only).
# Untrained heads score every box near their prior (YOLOX: about 1e-4), so the usual
# thresholds would drop every detection and the pose model and tracker would never run. These
# thresholds let the boxes through, so that every stage does the work trained weights would
# give it (max_persons poses per frame, full object slots). The labels of random heads mean
# nothing either: the example COCO map spreads some over the object classes, and every other
# class counts as a person, so that each frame gets its max_persons poses whatever label the
# untrained head happens to favour. The features mean nothing.
_base_ = ["light.py", "coco_to_workcell.py"]

detector = dict(cfg_options={"model.test_cfg.score_thr": 0.0}, score_thr=0.0,
                class_map={{_base_.coco_to_workcell}}, unmapped_classes="person")
tracker = dict(obj_score_thrs=dict(high=0.0, low=0.0), init_track_thr=0.0,
               weight_iou_with_det_scores=False)
