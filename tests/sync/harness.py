"""Build a real SyncRuntime (SQLite state, local lake, limiter) against the emulator fixture."""

from __future__ import annotations

from pathlib import Path

import duckdb
from cryptography.fernet import Fernet

from tiktok_portability.client import ClientConfig
from tiktok_portability.client.models import TokenSet
from tiktok_portability.lake import Lake
from tiktok_portability.quota import QuotaConfig, QuotaLimiter
from tiktok_portability.state import StateStore
from tiktok_portability.sync import SyncRuntime
from tiktok_portability.synth import SyntheticUser, UserSpec


def make_runtime(
    tmp_path: Path, emulator, *, quota: int = 1000, window_s: float = 60.0, fernet_key: str | None = None
) -> SyncRuntime:
    key = fernet_key or Fernet.generate_key().decode()
    store = StateStore.from_url(f"sqlite:///{tmp_path / 'state.db'}", fernet_keys=[key])
    return SyncRuntime(
        store=store,
        client_config=ClientConfig(
            client_key=emulator.client_key,
            client_secret=emulator.client_secret,
            base_url=emulator.base_url,
            max_retries=3,
            backoff_base_s=0.01,
            backoff_max_s=0.05,
            rate_limit_window_s=window_s,
        ),
        lake=Lake.from_uri(str(tmp_path / "lake")),
        limiter=QuotaLimiter(store, QuotaConfig(per_window=quota, window_s=window_s, safety_margin=0.0)),
        scratch_dir=str(tmp_path / "scratch"),
    )


def onboard(runtime: SyncRuntime, emulator, **spec) -> str:
    """Create an emulator user, consent, and store the grant as the OAuth callback would."""
    user = emulator.create_user(**spec)
    body = emulator.issue_tokens(user["open_id"])
    tokens = TokenSet.from_response(body)
    runtime.store.upsert_grant(user["open_id"], tokens.scopes, tokens)
    return user["open_id"]


def truth(emulator, open_id: str, version: int):
    u = emulator.user(open_id)
    u = u.get("user", u)
    spec = UserSpec(
        open_id=u["open_id"],
        seed=u["seed"],
        generation=u["generation"],
        txt_variant=u["txt_variant"],
        size=u["size"],
        target_bytes=u.get("target_bytes"),
    )
    return SyntheticUser(spec).snapshot(version)


def table_rows(lake_dir: Path, table: str, where: str = "true") -> list[tuple]:
    files = list((lake_dir / table).glob("*/*.parquet"))
    if not files:
        return []
    con = duckdb.connect()
    return con.execute(
        f"select * from read_parquet('{lake_dir / table}/*/*.parquet', hive_partitioning=true, "
        f"union_by_name=true) where {where}"
    ).fetchall()


def count(lake_dir: Path, table: str, where: str = "true") -> int:
    if not list((lake_dir / table).glob("*/*.parquet")):
        return 0
    con = duckdb.connect()
    return con.execute(
        f"select count(*) from read_parquet('{lake_dir / table}/*/*.parquet', hive_partitioning=true) "
        f"where {where}"
    ).fetchone()[0]
