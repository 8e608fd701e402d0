# Ablation: the pose stream alone (MMAction2's ST-GCN++ with a GCNHead). The samples hold no
# detector output: the dataset loads the pose stream only.
_base_ = './workcell_base.py'

dataset = dict(streams=('pose',))
train_pipeline = {{_base_.pose_only_pipelines.train}}
val_pipeline = {{_base_.pose_only_pipelines.val}}
test_pipeline = {{_base_.pose_only_pipelines.test}}

model = dict(
    type='PoseObjectRecognizer',
    data_preprocessor=dict(type='MultiModalDataPreprocessor',
                           preprocessors=dict(keypoint=dict(type='ActionDataPreprocessor'))),
    backbone=dict(type='PoseObjectBackbone', pose={{_base_.pose_backbone}}),
    cls_head=dict(type='GCNHead', num_classes={{_base_.num_classes}},
                  in_channels={{_base_.pose_channels}}, dropout={{_base_.head_dropout}}))
