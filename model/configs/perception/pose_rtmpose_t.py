# The workcell pose model: MMPose's model-zoo RTMPose-t (SimCC, CSPNeXt-tiny) for COCO-17
# keypoints, trained from scratch on the person crops of the built-in generator's keypoint COCO
# files (`python -m jobs.train_pose`), at a 144x192 input: a workcell person is 100-300 px
# tall, and the smaller crop keeps the pose stage inside the latency budget.
_base_ = ["mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py"]

input_size = (160, 224)        # (width, height); both multiples of 32 (the head's feature map)
codec = dict(type="SimCCLabel", input_size=input_size, sigma=(4.2, 4.9), simcc_split_ratio=2.0,
             normalize=False, use_dark=False)
model = dict(
    backbone=dict(init_cfg=None, norm_cfg=dict(type="BN")),
    head=dict(input_size=input_size,
              in_featuremap_size=tuple(s // 32 for s in input_size), decoder=codec),
    test_cfg=dict(flip_test=False))

train_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale"),
    dict(type="RandomFlip", direction="horizontal"),
    dict(type="RandomHalfBody"),
    dict(type="RandomBBoxTransform", scale_factor=[0.75, 1.25], rotate_factor=30),
    dict(type="TopdownAffine", input_size=input_size),
    dict(type="mmdet.YOLOXHSVRandomAug"),
    dict(type="GenerateTarget", encoder=codec),
    dict(type="PackPoseInputs"),
]
val_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale"),
    dict(type="TopdownAffine", input_size=input_size),
    dict(type="PackPoseInputs"),
]

# data_root and the annotation files are set by jobs.train_pose from --data; persons come with
# their ground-truth boxes (the detector's boxes are the extraction job's business).
dataset = dict(type="CocoDataset", data_root="", data_mode="topdown",
               data_prefix=dict(img="coco/"))
train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    dataset=dict(dataset, ann_file="coco/keypoints_train.json", pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    dataset=dict(dataset, ann_file="coco/keypoints_val.json", test_mode=True,
                 pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type="CocoMetric", ann_file="coco/keypoints_val.json"),
                 dict(type="PCKAccuracy", thr=0.1, norm_item="bbox")]
test_evaluator = val_evaluator

max_iters = 1500
warmup_iters = 100
base_lr = 2e-3
# Validated once, after training, by the job (the loop's own validation is switched off).
train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters=max_iters,
                 val_begin=max_iters + 1, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type="CosineAnnealingLR", eta_min=base_lr * 0.05, begin=warmup_iters, end=max_iters,
         T_max=max_iters - warmup_iters, by_epoch=False),
]
custom_hooks = [dict(type="EMAHook", ema_type="ExpMomentumEMA", momentum=0.0002,
                     update_buffers=True, priority=49)]
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=20),
    checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=max_iters, max_keep_ckpts=1,
                    save_best=None))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False)
