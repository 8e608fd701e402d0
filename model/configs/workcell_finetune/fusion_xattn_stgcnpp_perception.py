# The product model fine-tuned for features that come from perception (issue: pixels to
# actions): it starts from the shipped recognizer (trained on annotation features) and trains
# on the annotation table together with the same videos' features extracted from their MP4s
# with the shipped detector and pose model (jobs.extract --config
# model/configs/extraction/workcell.py --splits train val). The epoch is chosen on the
# validation windows of both tables; the test split is never read here.
#   python -m jobs.train \
#       --config model/configs/workcell_finetune/fusion_xattn_stgcnpp_perception.py \
#       --table data/workcell/features --work-dir outputs/perception
_base_ = '../workcell/fusion_xattn_stgcnpp.py'

extracted_table = 'data/workcell/extracted-train-val'
dataset = dict(extra_tables=(extracted_table, ))
load_from = 'trained_models/workcell/weights.pth'

# A fine-tuning schedule: a shorter warm-up and a lower peak than training from scratch.
train_cfg = dict(max_epochs=12, early_stop_patience=5)
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
         convert_to_iter_based=True),
]
