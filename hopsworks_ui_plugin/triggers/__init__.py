from hopsworks_ui_plugin.triggers.hopsworks import HopsworksExecutionTrigger

__all__ = ["HopsworksExecutionTrigger"]
