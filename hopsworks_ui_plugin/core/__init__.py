"""The flows behind the web pages, framework-neutral: they take plain values (a hook, a user's
:class:`~hopsworks_ui_plugin.access.ProjectAccess`, a dict of query arguments), return plain data for
a page to show, and raise :mod:`hopsworks_ui_plugin.errors` errors. Any UI (the FAB views today, a
FastAPI/React UI or Airflow 2's webserver later) reuses them unchanged.
"""
