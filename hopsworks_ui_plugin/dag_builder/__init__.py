"""The DAG builder, framework-neutral: a DAG described as data (:mod:`.model`), checked
(:mod:`.validate`), written as an Airflow 3 DAG file (:mod:`.codegen`) and read back from one
(:mod:`.parse`). The flows around it (save through the upload checks, open, change) are in
:mod:`hopsworks_ui_plugin.core.builder`; the page in :mod:`hopsworks_ui_plugin.views.builder`.
"""
