"""Raymon: observability for ML-powered systems.

The client API: ``Trace`` and ``Tag`` to log what a request did, the loggers
that send it (``RaymonFileLogger``, ``RaymonBatchLogger``, ``RaymonAPILogger``),
``raymon.types`` to wrap data objects and ``RaymonAPI`` to query the backend.
"""

from raymon.api import RaymonAPI
from raymon.exceptions import (
    BackendUnavailableError,
    DataTypeError,
    DuplicateRefError,
    LoggerError,
    ObjectTooLargeError,
    RaymonError,
    TagError,
    WireFormatError,
)
from raymon.loggers import RaymonAPILogger, RaymonBatchLogger, RaymonFileLogger, RaymonLoggerBase
from raymon.profiling import ActualComponent, EvalComponent, InputComponent, ModelProfile, OutputComponent
from raymon.tags import Tag
from raymon.trace import Trace

__version__ = "0.1.0"

__all__ = [
    "Trace",
    "Tag",
    "RaymonAPI",
    "RaymonAPILogger",
    "RaymonBatchLogger",
    "RaymonFileLogger",
    "RaymonLoggerBase",
    "RaymonError",
    "TagError",
    "DataTypeError",
    "ObjectTooLargeError",
    "DuplicateRefError",
    "WireFormatError",
    "LoggerError",
    "BackendUnavailableError",
    "ModelProfile",
    "InputComponent",
    "OutputComponent",
    "ActualComponent",
    "EvalComponent",
]
