# Ablation: the object stream alone. The samples hold the detector's output only (the dataset
# does not load the skeleton): boxes, classes, scores and tracks in image coordinates.
_base_ = './workcell_base.py'

dataset = dict(streams=('objects',))
train_pipeline = {{_base_.object_only_pipelines.train}}
val_pipeline = {{_base_.object_only_pipelines.val}}
test_pipeline = {{_base_.object_only_pipelines.test}}

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
