# Ablation: the object stream alone (objects encoded relative to the operator's body).
_base_ = './workcell_base.py'

model = dict(
    type='PoseObjectRecognizer',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='PoseObjectBackbone', objects={{_base_.object_backbone}}),
    cls_head=dict(type='GCNHead', num_classes={{_base_.num_classes}},
                  in_channels={{_base_.object_channels}}, dropout={{_base_.head_dropout}}))
