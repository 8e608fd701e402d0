# Late fusion: one classifier per stream, class probabilities averaged.
_base_ = './workcell_base.py'

model = dict(
    type='PoseObjectRecognizer',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='PoseObjectBackbone', pose={{_base_.pose_backbone}},
                  objects={{_base_.object_backbone}}),
    cls_head=dict(
        type='LateFusionHead', num_classes={{_base_.num_classes}}, stream_loss_weight=0.5,
        stream_heads=dict(
            pose=dict(type='GCNHead', num_classes={{_base_.num_classes}},
                      in_channels={{_base_.pose_channels}}, dropout={{_base_.head_dropout}}),
            objects=dict(type='GCNHead', num_classes={{_base_.num_classes}},
                         in_channels={{_base_.object_channels}},
                         dropout={{_base_.head_dropout}}))))
