# The light models with random weights (--random-weights; tests and benchmarks only).
# Untrained heads score every box near their prior (YOLOX: about 1e-4), so the usual
# thresholds would drop every detection and the pose model and tracker would never run. These
# thresholds let the boxes through, so that every stage does the work trained weights would
# give it (max_persons poses per frame, full object slots). The features mean nothing.
_base_ = ["light.py", "coco_to_workcell.py"]

detector = dict(cfg_options={"model.test_cfg.score_thr": 0.0}, score_thr=0.0,
                class_map={{_base_.coco_to_workcell}})
tracker = dict(obj_score_thrs=dict(high=0.0, low=0.0), init_track_thr=0.0,
               weight_iou_with_det_scores=False)
