"""Legacy import path of HopsworksHook."""

from hopsworks_plugin import warn_deprecated
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksError, HopsworksHook

warn_deprecated(__name__, "hopsworks_ui_plugin.hooks.hopsworks")

__all__ = ["HopsworksError", "HopsworksHook"]
