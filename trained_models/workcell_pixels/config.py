_decode = [
    dict(type='PoseDecode'),
    dict(type='ObjectDecode'),
    dict(min_score=0.05, type='PersonCentricNormalize'),
]
_format = [
    dict(type='EncodeObjects'),
    dict(type='ZeroMissingJoints'),
    dict(dataset='coco', feats=[
        'j',
    ], type='GenSkeFeat'),
    dict(num_person=1, type='FormatGCNInput'),
    dict(type='FormatObjectInput'),
    dict(
        collect_keys=(
            'keypoint',
            'objects',
            'object_classes',
        ),
        meta_keys=(
            'video_id',
            'frame_range',
            'img_shape',
        ),
        type='PackActionInputs'),
]
clip_len = 48
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'model.registry',
    ])
data_preprocessor = dict(
    preprocessors=dict(
        keypoint=dict(type='ActionDataPreprocessor'),
        object_classes=dict(to_float32=False, type='ActionDataPreprocessor'),
        objects=dict(type='ActionDataPreprocessor')),
    type='MultiModalDataPreprocessor')
dataset = dict(
    extra_tables=[
        '/work/main/data/workcell/extracted-train-val',
    ],
    min_frames=4,
    num_person=1,
    streams=(
        'pose',
        'objects',
    ),
    stride_s=2.0,
    type='FeatureTableDataset',
    window_s=4.0)
default_scope = 'mmaction'
extracted_table = 'data/workcell/extracted-train-val'
feature_table = '/work/main/data/workcell/features'
head_dropout = 0.5
load_from = '/work/main/trained_models/workcell/weights.pth'
model = dict(
    aux_heads=dict(
        objects=dict(
            dropout=0.5, in_channels=128, num_classes=11, type='GCNHead'),
        pose=dict(
            dropout=0.5, in_channels=128, num_classes=11, type='GCNHead')),
    aux_loss_weight=0.5,
    backbone=dict(
        objects=dict(
            dropout=0.1,
            embed_dim=16,
            hidden_dim=64,
            in_features=24,
            num_classes=8,
            out_channels=128,
            temporal_layers=3,
            type='ObjectSetEncoder'),
        pose=dict(
            base_channels=32,
            gcn_adaptive='init',
            gcn_with_res=True,
            graph_cfg=dict(layout='coco', mode='spatial'),
            tcn_type='mstcn',
            type='STGCN'),
        type='PoseObjectBackbone'),
    cls_head=dict(
        dropout=0.5, in_channels=384, num_classes=11, type='GCNHead'),
    data_preprocessor=dict(
        preprocessors=dict(
            keypoint=dict(type='ActionDataPreprocessor'),
            object_classes=dict(
                to_float32=False, type='ActionDataPreprocessor'),
            objects=dict(type='ActionDataPreprocessor')),
        type='MultiModalDataPreprocessor'),
    neck=dict(
        dropout=0.1,
        embed_dim=128,
        num_heads=4,
        object_channels=128,
        pose_channels=128,
        type='CrossAttentionFusion',
        with_object_features=True),
    type='PoseObjectRecognizer')
num_classes = 11
num_object_classes = 8
object_backbone = dict(
    dropout=0.1,
    embed_dim=16,
    hidden_dim=64,
    in_features=24,
    num_classes=8,
    out_channels=128,
    temporal_layers=3,
    type='ObjectSetEncoder')
object_channels = 128
optim_wrapper = dict(
    clip_grad=dict(max_norm=5.0),
    optimizer=dict(lr=0.0005, type='AdamW', weight_decay=0.0001))
param_scheduler = [
    dict(
        begin=0,
        by_epoch=True,
        convert_to_iter_based=True,
        end=1,
        start_factor=0.1,
        type='LinearLR'),
    dict(
        begin=1,
        by_epoch=True,
        convert_to_iter_based=True,
        eta_min=1e-05,
        type='CosineAnnealingLR'),
]
pose_backbone = dict(
    base_channels=32,
    gcn_adaptive='init',
    gcn_with_res=True,
    graph_cfg=dict(layout='coco', mode='spatial'),
    tcn_type='mstcn',
    type='STGCN')
pose_channels = 128
seed = 0
stream_aux_heads = dict(
    objects=dict(dropout=0.5, in_channels=128, num_classes=11, type='GCNHead'),
    pose=dict(dropout=0.5, in_channels=128, num_classes=11, type='GCNHead'))
test_pipeline = [
    dict(clip_len=48, num_clips=5, test_mode=True, type='UniformSampleFrames'),
    dict(type='PoseDecode'),
    dict(type='ObjectDecode'),
    dict(min_score=0.05, type='PersonCentricNormalize'),
    dict(type='EncodeObjects'),
    dict(type='ZeroMissingJoints'),
    dict(dataset='coco', feats=[
        'j',
    ], type='GenSkeFeat'),
    dict(num_person=1, type='FormatGCNInput'),
    dict(type='FormatObjectInput'),
    dict(
        collect_keys=(
            'keypoint',
            'objects',
            'object_classes',
        ),
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
    class_balance_power=1.0,
    early_stop_patience=5,
    max_epochs=12,
    num_workers=0,
    selection='best_val')
train_pipeline = [
    dict(prob=0.8, ratio=(
        0.7,
        1.0,
    ), type='TemporalSpeedJitter'),
    dict(clip_len=48, type='UniformSampleFrames'),
    dict(type='PoseDecode'),
    dict(type='ObjectDecode'),
    dict(min_score=0.05, type='PersonCentricNormalize'),
    dict(prob=0.5, type='RandomFlipLR'),
    dict(
        rotate_deg=12.0,
        scale=(
            0.85,
            1.15,
        ),
        shift=0.15,
        type='RandomAffine2D'),
    dict(std=0.03, type='KeypointNoise'),
    dict(max_span=0.6, prob=0.06, type='JointDropout'),
    dict(prob=0.15, type='ObjectDropout'),
    dict(num_classes=8, prob=0.1, type='InjectFalseObjects'),
    dict(type='EncodeObjects'),
    dict(type='ZeroMissingJoints'),
    dict(dataset='coco', feats=[
        'j',
    ], type='GenSkeFeat'),
    dict(num_person=1, type='FormatGCNInput'),
    dict(type='FormatObjectInput'),
    dict(
        collect_keys=(
            'keypoint',
            'objects',
            'object_classes',
        ),
        meta_keys=(
            'video_id',
            'frame_range',
            'img_shape',
        ),
        type='PackActionInputs'),
]
val_cfg = dict(batch_size=32)
val_pipeline = [
    dict(clip_len=48, num_clips=1, test_mode=True, type='UniformSampleFrames'),
    dict(type='PoseDecode'),
    dict(type='ObjectDecode'),
    dict(min_score=0.05, type='PersonCentricNormalize'),
    dict(type='EncodeObjects'),
    dict(type='ZeroMissingJoints'),
    dict(dataset='coco', feats=[
        'j',
    ], type='GenSkeFeat'),
    dict(num_person=1, type='FormatGCNInput'),
    dict(type='FormatObjectInput'),
    dict(
        collect_keys=(
            'keypoint',
            'objects',
            'object_classes',
        ),
        meta_keys=(
            'video_id',
            'frame_range',
            'img_shape',
        ),
        type='PackActionInputs'),
]
