"""Registers every MMAction2 component of this project; the configs import it.

Importing this module fills MMAction2's registries (its own models, datasets and transforms,
and ours). Configs name it in ``custom_imports`` so that building any of them works from any
entry point; ``model/__init__.py`` has already installed the mmaction2 packaging fix.
"""

import mmaction.datasets  # noqa: F401
import mmaction.models  # noqa: F401

from model.datasets import window_dataset  # noqa: F401
from model.networks import (  # noqa: F401
    fusion,
    late_fusion_head,
    ms_tcn,
    object_encoder,
    recognizer,
)
from model.transforms import augment, normalize, objects, temporal  # noqa: F401
