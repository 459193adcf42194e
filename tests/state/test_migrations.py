"""Migrations: the packaged Alembic scripts build exactly the schema the store queries, on both backends."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from tests.state.stores import KEY_A
from tiktok_portability.state import StateStore, migrations
from tiktok_portability.state.tables import metadata

EXPECTED_TABLES = {
    "alembic_version",
    "grants",
    "transfers",
    "webhook_events",
    "webhook_counters",
    "watermarks",
    "quota_buckets",
    "quota_calls",
    "quota_usage",
    "sync_runs",
    "sync_batches",
    "oauth_states",
}


def test_head_revision_constant_matches_alembic_head():
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    assert ScriptDirectory.from_config(config).get_current_head() == migrations.HEAD_REVISION


def test_a_new_store_migrates_an_empty_database_to_head(fresh_store_url):
    store = StateStore.from_url(fresh_store_url, fernet_keys=[KEY_A])
    assert store.current_revision() == migrations.HEAD_REVISION
    assert set(sa.inspect(store.engine).get_table_names()) == EXPECTED_TABLES
    store.close()


def test_migrated_schema_matches_the_tables_the_store_queries(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_without_auto_migrate_nothing_is_created_until_migrate_runs(fresh_store_url):
    store = StateStore.from_url(fresh_store_url, fernet_keys=[KEY_A], auto_migrate=False)
    assert store.current_revision() is None
    assert store.migrate() == migrations.HEAD_REVISION
    assert store.migrate() == migrations.HEAD_REVISION  # idempotent
    store.close()


def test_downgrade_to_base_and_upgrade_again(store):
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(sa.inspect(store.engine).get_table_names()) <= {"alembic_version"}
    store.migrate()
    assert set(sa.inspect(store.engine).get_table_names()) == EXPECTED_TABLES


def test_concurrent_first_use_from_several_workers_migrates_once(fresh_store_url):
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            StateStore.from_url(fresh_store_url, fernet_keys=[KEY_A]).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = StateStore.from_url(fresh_store_url, fernet_keys=[KEY_A])
    assert store.current_revision() == migrations.HEAD_REVISION
    store.close()
