"""``python -m hopsworks_ui_plugin.fake_hopsworks --seed demo --port 0``."""

from .server import main

raise SystemExit(main())
