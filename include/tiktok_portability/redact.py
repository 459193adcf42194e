"""Keep secrets out of logs, reprs and exception messages."""

from __future__ import annotations

import hashlib


class Secret:
    """Holds a secret string; every way of printing it shows a mask.

    Not a ``str`` on purpose: code must call ``reveal()`` at the one place the value goes on the
    wire, so an f-string or a log line can never leak it by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        self._value = str(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):  # pickling would write the plaintext somewhere we do not control
        raise TypeError("Secret values cannot be pickled")


def reveal(value: Secret | str | None) -> str | None:
    """The plaintext of a Secret, or the value itself."""
    return value.reveal() if isinstance(value, Secret) else value


def fingerprint(value: str, length: int = 10) -> str:
    """A short stable hash for logging an identifier (e.g. open_id) without printing it."""
    return hashlib.sha256(value.encode()).hexdigest()[:length]
