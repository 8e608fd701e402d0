# The product model: ST-GCN++ pose stream + object-set stream, pose attends to objects, and
# the object stream's own features reach the classifier too (with_object_features): on the
# validation split this lifted place_part / pack_box, which differ only in the objects.
_base_ = './workcell_base.py'

model = dict(
    type='PoseObjectRecognizer',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='PoseObjectBackbone', pose={{_base_.pose_backbone}},
                  objects={{_base_.object_backbone}}),
    neck=dict(type='CrossAttentionFusion', pose_channels={{_base_.pose_channels}},
              object_channels={{_base_.object_channels}}, embed_dim=128, num_heads=4,
              dropout=0.1, with_object_features=True),
    cls_head=dict(type='GCNHead', num_classes={{_base_.num_classes}},
                  # pose channels (128) + attention embed_dim (128) + object channels (128)
                  in_channels=384,
                  dropout={{_base_.head_dropout}}),
    aux_heads={{_base_.stream_aux_heads}},
    aux_loss_weight=0.5)
