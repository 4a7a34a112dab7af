"""Domain errors. Translated to exit codes, HTTP statuses or UI messages only at the edges."""

from __future__ import annotations


class TechkbError(Exception):
    """Base class of every error techkb raises on purpose."""


class ConfigError(TechkbError):
    """Settings, backend names or files given by the user are invalid."""


class MetadataError(TechkbError):
    """A contributors file, sidecar or front matter holds an unknown key or value."""


class ParseError(TechkbError):
    """A file could not be turned into text (corrupt, encrypted, too big, unsupported...)."""


class IngestError(TechkbError):
    """An ingest run could not proceed (store unavailable, root missing...)."""


class StoreError(TechkbError):
    """The vector store, keyword index or manifest failed or is inconsistent."""


class AccessError(TechkbError):
    """An identity is invalid or may not perform an action."""


class BackendError(TechkbError):
    """An answering backend (LLM server, local model) failed or is unreachable."""


class AuthError(TechkbError):
    """Credentials are missing, wrong or revoked (HTTP 401)."""


class NotFoundError(TechkbError):
    """Something does not exist or the identity may not know it exists (HTTP 404)."""


class ValidationError(TechkbError):
    """Input from a user or client is malformed (HTTP 422)."""


class PayloadTooLargeError(ValidationError):
    """An upload or request body is over the configured size limit (HTTP 413)."""


class ThrottledError(AuthError):
    """Too many failed sign-ins for a user name or from a client address (HTTP 429)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BusyError(TechkbError):
    """The server could not answer within its time budget; the caller may retry (HTTP 503)."""
