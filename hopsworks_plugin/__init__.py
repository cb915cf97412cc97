"""Import paths of Hopsworks' original Airflow plugin, kept so old DAGs keep working.

New code imports from ``hopsworks_ui_plugin.operators.hopsworks`` and friends.
"""

from __future__ import annotations

import warnings

_warned: set[str] = set()


def warn_deprecated(old: str, new: str) -> None:
    """Warn once per process and module that an import path is deprecated."""
    if old in _warned:
        return
    _warned.add(old)
    warnings.warn(
        f"{old} is deprecated; import from {new} instead", DeprecationWarning, stacklevel=3
    )
