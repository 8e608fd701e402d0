"""MMAction2 components of the recognizer: datasets, transforms, models and their configs."""

from model import mmaction_fix  # noqa: F401  (must run before anything imports mmaction)
