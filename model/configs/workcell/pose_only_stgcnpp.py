# Ablation: the pose stream alone (MMAction2's ST-GCN++ with a GCNHead). The samples hold no
# detector output: the dataset loads the pose stream only.
_base_ = './workcell_base.py'

dataset = dict(streams=('pose',))
_decode = [dict(type='PoseDecode'), dict(type='PersonCentricNormalize', min_score=0.05)]
_format = [
    dict(type='ZeroMissingJoints'),
    dict(type='GenSkeFeat', dataset='coco', feats=['j']),
    dict(type='FormatGCNInput', num_person=1),
    dict(type='PackActionInputs', collect_keys=('keypoint',),
         meta_keys=('video_id', 'frame_range', 'img_shape')),
]
train_pipeline = [
    dict(type='TemporalSpeedJitter', ratio=(0.7, 1.0), prob=0.8),
    dict(type='UniformSampleFrames', clip_len={{_base_.clip_len}}),
    *_decode,
    dict(type='RandomFlipLR', prob=0.5),
    dict(type='RandomAffine2D', scale=(0.85, 1.15), rotate_deg=12.0, shift=0.15),
    dict(type='KeypointNoise', std=0.03),
    dict(type='JointDropout', prob=0.06, max_span=0.6),
    *_format,
]
val_pipeline = [
    dict(type='UniformSampleFrames', clip_len={{_base_.clip_len}}, num_clips=1, test_mode=True),
    *_decode,
    *_format,
]
test_pipeline = [
    dict(type='UniformSampleFrames', clip_len={{_base_.clip_len}}, num_clips=5, test_mode=True),
    *_decode,
    *_format,
]

model = dict(
    type='PoseObjectRecognizer',
    data_preprocessor=dict(type='MultiModalDataPreprocessor',
                           preprocessors=dict(keypoint=dict(type='ActionDataPreprocessor'))),
    backbone=dict(type='PoseObjectBackbone', pose={{_base_.pose_backbone}}),
    cls_head=dict(type='GCNHead', num_classes={{_base_.num_classes}},
                  in_channels={{_base_.pose_channels}}, dropout={{_base_.head_dropout}}))
