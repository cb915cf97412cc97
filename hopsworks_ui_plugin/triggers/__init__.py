from hopsworks_ui_plugin.triggers.hopsworks import HopsworksDatasetTrigger, HopsworksExecutionTrigger

__all__ = ["HopsworksDatasetTrigger", "HopsworksExecutionTrigger"]
