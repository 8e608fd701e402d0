"""Work around a packaging bug in the MMAction2 1.2.0 wheel.

The PyPI wheel of mmaction2 1.2.0 ships without the package ``mmaction/models/localizers/drn``,
yet ``mmaction/models/localizers/__init__.py`` imports it, so ``import mmaction.models`` raises
``ModuleNotFoundError``. A failed first import also leaves MMAction2's registries half-filled,
so the substitute must be in ``sys.modules`` before anything imports ``mmaction.models``. This
module is imported first by the ``model`` package, which every entry point imports.

DRN (a temporal grounding localizer) is not used by this project; the substitute only makes the
import succeed and raises if anyone tries to build it.

Remove this module when a mmaction2 release (> 1.2.0) ships ``localizers/drn`` again.
"""

import sys
import types

_DRN_PACKAGE = "mmaction.models.localizers.drn"


class DRN:
    """Stand-in for the DRN localizer missing from the mmaction2 1.2.0 wheel."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError(
            "DRN is missing from the mmaction2 1.2.0 wheel; see model/mmaction_fix.py")


def install() -> None:
    """Register the substitute DRN modules unless a real one is importable."""
    if _DRN_PACKAGE in sys.modules:
        return
    package = types.ModuleType(_DRN_PACKAGE)
    package.__path__ = []
    module = types.ModuleType(f"{_DRN_PACKAGE}.drn")
    module.DRN = DRN
    package.DRN = DRN
    package.drn = module
    sys.modules[_DRN_PACKAGE] = package
    sys.modules[f"{_DRN_PACKAGE}.drn"] = module


install()
