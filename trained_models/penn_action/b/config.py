_format = [
    dict(dataset='coco', feats=[
        'b',
    ], type='GenSkeFeat'),
    dict(num_person=1, type='FormatGCNInput'),
    dict(
        collect_keys=('keypoint', ),
        meta_keys=(
            'video_id',
            'frame_range',
            'img_shape',
        ),
        type='PackActionInputs'),
]
_normalize = dict(min_score=0.05, type='PersonCentricNormalize')
clip_len = 64
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'model.registry',
    ])
dataset = dict(
    min_frames=1,
    num_person=1,
    streams=('pose', ),
    type='FeatureTableDataset',
    window_s=None)
default_scope = 'mmaction'
feats = [
    'b',
]
feature_table = '/work/main/data/penn_action/features'
model = dict(
    backbone=dict(
        pose=dict(
            base_channels=32,
            gcn_adaptive='init',
            gcn_with_res=True,
            graph_cfg=dict(layout='coco', mode='spatial'),
            tcn_type='mstcn',
            type='STGCN'),
        type='PoseObjectBackbone'),
    cls_head=dict(
        dropout=0.5, in_channels=128, num_classes=15, type='GCNHead'),
    data_preprocessor=dict(
        preprocessors=dict(keypoint=dict(type='ActionDataPreprocessor')),
        type='MultiModalDataPreprocessor'),
    type='PoseObjectRecognizer')
num_classes = 15
optim_wrapper = dict(
    clip_grad=dict(max_norm=5.0),
    optimizer=dict(lr=0.002, type='AdamW', weight_decay=0.0001))
param_scheduler = [
    dict(
        begin=0,
        by_epoch=True,
        convert_to_iter_based=True,
        end=2,
        start_factor=0.05,
        type='LinearLR'),
    dict(
        begin=2,
        by_epoch=True,
        convert_to_iter_based=True,
        eta_min=1e-05,
        type='CosineAnnealingLR'),
]
seed = 0
test_pipeline = [
    dict(
        clip_len=64, num_clips=10, test_mode=True, type='UniformSampleFrames'),
    dict(type='PoseDecode'),
    dict(min_score=0.05, type='PersonCentricNormalize'),
    dict(dataset='coco', feats=[
        'b',
    ], type='GenSkeFeat'),
    dict(num_person=1, type='FormatGCNInput'),
    dict(
        collect_keys=('keypoint', ),
        meta_keys=(
            'video_id',
            'frame_range',
            'img_shape',
        ),
        type='PackActionInputs'),
]
train_cfg = dict(
    amp=True,
    batch_size=16,
    class_balance_power=0.0,
    max_epochs=20,
    num_workers=0,
    selection='last')
train_pipeline = [
    dict(clip_len=64, type='UniformSampleFrames'),
    dict(type='PoseDecode'),
    dict(min_score=0.05, type='PersonCentricNormalize'),
    dict(prob=0.5, type='RandomFlipLR'),
    dict(
        rotate_deg=10.0, scale=(
            0.9,
            1.1,
        ), shift=0.1, type='RandomAffine2D'),
    dict(dataset='coco', feats=[
        'b',
    ], type='GenSkeFeat'),
    dict(num_person=1, type='FormatGCNInput'),
    dict(
        collect_keys=('keypoint', ),
        meta_keys=(
            'video_id',
            'frame_range',
            'img_shape',
        ),
        type='PackActionInputs'),
]
val_cfg = dict(batch_size=32)
val_pipeline = [
    dict(clip_len=64, num_clips=1, test_mode=True, type='UniformSampleFrames'),
    dict(type='PoseDecode'),
    dict(min_score=0.05, type='PersonCentricNormalize'),
    dict(dataset='coco', feats=[
        'b',
    ], type='GenSkeFeat'),
    dict(num_person=1, type='FormatGCNInput'),
    dict(
        collect_keys=('keypoint', ),
        meta_keys=(
            'video_id',
            'frame_range',
            'img_shape',
        ),
        type='PackActionInputs'),
]
