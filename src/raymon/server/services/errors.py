"""Errors the services raise, in the user's words; ``app.py`` maps each class to an HTTP status.

Services never build HTTP responses: they raise one of these and the app answers
``{"detail": message}`` with the status of the class (``status_code`` below is
that mapping, kept next to the class so a new error cannot forget it).
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: a request the backend understood but cannot carry out."""

    status_code = 400


class InvalidInputError(ServiceError, ValueError):
    """A value is malformed or out of range (the message names it)."""

    status_code = 422


class NotFoundError(ServiceError, LookupError):
    """The named project, key, user, trace or object does not exist (for this caller)."""

    status_code = 404


class ConflictError(ServiceError):
    """The thing to create exists already."""

    status_code = 409


class NotAuthenticatedError(ServiceError):
    """The credential given (a password, an invitation token) is not right."""

    status_code = 401


class PermissionDeniedError(ServiceError):
    """The caller is known but may not do this."""

    status_code = 403


class LimitExceededError(ServiceError):
    """A request is over a configured size limit (the message names the setting)."""

    status_code = 413


class TooManyAttemptsError(ServiceError):
    """Too many failed attempts (sign-ins): refused until ``retry_after`` seconds have passed."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
