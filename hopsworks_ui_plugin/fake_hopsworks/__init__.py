"""A stdlib-only fake of the Hopsworks REST API (projects, jobs, executions, logs) for tests and demos."""

from .server import FakeHopsworks, RecordedRequest, main
from .state import FakeClock, load_seed

__all__ = ["FakeClock", "FakeHopsworks", "RecordedRequest", "load_seed", "main"]
