# Feature concatenation of the pose and object streams at each time step.
_base_ = './workcell_base.py'

model = dict(
    type='PoseObjectRecognizer',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='PoseObjectBackbone', pose={{_base_.pose_backbone}},
                  objects={{_base_.object_backbone}}),
    neck=dict(type='ConcatFusion'),
    cls_head=dict(type='GCNHead', num_classes={{_base_.num_classes}},
                  in_channels=256,  # pose channels (128) + object channels (128)
                  dropout={{_base_.head_dropout}}),
    aux_heads={{_base_.stream_aux_heads}},
    aux_loss_weight=0.5)
