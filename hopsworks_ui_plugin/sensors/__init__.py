from hopsworks_ui_plugin.sensors.hopsworks import (
    HopsworksDatasetSensor,
    HopsworksHdfsSensor,
    HopsworksJobFinishSensor,
    HopsworksJobSuccessSensor,
)

__all__ = ["HopsworksDatasetSensor", "HopsworksHdfsSensor", "HopsworksJobFinishSensor", "HopsworksJobSuccessSensor"]
