# The detector and pose models the extraction actors can load by name (--detector / --pose).
# `config` is a model-zoo config shipped inside the mmdet / mmpose wheel (the "mmdet::" and
# "mmpose::" prefixes resolve to their .mim/configs folders); `checkpoint` is the official
# COCO checkpoint of that config (from the configs' metafile.yml), used when a machine can
# download it. Point `checkpoint` at a local file or another URL for weights of your own.
# The "workcell-" models are the packages trained on the built-in generator's rendered frames
# (jobs.train_detector, jobs.train_pose), shipped in trained_models/: `config` is the package's
# config file and `checkpoint` its weights (paths relative to the repository root).
detectors = dict(
    **{
        "rtmdet-tiny": dict(
            config="mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py",
            checkpoint="https://download.openmmlab.com/mmdetection/v3.0/rtmdet/"
                       "rtmdet_tiny_8xb32-300e_coco/"
                       "rtmdet_tiny_8xb32-300e_coco_20220902_112414-78e30dcc.pth"),
        "yolox-tiny": dict(
            config="mmdet::yolox/yolox_tiny_8xb8-300e_coco.py",
            checkpoint="https://download.openmmlab.com/mmdetection/v2.0/yolox/"
                       "yolox_tiny_8x8_300e_coco/"
                       "yolox_tiny_8x8_300e_coco_20211124_171234-b4047906.pth"),
        "faster-rcnn": dict(
            config="mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
            checkpoint="https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/"
                       "faster_rcnn_r50_fpn_1x_coco/"
                       "faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth"),
        "workcell-rtmdet-nano": dict(config="trained_models/detector/config.py",
                                     checkpoint="trained_models/detector/weights.pth"),
    })
pose_models = dict(
    **{
        "rtmpose-t": dict(
            config="mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py",
            checkpoint="https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/"
                       "rtmpose-tiny_simcc-coco_pt-aic-coco_420e-256x192-e613ba3f_20230127.pth"),
        "hrnet-w32": dict(
            config="mmpose::body_2d_keypoint/topdown_heatmap/coco/"
                   "td-hm_hrnet-w32_8xb64-210e_coco-256x192.py",
            checkpoint="https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/"
                       "topdown_heatmap/coco/"
                       "td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth"),
        "workcell-rtmpose-t": dict(config="trained_models/pose/config.py",
                                   checkpoint="trained_models/pose/weights.pth"),
    })
