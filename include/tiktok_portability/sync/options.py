"""What one sync run is asked to do: validated from DAG params, the CLI or the benchmark."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from tiktok_portability.scopes import CATEGORIES, ScopeError, validate_categories

# Airflow refuses to map more than core.max_map_length (1,024 by default) instances.
MAX_BATCHES = 1024
_OPEN_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class OptionsError(ValueError):
    """A sync option that is missing or malformed; the message names the option."""


@dataclass(frozen=True)
class WaitSettings:
    """How a batch waits for its exports: webhooks first, Check Status as the fallback.

    Check Status is called for a transfer only when webhooks are off or its webhook has not come
    within ``webhook_grace_s``; rounds back off from ``min_interval_s`` to ``max_interval_s``;
    at most ``concurrency`` checks run at once. Plain values only: a trigger serializes them.
    """

    webhooks_enabled: bool = False
    webhook_grace_s: float = 300.0
    min_interval_s: float = 5.0
    max_interval_s: float = 60.0
    concurrency: int = 8

    def __post_init__(self) -> None:
        for name in ("webhook_grace_s", "min_interval_s", "max_interval_s"):
            if not getattr(self, name) >= 0:
                raise OptionsError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.concurrency < 1:
            raise OptionsError(f"concurrency must be >= 1, got {self.concurrency!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SyncOptions:
    """Options of one sync run.

    ``open_ids`` narrows the run to chosen users (Ops re-sync); ``retry_failed`` to the users whose
    latest transfer of the snapshot date failed (with ``open_ids``: those among them that failed);
    ``categories`` narrows what is
    requested (intersected with what each user's ongoing scopes allow); ``reprocess_from_raw``
    rebuilds the lake for the snapshot date from the raw zone without calling TikTok;
    ``dry_run`` plans and reports without calling TikTok or writing the lake.
    """

    batch_size: int = 500
    open_ids: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    data_format: str = "json"
    reprocess_from_raw: bool = False
    retry_failed: bool = False
    dry_run: bool = False
    max_failure_rate: float = 0.2
    wait_deadline: timedelta = timedelta(hours=6)
    poll_interval_s: float = 60.0
    webhook_grace_s: float = 300.0
    webhooks_enabled: bool = False
    token_horizon: timedelta = timedelta(minutes=30)
    concurrency: int = 8
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= 100_000:
            raise OptionsError(f"batch_size must be an integer from 1 to 100000, got {self.batch_size!r}")
        if self.data_format not in ("json", "text"):
            raise OptionsError(f"data_format must be 'json' or 'text', got {self.data_format!r}")
        if not 0.0 <= self.max_failure_rate <= 1.0:
            raise OptionsError(f"max_failure_rate must be between 0 and 1, got {self.max_failure_rate!r}")
        if self.open_ids is not None:
            bad = [o for o in self.open_ids if not isinstance(o, str) or not _OPEN_ID.match(o)]
            if bad:
                raise OptionsError(f"open_ids holds values that are not open_ids: {bad[:5]!r}")
        if self.categories is not None:
            try:
                validate_categories(self.categories)
            except ScopeError as exc:
                raise OptionsError(f"categories: {exc}") from None
        if self.retry_failed and self.reprocess_from_raw:
            raise OptionsError(
                "retry_failed re-syncs failed users from TikTok; it cannot be combined with "
                "reprocess_from_raw (a backfill run rebuilds from the raw zone)"
            )
        if self.concurrency < 1:
            raise OptionsError(f"concurrency must be >= 1, got {self.concurrency!r}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SyncOptions:
        """Build from Airflow DAG params / CLI flags; empty lists mean 'no filter'."""

        def _list(name: str) -> tuple[str, ...] | None:
            value = params.get(name)
            if value in (None, "", []):
                return None
            if isinstance(value, str):
                value = [v for v in re.split(r"[,\s]+", value) if v]
            if not isinstance(value, Sequence):
                raise OptionsError(f"{name} must be a list of strings, got {type(value).__name__}")
            return tuple(str(v).strip() for v in value if str(v).strip()) or None

        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        kwargs: dict[str, Any] = {}
        for name in known:
            if name in params and params[name] is not None:
                kwargs[name] = params[name]
        kwargs["open_ids"] = _list("open_ids")
        kwargs["categories"] = _list("categories")
        for name in ("wait_deadline", "token_horizon"):
            if name in params and isinstance(params[name], int | float):
                kwargs[name] = timedelta(seconds=float(params[name]))
        for name in ("batch_size", "concurrency"):
            if name in kwargs:
                try:
                    kwargs[name] = int(kwargs[name])
                except (TypeError, ValueError):
                    raise OptionsError(f"{name} must be an integer, got {kwargs[name]!r}") from None
        return cls(**kwargs)

    def wait_settings(self) -> WaitSettings:
        """The wait as these options ask for it (``poll_interval_s`` is the longest pause)."""
        return WaitSettings(
            webhooks_enabled=self.webhooks_enabled,
            webhook_grace_s=self.webhook_grace_s,
            min_interval_s=min(self.poll_interval_s, 5.0),
            max_interval_s=self.poll_interval_s,
            concurrency=self.concurrency,
        )

    def requested_categories(self, allowed: Sequence[str]) -> list[str]:
        """What to request for a user whose ongoing scopes allow ``allowed`` (canonical order)."""
        if not allowed:
            return []
        if self.categories is None:
            return list(allowed)
        wanted = validate_categories(self.categories)
        if "all_data" in allowed:
            # An all-scope covers every category; an explicit narrower choice is honoured.
            return wanted
        if wanted == ["all_data"]:
            return list(allowed)
        return [c for c in CATEGORIES if c in wanted and c in allowed]


def parse_snapshot_date(value: str | date) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise OptionsError(f"snapshot_date must be YYYY-MM-DD, got {value!r}") from None
