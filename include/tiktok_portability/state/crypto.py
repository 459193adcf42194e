"""Token encryption at rest: Fernet with key rotation (MultiFernet).

Keys never live in the database: they come from ``TIKTOK_FERNET_KEYS`` (comma-separated, newest
first) or from the Airflow Connection's extra. The newest key encrypts; every key decrypts, so a
new key can be put in front and ``StateStore.rotate_keys()`` re-encrypts the rows at leisure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tiktok_portability.redact import Secret
from tiktok_portability.state.errors import KeyConfigError, TokenDecryptionError

log = logging.getLogger(__name__)

KEYS_ENV = "TIKTOK_FERNET_KEYS"


def parse_keys(value: str | Iterable[str | Secret] | None) -> list[str]:
    """Keys from a comma-separated string or a list, blanks dropped, order (newest first) kept."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        key = item.reveal() if isinstance(item, Secret) else str(item)
        key = key.strip()
        if key:
            out.append(key)
    return out


def generate_key() -> str:
    """A fresh Fernet key (url-safe base64, 32 bytes)."""
    return Fernet.generate_key().decode()


class TokenCipher:
    """Encrypts and decrypts token strings; knows nothing about rows."""

    def __init__(self, keys: Sequence[str | Secret] | str) -> None:
        parsed = parse_keys(keys)
        if not parsed:
            raise KeyConfigError(
                f"no Fernet key configured: set {KEYS_ENV} (comma-separated, newest first) or the "
                "connection extra 'fernet_keys'; generate one with `tiktok-portability state generate-key`"
            )
        fernets = []
        for index, key in enumerate(parsed):
            try:
                fernets.append(Fernet(key.encode()))
            except (ValueError, TypeError):
                # The key itself must not appear in the message; its position is enough to find it.
                raise KeyConfigError(
                    f"Fernet key #{index + 1} of {len(parsed)} is not a valid key "
                    "(expected 32 url-safe base64-encoded bytes)"
                ) from None
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    def encrypt(self, value: Secret | str) -> str:
        plaintext = value.reveal() if isinstance(value, Secret) else value
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str, *, what: str) -> Secret:
        try:
            return Secret(self._fernet.decrypt(ciphertext.encode()).decode())
        except InvalidToken:
            raise TokenDecryptionError(
                f"{what} cannot be decrypted with any of the {self.key_count} configured key(s); "
                "was a key removed before rotate_keys() ran?"
            ) from None

    def rotate(self, ciphertext: str, *, what: str) -> str:
        """Re-encrypt with the newest key (MultiFernet.rotate)."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise TokenDecryptionError(
                f"{what} cannot be decrypted with any of the {self.key_count} configured key(s)"
            ) from None

    def __repr__(self) -> str:
        return f"TokenCipher(keys={self.key_count})"


def optional_cipher(keys: str | Sequence[str | Secret] | None) -> TokenCipher | None:
    """A cipher on ``keys``, or None when none is configured (a store that only reads statuses).

    Keys that are given but invalid still raise KeyConfigError: a typo must not pass as "no key".
    """
    return TokenCipher(keys) if parse_keys(keys) else None
