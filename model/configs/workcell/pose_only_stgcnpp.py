# Ablation: the pose stream alone (MMAction2's ST-GCN++ with a GCNHead).
_base_ = './workcell_base.py'

model = dict(
    type='PoseObjectRecognizer',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='PoseObjectBackbone', pose={{_base_.pose_backbone}}),
    cls_head=dict(type='GCNHead', num_classes={{_base_.num_classes}},
                  in_channels={{_base_.pose_channels}}, dropout={{_base_.head_dropout}}))
