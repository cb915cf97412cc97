"""Example DAGs; the demo copies each into the DAG folder of its Hopsworks project."""
