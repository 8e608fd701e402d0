# The heavy models with random weights (--random-weights; tests and benchmarks only); see
# light_random_weights.py for why the thresholds are zero.
_base_ = ["heavy.py", "coco_to_workcell.py"]

detector = dict(cfg_options={"model.test_cfg.rcnn.score_thr": 0.0}, score_thr=0.0,
                class_map={{_base_.coco_to_workcell}}, unmapped_classes="person")
tracker = dict(obj_score_thrs=dict(high=0.0, low=0.0), init_track_thr=0.0,
               weight_iou_with_det_scores=False)
