"""The state store: grants with encrypted tokens, transfers, webhook events, watermarks, quota."""

from __future__ import annotations

from tiktok_portability.state.crypto import TokenCipher, generate_key
from tiktok_portability.state.errors import (
    DuplicateTransfer,
    GrantNotFound,
    InvalidTransition,
    KeyConfigError,
    LockNotAcquired,
    StateConfigError,
    StateError,
    TokenDecryptionError,
    TransferNotFound,
)
from tiktok_portability.state.models import Grant, QuotaDecision, Transfer, WebhookOutcome
from tiktok_portability.state.store import StateStore, default_url
from tiktok_portability.state.transitions import ALLOWED, TRANSFER_STATUSES

__all__ = [
    "ALLOWED",
    "TRANSFER_STATUSES",
    "DuplicateTransfer",
    "Grant",
    "GrantNotFound",
    "InvalidTransition",
    "KeyConfigError",
    "LockNotAcquired",
    "QuotaDecision",
    "StateConfigError",
    "StateError",
    "StateStore",
    "TokenCipher",
    "TokenDecryptionError",
    "Transfer",
    "TransferNotFound",
    "WebhookOutcome",
    "default_url",
    "generate_key",
]
