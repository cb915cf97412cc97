"""Legacy import path of HopsworksLaunchOperator."""

from hopsworks_plugin import warn_deprecated
from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator

warn_deprecated(__name__, "hopsworks_ui_plugin.operators.hopsworks")

__all__ = ["HopsworksLaunchOperator"]
