auto_scale_lr = dict(base_batch_size=1024, enable=False)
backend_args = dict(backend='local')
base_lr = 0.002
codec = dict(
    _scope_='mmpose',
    input_size=(
        160,
        224,
    ),
    normalize=False,
    sigma=(
        4.2,
        4.9,
    ),
    simcc_split_ratio=2.0,
    type='SimCCLabel',
    use_dark=False)
custom_hooks = [
    dict(
        ema_type='ExpMomentumEMA',
        momentum=0.0002,
        priority=49,
        type='EMAHook',
        update_buffers=True),
]
data_mode = 'topdown'
data_root = 'data/coco/'
dataset = dict(
    data_mode='topdown',
    data_prefix=dict(img='coco/'),
    data_root='',
    type='CocoDataset')
dataset_type = 'CocoDataset'
default_hooks = dict(
    badcase=dict(
        _scope_='mmpose',
        badcase_thr=5,
        enable=False,
        metric_type='loss',
        out_dir='badcase',
        type='BadCaseAnalysisHook'),
    checkpoint=dict(
        _scope_='mmpose',
        by_epoch=False,
        interval=1000,
        max_keep_ckpts=1,
        rule='greater',
        save_best=None,
        type='CheckpointHook'),
    logger=dict(_scope_='mmpose', interval=20, type='LoggerHook'),
    param_scheduler=dict(_scope_='mmpose', type='ParamSchedulerHook'),
    sampler_seed=dict(_scope_='mmpose', type='DistSamplerSeedHook'),
    timer=dict(_scope_='mmpose', type='IterTimerHook'),
    visualization=dict(
        _scope_='mmpose', enable=False, type='PoseVisualizationHook'))
default_scope = 'mmpose'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
input_size = (
    160,
    224,
)
load_from = '/work/main/trained_models/pose/weights.pth'
log_level = 'INFO'
log_processor = dict(
    _scope_='mmpose',
    by_epoch=False,
    num_digits=6,
    type='LogProcessor',
    window_size=50)
max_epochs = 420
max_iters = 1500
model = dict(
    _scope_='mmpose',
    backbone=dict(
        _scope_='mmdet',
        act_cfg=dict(type='SiLU'),
        arch='P5',
        channel_attention=True,
        deepen_factor=0.167,
        expand_ratio=0.5,
        init_cfg=None,
        norm_cfg=dict(type='BN'),
        out_indices=(4, ),
        type='CSPNeXt',
        widen_factor=0.375),
    data_preprocessor=dict(
        bgr_to_rgb=True,
        mean=[
            123.675,
            116.28,
            103.53,
        ],
        std=[
            58.395,
            57.12,
            57.375,
        ],
        type='PoseDataPreprocessor'),
    head=dict(
        decoder=dict(
            input_size=(
                160,
                224,
            ),
            normalize=False,
            sigma=(
                4.2,
                4.9,
            ),
            simcc_split_ratio=2.0,
            type='SimCCLabel',
            use_dark=False),
        final_layer_kernel_size=7,
        gau_cfg=dict(
            act_fn='SiLU',
            drop_path=0.0,
            dropout_rate=0.0,
            expansion_factor=2,
            hidden_dims=256,
            pos_enc=False,
            s=128,
            use_rel_bias=False),
        in_channels=384,
        in_featuremap_size=(
            5,
            7,
        ),
        input_size=(
            160,
            224,
        ),
        loss=dict(
            beta=10.0,
            label_softmax=True,
            type='KLDiscretLoss',
            use_target_weight=True),
        out_channels=17,
        simcc_split_ratio=2.0,
        type='RTMCCHead'),
    test_cfg=dict(flip_test=False),
    type='TopdownPoseEstimator')
optim_wrapper = dict(
    _scope_='mmpose',
    optimizer=dict(lr=0.002, type='AdamW', weight_decay=0.0),
    paramwise_cfg=dict(
        bias_decay_mult=0, bypass_duplicate=True, norm_decay_mult=0),
    type='OptimWrapper')
param_scheduler = [
    dict(
        begin=0, by_epoch=False, end=100, start_factor=0.001, type='LinearLR'),
    dict(
        T_max=900,
        begin=100,
        by_epoch=False,
        end=1000,
        eta_min=0.0001,
        type='CosineAnnealingLR'),
]
randomness = dict(seed=0)
resume = False
stage2_num_epochs = 30
test_cfg = dict()
test_dataloader = dict(
    batch_size=32,
    dataset=dict(
        _scope_='mmpose',
        ann_file='coco/keypoints_val.json',
        data_mode='topdown',
        data_prefix=dict(img='coco/'),
        data_root='/work/main/data/workcell',
        pipeline=[
            dict(type='LoadImage'),
            dict(type='GetBBoxCenterScale'),
            dict(input_size=(
                160,
                224,
            ), type='TopdownAffine'),
            dict(type='PackPoseInputs'),
        ],
        test_mode=True,
        type='CocoDataset'),
    drop_last=False,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(
        _scope_='mmpose', round_up=False, shuffle=False,
        type='DefaultSampler'))
test_evaluator = [
    dict(
        ann_file='/work/main/data/workcell/coco/keypoints_val.json',
        type='CocoMetric'),
    dict(norm_item='bbox', thr=0.1, type='PCKAccuracy'),
]
train_cfg = dict(
    max_iters=1000,
    type='IterBasedTrainLoop',
    val_begin=1001,
    val_interval=1000)
train_dataloader = dict(
    batch_size=32,
    dataset=dict(
        _scope_='mmpose',
        ann_file='coco/keypoints_train.json',
        data_mode='topdown',
        data_prefix=dict(img='coco/'),
        data_root='/work/main/data/workcell',
        pipeline=[
            dict(type='LoadImage'),
            dict(type='GetBBoxCenterScale'),
            dict(direction='horizontal', type='RandomFlip'),
            dict(type='RandomHalfBody'),
            dict(
                rotate_factor=30,
                scale_factor=[
                    0.75,
                    1.25,
                ],
                type='RandomBBoxTransform'),
            dict(input_size=(
                160,
                224,
            ), type='TopdownAffine'),
            dict(type='mmdet.YOLOXHSVRandomAug'),
            dict(
                encoder=dict(
                    input_size=(
                        160,
                        224,
                    ),
                    normalize=False,
                    sigma=(
                        4.2,
                        4.9,
                    ),
                    simcc_split_ratio=2.0,
                    type='SimCCLabel',
                    use_dark=False),
                type='GenerateTarget'),
            dict(type='PackPoseInputs'),
        ],
        type='CocoDataset'),
    num_workers=1,
    persistent_workers=True,
    sampler=dict(_scope_='mmpose', shuffle=True, type='DefaultSampler'))
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(direction='horizontal', type='RandomFlip'),
    dict(type='RandomHalfBody'),
    dict(
        rotate_factor=30,
        scale_factor=[
            0.75,
            1.25,
        ],
        type='RandomBBoxTransform'),
    dict(input_size=(
        160,
        224,
    ), type='TopdownAffine'),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(
        encoder=dict(
            input_size=(
                160,
                224,
            ),
            normalize=False,
            sigma=(
                4.2,
                4.9,
            ),
            simcc_split_ratio=2.0,
            type='SimCCLabel',
            use_dark=False),
        type='GenerateTarget'),
    dict(type='PackPoseInputs'),
]
train_pipeline_stage2 = [
    dict(
        _scope_='mmpose', backend_args=dict(backend='local'),
        type='LoadImage'),
    dict(_scope_='mmpose', type='GetBBoxCenterScale'),
    dict(_scope_='mmpose', direction='horizontal', type='RandomFlip'),
    dict(_scope_='mmpose', type='RandomHalfBody'),
    dict(
        _scope_='mmpose',
        rotate_factor=60,
        scale_factor=[
            0.75,
            1.25,
        ],
        shift_factor=0.0,
        type='RandomBBoxTransform'),
    dict(_scope_='mmpose', input_size=(
        192,
        256,
    ), type='TopdownAffine'),
    dict(_scope_='mmpose', type='mmdet.YOLOXHSVRandomAug'),
    dict(
        _scope_='mmpose',
        transforms=[
            dict(p=0.1, type='Blur'),
            dict(p=0.1, type='MedianBlur'),
            dict(
                max_height=0.4,
                max_holes=1,
                max_width=0.4,
                min_height=0.2,
                min_holes=1,
                min_width=0.2,
                p=0.5,
                type='CoarseDropout'),
        ],
        type='Albumentation'),
    dict(
        _scope_='mmpose',
        encoder=dict(
            input_size=(
                192,
                256,
            ),
            normalize=False,
            sigma=(
                4.9,
                5.66,
            ),
            simcc_split_ratio=2.0,
            type='SimCCLabel',
            use_dark=False),
        type='GenerateTarget'),
    dict(_scope_='mmpose', type='PackPoseInputs'),
]
val_cfg = dict()
val_dataloader = dict(
    batch_size=32,
    dataset=dict(
        _scope_='mmpose',
        ann_file='coco/keypoints_val.json',
        data_mode='topdown',
        data_prefix=dict(img='coco/'),
        data_root='/work/main/data/workcell',
        pipeline=[
            dict(type='LoadImage'),
            dict(type='GetBBoxCenterScale'),
            dict(input_size=(
                160,
                224,
            ), type='TopdownAffine'),
            dict(type='PackPoseInputs'),
        ],
        test_mode=True,
        type='CocoDataset'),
    drop_last=False,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(
        _scope_='mmpose', round_up=False, shuffle=False,
        type='DefaultSampler'))
val_evaluator = [
    dict(
        ann_file='/work/main/data/workcell/coco/keypoints_val.json',
        type='CocoMetric'),
    dict(norm_item='bbox', thr=0.1, type='PCKAccuracy'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(input_size=(
        160,
        224,
    ), type='TopdownAffine'),
    dict(type='PackPoseInputs'),
]
vis_backends = [
    dict(_scope_='mmpose', type='LocalVisBackend'),
]
visualizer = dict(
    _scope_='mmpose',
    name='visualizer',
    type='PoseLocalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
warmup_iters = 100
work_dir = '/work/main/outputs/train_pose_cont'
