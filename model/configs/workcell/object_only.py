# Ablation: the object stream alone. The samples hold the detector's output only (the dataset
# does not load the skeleton): boxes, classes, scores and tracks, in image coordinates
# (ImageFrameNormalize, EncodeObjectTracks); nothing is computed from the skeleton.
_base_ = './workcell_base.py'

dataset = dict(streams=('objects',))
_decode = [dict(type='ObjectDecode'), dict(type='ImageFrameNormalize')]
_format = [
    dict(type='EncodeObjectTracks'),
    dict(type='FormatObjectInput'),
    dict(type='PackActionInputs', collect_keys=('objects', 'object_classes'),
         meta_keys=('video_id', 'frame_range', 'img_shape')),
]
train_pipeline = [
    dict(type='TemporalSpeedJitter', ratio=(0.7, 1.0), prob=0.8),
    dict(type='UniformSampleFrames', clip_len={{_base_.clip_len}}),
    *_decode,
    dict(type='RandomFlipLR', prob=0.5),
    # Shifts and false boxes in image heights (the frame spans about +-0.67 x +-0.5).
    dict(type='RandomAffine2D', scale=(0.85, 1.15), rotate_deg=12.0, shift=0.05),
    dict(type='ObjectDropout', prob=0.15),
    dict(type='InjectFalseObjects', num_classes={{_base_.num_object_classes}}, prob=0.1,
         extent=0.6, size=(0.02, 0.15)),
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
    data_preprocessor=dict(
        type='MultiModalDataPreprocessor',
        preprocessors=dict(objects=dict(type='ActionDataPreprocessor'),
                           object_classes=dict(type='ActionDataPreprocessor',
                                               to_float32=False))),
    backbone=dict(type='PoseObjectBackbone',
                  objects=dict(type='ObjectSetEncoder',
                               num_classes={{_base_.num_object_classes}}, embed_dim=16,
                               in_features=10,  # len(TRACK_FEATURES) of EncodeObjectTracks
                               hidden_dim=64, out_channels={{_base_.object_channels}},
                               temporal_layers=3, dropout=0.1)),
    cls_head=dict(type='GCNHead', num_classes={{_base_.num_classes}},
                  in_channels={{_base_.object_channels}}, dropout={{_base_.head_dropout}}))
