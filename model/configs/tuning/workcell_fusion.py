# The Ray Tune search of `python -m jobs.tune` over the workcell recognizer: an MMEngine config
# read by tuning/space.py. Edit it, or override its keys from the command line, e.g.
#   python -m jobs.tune ... --cfg-options num_samples=32 trial_options.train_cfg.max_epochs=8
#
# `space`: one entry per tuned setting. The key is a key of the recognizer config, written as
# for `jobs.train --cfg-options` (a pipeline step may be named by its type instead of its index:
# `train_pipeline.RandomAffine2D.rotate_deg`), except `config`, which picks the recognizer
# config file itself (the fusion mode). The value names a Ray Tune sampling function
# (`ray.tune.<type>`) and its arguments: uniform, quniform, loguniform, qloguniform, randint,
# choice, grid_search.
_configs = 'model/configs/workcell/'
space = {
    # Fusion mode. Late fusion (fusion_late_stgcnpp.py) is left out: its classifier is two
    # stream heads, so `model.cls_head.dropout` below is not a key of it.
    'config': dict(type='choice', categories=[_configs + 'fusion_xattn_stgcnpp.py',
                                              _configs + 'fusion_concat_stgcnpp.py']),
    'optim_wrapper.optimizer.lr': dict(type='loguniform', lower=5e-4, upper=6e-3),
    'optim_wrapper.optimizer.weight_decay': dict(type='loguniform', lower=1e-5, upper=1e-2),
    'model.cls_head.dropout': dict(type='uniform', lower=0.2, upper=0.7),
    'model.backbone.objects.dropout': dict(type='uniform', lower=0.0, upper=0.3),
    # Window length (seconds of video per sample; the sampler keeps clip_len frames of it).
    'dataset.window_s': dict(type='choice', categories=[3.0, 4.0, 5.0]),
    # Augmentation strengths.
    'train_pipeline.RandomAffine2D.rotate_deg': dict(type='uniform', lower=0.0, upper=20.0),
    'train_pipeline.KeypointNoise.std': dict(type='uniform', lower=0.0, upper=0.06),
    'train_pipeline.JointDropout.prob': dict(type='uniform', lower=0.0, upper=0.15),
    'train_pipeline.ObjectDropout.prob': dict(type='uniform', lower=0.0, upper=0.3),
    # Model width: the object-set encoder's hidden width. (The pose stream's width is not
    # tuned: the heads' and fusion necks' input widths are written out in each config.)
    'model.backbone.objects.hidden_dim': dict(type='choice', categories=[32, 64, 128]),
}

# The budget of one trial, the same for every trial: recognizer config keys set in every trial.
# Within a trial nothing stops early (the scheduler does); the package selection keeps the
# best validation epoch, as jobs.train does.
trial_options = dict(train_cfg=dict(max_epochs=4, early_stop_patience=1000))

num_samples = 16
metric = 'val_macro_f1'     # reported by every epoch of the training loop
mode = 'max'
# ASHA (`ray.tune.schedulers.ASHAScheduler`) on the epoch count; `--no-early-stopping` runs
# every trial to the end (FIFO) instead. grace_period: epochs before a trial may be stopped.
scheduler = dict(type='ASHAScheduler', time_attr='epoch', grace_period=1, reduction_factor=2)
seed = 0                    # of the search algorithm's draws (Tune's random search)
