"""Raymon: observability for ML-powered systems.

The client API: ``Trace`` and ``Tag`` to log what a request did, the loggers
that send it (``RaymonFileLogger``, ``RaymonBatchLogger``, ``RaymonAPILogger``),
``raymon.types`` to wrap data objects and ``RaymonAPI`` to query the backend.

Importing ``raymon`` stays light (no NumPy, no pandas, no httpx): ``RaymonAPI``,
``ModelProfile`` and the components are loaded on first use (module
``__getattr__``); the profiling names need the ``profiles`` extra, and without
it the error says what to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    from raymon.api import RaymonAPI
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
    """Load ``RaymonAPI`` and the profiling names on first use: ``import raymon`` stays light.

    ``RaymonAPI`` brings httpx; the profiling names NumPy, pandas, SciPy and scikit-learn.
    """
    if name == "RaymonAPI":
        from raymon.api import RaymonAPI

        globals()[name] = RaymonAPI
        return RaymonAPI
    if name in _PROFILING_NAMES:
        from raymon import profiling

        value = getattr(profiling, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'raymon' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
