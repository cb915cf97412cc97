"""Legacy import path, see hopsworks_plugin."""
