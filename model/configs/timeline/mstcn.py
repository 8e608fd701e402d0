# The timeline head of a recognizer package (jobs.train_timeline): MS-TCN over the package's
# per-step features, offline (centred) and online (causal), and the decoders after them.
custom_imports = dict(imports=['model.registry'], allow_failed_imports=False)

# Per-step features (model/inference/step_features.py): at every step_s the recognizer runs on
# the windows of windows_s that end there (0.13 s = 2 frames at 15 fps), features
# concatenated. 3.2 s is the recognizer's clip_len (48 frames) at 15 fps: its sampler then
# takes every frame once. `videos`: which videos of the train split the models learn from
# ('untrimmed': the ones with several segments), plus augmented_copies of their features with
# the recognizer's training augmentations (validation frame accuracy of the offline model:
# 0.926 without, 0.936 with one copy; online unchanged).
features = dict(windows_s=[3.2], step_s=0.13, batch_size=64, videos='untrimmed',
                augmented_copies=1)
# Classes left out of the segments when the edit score and F1@k are computed (MS-TCN's
# background); frame accuracy counts every frame.
background = ['idle']

# in_channels and num_classes are filled from the recognizer package when training.
offline_model = dict(type='MultiStageTCN', num_stages=2, num_layers=8, channels=64,
                     dropout=0.3, input_dropout=0.3, feature_noise=0.3, causal=False)
# The same network, causal, 6 layers per stage: a receptive field of 253 steps (33 s), the
# buffer a stream keeps.
online_model = dict(offline_model, num_layers=6, causal=True)

# Whole videos per batch; the epoch with the best validation frame accuracy is kept.
train_cfg = dict(epochs=60, batch_videos=8, lr=1e-3, weight_decay=1e-4, smooth_weight=0.15,
                 smooth_clip=4.0, seed=0)

# Decoder settings are chosen on the validation split from these grids (offline: the best
# mean of frame accuracy, edit and F1@50; online: the best frame accuracy whose median
# detection delay is at most max_median_delay_s).
# The online mode answers each step lag_s after it (a fixed lag: its causal model learns to
# name the step lag_s before the newest); the detection delays include the lag. Validation
# (frame accuracy / median detection delay): lag 0.4 s 0.793 / 1.07 s, 0.53 s 0.807 / 1.07 s,
# 0.67 s 0.826 / 1.07 s: the delay is set by when the evidence arrives, the lag buys accuracy.
decoder = dict(
    offline=dict(type='viterbi', switch_penalties=[0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]),
    online=dict(type='forward_filter', switch_probs=[None, 0.3, 0.1, 0.03, 0.01, 0.003],
                max_median_delay_s=1.0, lag_s=0.67))
