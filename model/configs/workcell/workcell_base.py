# Shared data, pipelines and schedule of the workcell recognizers (pose + objects).
# Experiment configs in this folder set `_base_ = './workcell_base.py'` and define `model`; the
# ablations also set their own `dataset.streams` and pipelines. Nothing here is copied into a
# data loader, so a child's override of a pipeline takes effect.
custom_imports = dict(imports=['model.registry'], allow_failed_imports=False)
default_scope = 'mmaction'

num_classes = 11          # action classes of the feature table (checked when training)
num_object_classes = 8    # object classes of the feature table (checked when training)
clip_len = 48
feature_table = 'data/workcell/features'   # jobs override it with --table

# Windows cut from the Parquet feature table at load time (model/datasets/window_dataset.py).
# `streams` says what a sample holds: both here; the ablations load only their own stream.
dataset = dict(type='FeatureTableDataset', window_s=4.0, stride_s=2.0, num_person=1,
               min_frames=4, streams=('pose', 'objects'))

# The fused models' pipelines: both streams in the operator's body frame, the objects also
# relative to the wrists (EncodeObjects). Train, val and test differ only in sampling (random;
# 1 clip; 5 clips) and in the training augmentations.
_decode = [
    dict(type='PoseDecode'),
    dict(type='ObjectDecode'),
    dict(type='PersonCentricNormalize', min_score=0.05),
]
_format = [
    dict(type='EncodeObjects'),
    dict(type='ZeroMissingJoints'),
    dict(type='GenSkeFeat', dataset='coco', feats=['j']),
    dict(type='FormatGCNInput', num_person=1),
    dict(type='FormatObjectInput'),
    dict(type='PackActionInputs', collect_keys=('keypoint', 'objects', 'object_classes'),
         meta_keys=('video_id', 'frame_range', 'img_shape')),
]
train_pipeline = [
    dict(type='TemporalSpeedJitter', ratio=(0.7, 1.0), prob=0.8),
    dict(type='UniformSampleFrames', clip_len=clip_len),
    *_decode,
    dict(type='RandomFlipLR', prob=0.5),
    dict(type='RandomAffine2D', scale=(0.85, 1.15), rotate_deg=12.0, shift=0.15),
    dict(type='KeypointNoise', std=0.03),
    dict(type='JointDropout', prob=0.06, max_span=0.6),
    dict(type='ObjectDropout', prob=0.15),
    dict(type='InjectFalseObjects', num_classes=num_object_classes, prob=0.1),
    *_format,
]
val_pipeline = [
    dict(type='UniformSampleFrames', clip_len=clip_len, num_clips=1, test_mode=True),
    *_decode,
    *_format,
]
test_pipeline = [
    dict(type='UniformSampleFrames', clip_len=clip_len, num_clips=5, test_mode=True),
    *_decode,
    *_format,
]

data_preprocessor = dict(
    type='MultiModalDataPreprocessor',
    preprocessors=dict(
        keypoint=dict(type='ActionDataPreprocessor'),
        objects=dict(type='ActionDataPreprocessor'),
        object_classes=dict(type='ActionDataPreprocessor', to_float32=False)))

# The ST-GCN++ setting of MMAction2's STGCN (configs/skeleton/stgcnpp), narrower for CPUs.
pose_backbone = dict(
    type='STGCN', gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn',
    graph_cfg=dict(layout='coco', mode='spatial'), base_channels=32)
pose_channels = 128       # base_channels x 4 after the two inflating stages
object_backbone = dict(type='ObjectSetEncoder', num_classes=num_object_classes, embed_dim=16,
                       in_features=24,  # len(OBJECT_FEATURES) of EncodeObjects
                       hidden_dim=64, out_channels=128, temporal_layers=3, dropout=0.1)
object_channels = 128
head_dropout = 0.5
# Training-only classifiers of each stream (PoseObjectRecognizer.aux_heads) for fused models.
stream_aux_heads = dict(
    pose=dict(type='GCNHead', num_classes=num_classes, in_channels=pose_channels,
              dropout=head_dropout),
    objects=dict(type='GCNHead', num_classes=num_classes, in_channels=object_channels,
                 dropout=head_dropout))

train_cfg = dict(
    max_epochs=40,
    batch_size=16,
    num_workers=0,             # data-loader processes per training worker
    selection='best_val',      # package the epoch with the best validation macro-F1 ...
    early_stop_patience=12,    # ... and stop after this many epochs without a better one
    class_balance_power=1.0,   # class weights (N / (K n_c)) ** power in the loss; 0 = off
    amp=True,                  # mixed precision when the worker has a GPU
)
val_cfg = dict(batch_size=32)
# AdamW: with batches of 16 on CPUs it converged faster than ST-GCN++'s SGD (lr 0.1 for
# batches of 128), which diverged in the first epochs here.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=2,
         convert_to_iter_based=True),
]
seed = 0
