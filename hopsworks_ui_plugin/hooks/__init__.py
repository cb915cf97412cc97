from hopsworks_ui_plugin.hooks.hopsworks import HopsworksError, HopsworksHook

__all__ = ["HopsworksError", "HopsworksHook"]
