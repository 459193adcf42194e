"""The state store: grants with encrypted tokens, transfers, webhook events, watermarks, quota.

Names are imported on first use (PEP 562) so that importing a light submodule (the CLI,
the DAG files) does not pull in SQLAlchemy, pyarrow or httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiktok_portability._lazy import lazy_getattr

_EXPORTS: dict[str, str] = {
    "DuplicateTransfer": "tiktok_portability.state.errors",
    "GrantNotFound": "tiktok_portability.state.errors",
    "InvalidTransition": "tiktok_portability.state.errors",
    "KeyConfigError": "tiktok_portability.state.errors",
    "LockNotAcquired": "tiktok_portability.state.errors",
    "StateConfigError": "tiktok_portability.state.errors",
    "StateError": "tiktok_portability.state.errors",
    "TokenDecryptionError": "tiktok_portability.state.errors",
    "TransferNotFound": "tiktok_portability.state.errors",
    "ALLOWED": "tiktok_portability.state.transitions",
    "Grant": "tiktok_portability.state.models",
    "QuotaDecision": "tiktok_portability.state.models",
    "StateStore": "tiktok_portability.state.store",
    "TRANSFER_STATUSES": "tiktok_portability.state.transitions",
    "TokenCipher": "tiktok_portability.state.crypto",
    "Transfer": "tiktok_portability.state.models",
    "WebhookOutcome": "tiktok_portability.state.models",
    "default_url": "tiktok_portability.state.store",
    "generate_key": "tiktok_portability.state.crypto",
}

if TYPE_CHECKING:
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


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
