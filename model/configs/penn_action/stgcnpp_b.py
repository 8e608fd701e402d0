# Penn Action (15 actions, real 2D joints, no objects): ST-GCN++, one stream of four.
# This file: the bone stream. benchmarks/penn_action.py fuses j, b, jm, bm by score
# ensemble.
# Self-contained like MMAction2's own skeleton configs: the four files differ only in `feats`.
custom_imports = dict(imports=['model.registry'], allow_failed_imports=False)
default_scope = 'mmaction'

num_classes = 15
clip_len = 64
feats = ['b']
feature_table = 'data/penn_action/features'

# One sample per clip; a clip is one segment.
dataset = dict(type='FeatureTableDataset', window_s=None, num_person=1, min_frames=1,
               streams=('pose',))

# Penn's hidden joints carry hand-annotated coordinates, so they are kept (no
# ZeroMissingJoints): the score channel tells the model which joints are visible.
_normalize = dict(type='PersonCentricNormalize', min_score=0.05)
_format = [
    dict(type='GenSkeFeat', dataset='coco', feats=feats),
    dict(type='FormatGCNInput', num_person=1),
    dict(type='PackActionInputs', collect_keys=('keypoint',),
         meta_keys=('video_id', 'frame_range', 'img_shape')),
]
train_pipeline = [
    dict(type='UniformSampleFrames', clip_len=clip_len),
    dict(type='PoseDecode'),
    _normalize,
    dict(type='RandomFlipLR', prob=0.5),
    dict(type='RandomAffine2D', scale=(0.9, 1.1), rotate_deg=10.0, shift=0.1),
    *_format,
]
val_pipeline = [
    dict(type='UniformSampleFrames', clip_len=clip_len, num_clips=1, test_mode=True),
    dict(type='PoseDecode'),
    _normalize,
    *_format,
]
test_pipeline = [
    dict(type='UniformSampleFrames', clip_len=clip_len, num_clips=10, test_mode=True),
    dict(type='PoseDecode'),
    _normalize,
    *_format,
]

model = dict(
    type='PoseObjectRecognizer',
    data_preprocessor=dict(type='MultiModalDataPreprocessor',
                           preprocessors=dict(keypoint=dict(type='ActionDataPreprocessor'))),
    backbone=dict(type='PoseObjectBackbone', pose=dict(
        type='STGCN', gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn',
        graph_cfg=dict(layout='coco', mode='spatial'), base_channels=32)),
    cls_head=dict(type='GCNHead', num_classes=num_classes, in_channels=128, dropout=0.5))

# A fixed schedule: the package holds the last epoch and nothing is chosen on the validation
# split, whose figures are then reported (benchmarks/penn_action.py). 20 epochs: four
# streams then train in about an hour on 2 CPU cores.
train_cfg = dict(max_epochs=20, batch_size=16, num_workers=0, selection='last',
                 class_balance_power=0.0, amp=True)
val_cfg = dict(batch_size=32)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=2,
         convert_to_iter_based=True),
]
seed = 0
