"""``python -m bench.without_plugin <airflow args>``: Airflow's CLI with this package hidden, as if it
were not installed (for the cold-start benchmark).

Airflow finds plugins and providers through entry points (``airflow.plugins``,
``apache_airflow_provider``) read from ``importlib.metadata.distributions()``. This launcher filters
this package's distribution out of that listing before Airflow imports anything, so neither entry
point exists; nothing else changes (same venv, same home, same DB, same plugins folder).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

HIDDEN = "hopsworks-airflow-plugin"


def _canonical(name: str | None) -> str:
    return (name or "").lower().replace("_", "-").replace(".", "-")


def _hiding(listing: Callable[..., Any]) -> Callable[..., Iterator[Any]]:
    def visible(**kwargs: Any) -> Iterator[Any]:
        for dist in listing(**kwargs):
            if _canonical(dist.metadata["Name"]) != HIDDEN:
                yield dist

    return visible


# Airflow reads entry points through importlib.metadata, or the importlib_metadata backport before 3.12.
for _name in ("importlib.metadata", "importlib_metadata"):
    try:
        _module = importlib.import_module(_name)
    except ImportError:
        continue
    _module.distributions = _hiding(_module.distributions)  # type: ignore[attr-defined]

if __name__ == "__main__":
    from airflow.__main__ import main

    sys.argv[0] = "airflow"
    sys.exit(main())
