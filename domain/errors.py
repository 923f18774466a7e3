"""Domain errors. The API maps each kind to one HTTP status in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain or the services raise on purpose."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str | None]:
        return {"error": self.code, "message": self.message, "field": self.field}


class Invalid(DomainError):
    """A value breaks a rule (type, range, cross-field rule). Names the field."""

    status = 422
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Conflict(DomainError):
    """The request contradicts the current state (duplicate name, wrong lifecycle state)."""

    status = 409
    code = "conflict"


class ConcurrencyConflict(Conflict):
    """Another writer appended to the stream first: expected version did not match."""

    code = "concurrency_conflict"

    def __init__(self, stream_id: str, expected_version: int, actual_version: int | None = None) -> None:
        super().__init__(
            f"stream {stream_id!r} is not at version {expected_version}"
            + (f" (it is at {actual_version})" if actual_version is not None else ""),
            field="expected_version",
        )
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version


class TooLarge(DomainError):
    status = 413
    code = "too_large"


class Unavailable(DomainError):
    """The deployment lacks what the request needs (e.g. no job runner configured)."""

    status = 503
    code = "not_configured"
