"""Errors the emulator answers with, in TikTok's two envelopes (API and OAuth)."""

from __future__ import annotations


class EmulatorError(Exception):
    """Base of every error raised inside the emulator."""


class ApiError(EmulatorError):
    """An error answered in the v2 API envelope ``{"data": {}, "error": {...}}``."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def invalid_params(message: str) -> ApiError:
    return ApiError("invalid_params", message, 400)


def access_token_invalid(
    message: str = "The access token is invalid or not found in the request.",
) -> ApiError:
    return ApiError("access_token_invalid", message, 401)


def scope_not_authorized(message: str) -> ApiError:
    return ApiError("scope_not_authorized", message, 401)


def rate_limit_exceeded() -> ApiError:
    return ApiError("rate_limit_exceeded", "The API rate limit was exceeded.", 429)


def internal_error(
    message: str = "Something went wrong. Please try again later.", status: int = 500
) -> ApiError:
    return ApiError("internal_error", message, status)


class OAuthError(EmulatorError):
    """An error answered in the OAuth envelope ``{"error", "error_description", "log_id"}``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


class AdminError(EmulatorError):
    """A bad call to the ``/_admin`` surface (answered as plain JSON ``{"detail": ...}``)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
