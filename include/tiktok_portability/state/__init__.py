"""The state store: grants with encrypted tokens, transfers, webhook events, watermarks, quota.

Names are imported on first use (PEP 562) so that importing a light submodule (the CLI,
the DAG files) does not pull in SQLAlchemy, pyarrow or httpx.
"""

from __future__ import annotations

from tiktok_portability._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    globals(),
    {
        "tiktok_portability.state.crypto": (
            "TokenCipher",
            "generate_key",
        ),
        "tiktok_portability.state.errors": (
            "DuplicateTransfer",
            "GrantNotFound",
            "InvalidTransition",
            "KeyConfigError",
            "LeaseLost",
            "LockNotAcquired",
            "StateConfigError",
            "StateError",
            "TokenDecryptionError",
            "TransferNotFound",
        ),
        "tiktok_portability.state.models": (
            "Grant",
            "QuotaDecision",
            "Transfer",
            "WebhookOutcome",
        ),
        "tiktok_portability.state.store": (
            "StateStore",
            "default_url",
        ),
        "tiktok_portability.state.transitions": (
            "ALLOWED",
            "TRANSFER_STATUSES",
        ),
    },
)
