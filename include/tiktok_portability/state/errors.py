"""Errors raised by the state store; every message names the row and what is wrong."""

from __future__ import annotations


class StateError(Exception):
    """Base class for state store errors."""


class StateConfigError(StateError):
    """The store cannot be built from the given URL, keys or environment."""


class KeyConfigError(StateConfigError):
    """No Fernet key, or a key that is not a valid Fernet key."""


class TokenDecryptionError(StateError):
    """A stored token cannot be decrypted with any configured key."""


class GrantNotFound(StateError):
    """No grant row for the open_id."""


class TransferNotFound(StateError):
    """No transfer row for the id or request_id."""


class DuplicateTransfer(StateError):
    """A transfer with this request_id already exists for another user."""


class InvalidTransition(StateError):
    """A transfer status change that the transition table does not allow."""

    def __init__(self, transfer_id: int, from_status: str, to_status: str, detail: str = "") -> None:
        self.transfer_id = transfer_id
        self.from_status = from_status
        self.to_status = to_status
        extra = f": {detail}" if detail else ""
        super().__init__(
            f"transfer {transfer_id}: transition {from_status} -> {to_status} is not allowed{extra}"
        )


class LockNotAcquired(StateError):
    """Another worker holds the grant's refresh lease and did not release it in time."""


class LeaseLost(StateError):
    """A write fenced by the refresh lease came from a worker that no longer holds it."""
