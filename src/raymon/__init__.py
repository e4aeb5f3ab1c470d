"""Raymon: observability for ML-powered systems.

The client API: ``Trace`` and ``Tag`` to log what a request did, the loggers
that send it (``RaymonFileLogger``, ``RaymonBatchLogger``, ``RaymonAPILogger``),
``raymon.types`` to wrap data objects and ``RaymonAPI`` to query the backend.

Importing ``raymon`` stays light (no NumPy, no pandas): ``ModelProfile`` and
the components are loaded on first use (module ``__getattr__``) and need the
``profiles`` extra; without it the error says what to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raymon.api import RaymonAPI
from raymon.exceptions import (
    BackendUnavailableError,
    ConfigurationError,
    DataTypeError,
    DuplicateRefError,
    LoggerError,
    ObjectTooLargeError,
    RaymonError,
    TagError,
    WireFormatError,
)
from raymon.loggers import RaymonAPILogger, RaymonBatchLogger, RaymonFileLogger, RaymonLoggerBase
from raymon.tags import Tag
from raymon.trace import Trace

if TYPE_CHECKING:
    from raymon.profiling import (
        ActualComponent,
        EvalComponent,
        InputComponent,
        ModelProfile,
        OutputComponent,
    )

_PROFILING_NAMES = ("ModelProfile", "InputComponent", "OutputComponent", "ActualComponent", "EvalComponent")

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
    "ConfigurationError",
    "BackendUnavailableError",
    "ModelProfile",
    "InputComponent",
    "OutputComponent",
    "ActualComponent",
    "EvalComponent",
]


def __getattr__(name: str) -> Any:
    """Load the profiling names on first use, so ``import raymon`` never imports NumPy or pandas."""
    if name in _PROFILING_NAMES:
        from raymon import profiling

        value = getattr(profiling, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'raymon' has no attribute {name!r}")
