"""Legacy import path of the Hopsworks sensors."""

from hopsworks_plugin import warn_deprecated
from hopsworks_ui_plugin.sensors.hopsworks import (
    HopsworksDatasetSensor,
    HopsworksHdfsSensor,
    HopsworksJobFinishSensor,
    HopsworksJobSuccessSensor,
)

warn_deprecated(__name__, "hopsworks_ui_plugin.sensors.hopsworks")

__all__ = ["HopsworksDatasetSensor", "HopsworksHdfsSensor", "HopsworksJobFinishSensor", "HopsworksJobSuccessSensor"]
