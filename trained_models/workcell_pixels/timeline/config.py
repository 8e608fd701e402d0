background = [
    'idle',
]
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'model.registry',
    ])
decoder = dict(
    offline=dict(
        switch_penalties=[
            0.0,
            1.0,
            2.0,
            4.0,
            8.0,
            16.0,
            32.0,
        ],
        switch_penalty=32.0,
        type='viterbi'),
    online=dict(
        lag_s=0.67,
        max_median_delay_s=1.0,
        switch_prob=None,
        switch_probs=[
            None,
            0.3,
            0.1,
            0.03,
            0.01,
            0.003,
        ],
        type='forward_filter'))
features = dict(
    augmented_copies=1,
    batch_size=64,
    step_s=0.13,
    videos='untrimmed',
    windows_s=[
        3.2,
    ])
offline_model = dict(
    causal=False,
    channels=64,
    dropout=0.3,
    feature_noise=0.3,
    in_channels=768,
    input_dropout=0.3,
    num_classes=11,
    num_layers=8,
    num_stages=2,
    type='MultiStageTCN')
online_model = dict(
    causal=True,
    channels=64,
    dropout=0.3,
    feature_noise=0.3,
    in_channels=768,
    input_dropout=0.3,
    num_classes=11,
    num_layers=6,
    num_stages=2,
    type='MultiStageTCN')
train_cfg = dict(
    batch_videos=8,
    epochs=60,
    lr=0.001,
    seed=0,
    smooth_clip=4.0,
    smooth_weight=0.15,
    weight_decay=0.0001)
