"""Loggers: where a trace's events go. All share ``RaymonLoggerBase``'s event building."""

from raymon.loggers.api import RaymonAPILogger
from raymon.loggers.base import RaymonLoggerBase
from raymon.loggers.batch import RaymonBatchLogger
from raymon.loggers.file import RaymonFileLogger

__all__ = ["RaymonLoggerBase", "RaymonAPILogger", "RaymonBatchLogger", "RaymonFileLogger"]
