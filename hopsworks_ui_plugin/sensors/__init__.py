from hopsworks_ui_plugin.sensors.hopsworks import HopsworksJobFinishSensor, HopsworksJobSuccessSensor

__all__ = ["HopsworksJobFinishSensor", "HopsworksJobSuccessSensor"]
