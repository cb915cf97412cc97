from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator

__all__ = ["HopsworksLaunchOperator"]
