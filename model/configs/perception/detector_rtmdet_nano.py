# The workcell detector: RTMDet (MMDetection's model-zoo RTMDet-tiny, narrowed to widen factor
# 0.25: "nano") for person + the 8 workcell object classes, trained from scratch on the COCO
# files of the built-in generator (`python -m jobs.train_detector`). Input: the native 480x360
# frame padded to 480x384 (objects are as small as 6 px, so frames are not shrunk); training on
# 320x320 crops at 0.8-1.25x, which keeps object sizes and costs half of a full frame.
_base_ = ["mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py"]

classes = ("person", "part", "box", "scanner", "screwdriver", "power_drill", "wrench", "hammer",
           "cup")
widen = 0.25
channels = [int(256 * widen), int(512 * widen), int(1024 * widen)]
model = dict(
    backbone=dict(widen_factor=widen, init_cfg=None),
    neck=dict(in_channels=channels, out_channels=channels[0]),
    bbox_head=dict(num_classes=len(classes), in_channels=channels[0],
                   feat_channels=channels[0]),
    test_cfg=dict(score_thr=0.001, nms=dict(type="nms", iou_threshold=0.65), max_per_img=100))

image_scale = (480, 360)       # (width, height) frames are resized to (keeping the ratio)
crop = (320, 320)
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="RandomResize", scale=image_scale, ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type="RandomCrop", crop_size=crop),
    dict(type="YOLOXHSVRandomAug"),
    dict(type="RandomFlip", prob=0.5),
    dict(type="Pad", size=crop, pad_val=dict(img=(114, 114, 114))),
    dict(type="PackDetInputs"),
]
# Validated at the native frame size; a package's test-time size is chosen afterwards on the
# val split by `python -m jobs.choose_detector_scale`, which rewrites this Resize in its config.
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=image_scale, keep_ratio=True),
    dict(type="Pad", size_divisor=32, pad_val=dict(img=(114, 114, 114))),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="PackDetInputs",
         meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]

# data_root and the annotation files are set by jobs.train_detector from --data.
dataset = dict(type="CocoDataset", data_root="", data_prefix=dict(img="coco/"),
               metainfo=dict(classes=classes))
train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(dataset, ann_file="coco/detection_train.json",
                 filter_cfg=dict(filter_empty_gt=True, min_size=2), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(dataset, ann_file="coco/detection_val.json", test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type="CocoMetric", ann_file="coco/detection_val.json", metric="bbox",
                     proposal_nums=(100, 1, 10))
test_evaluator = val_evaluator

# Iterations, not epochs: the schedule is sized to the 30-minute budget on 2 CPU cores.
max_iters = 2500
warmup_iters = 100
base_lr = 2e-3
# Validated once, after training, by the job (the loop's own validation is switched off).
train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters=max_iters,
                 val_begin=max_iters + 1, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=base_lr, weight_decay=0.05))
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type="CosineAnnealingLR", eta_min=base_lr * 0.05, begin=warmup_iters, end=max_iters,
         T_max=max_iters - warmup_iters, by_epoch=False),
]
custom_hooks = [dict(type="EMAHook", ema_type="ExpMomentumEMA", momentum=0.0002,
                     update_buffers=True, priority=49)]
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=20),
    checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False)
