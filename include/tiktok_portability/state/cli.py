"""CLI: ``state migrate|generate-key|rotate-keys``, ``grants import|list|reactivate|revoke``,
``transfers list``.

The store comes from ``--state-url`` or ``TIKTOK_STATE_URL``; keys only from ``TIKTOK_FERNET_KEYS``
(a key on the command line would be visible in the process list and shell history). The list
commands read statuses only and work without a key; commands that touch tokens need one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, timedelta
from typing import Any

from tiktok_portability.state.crypto import generate_key
from tiktok_portability.state.models import GRANT_STATUSES
from tiktok_portability.state.transitions import TRANSFER_STATUSES


def _store(args: argparse.Namespace, *, auto_migrate: bool = True):
    from tiktok_portability.state.store import URL_ENV, StateStore

    env = dict(os.environ)
    if args.state_url:
        env[URL_ENV] = args.state_url
    return StateStore.from_env(env, auto_migrate=auto_migrate)


def _add_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-url", default=None, help="SQLAlchemy URL (default: $TIKTOK_STATE_URL)")


def _time(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


def _print_table(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        print("(none)")
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in columns))


def _migrate(args: argparse.Namespace) -> int:
    store = _store(args, auto_migrate=False)
    print(f"state store at revision {store.migrate()}")
    return 0


def _generate_key(args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def _rotate_keys(args: argparse.Namespace) -> int:
    count = _store(args).rotate_keys()
    print(f"re-encrypted tokens of {count} grant(s) with the newest key")
    return 0


def _grants_import(args: argparse.Namespace) -> int:
    from tiktok_portability.state.importer import read_grants_file

    rows = read_grants_file(args.file, args.format)
    store = _store(args)
    for row in rows:
        store.upsert_grant(row.open_id, row.scopes, row)
        if row.data_format:
            store.set_grant_format(row.open_id, row.data_format)
    print(f"imported {len(rows)} grant(s)")
    return 0


def _grants_list(args: argparse.Namespace) -> int:
    from tiktok_portability.state.status import list_grant_statuses

    grants = list_grant_statuses(
        _store(args),
        status=args.status,
        reason=args.reason,
        reconsent_due=args.reconsent_due,
        reconsent_notice=timedelta(days=args.reconsent_days),
        limit=args.limit,
        after_open_id=args.after,
    )
    rows = [
        {
            "open_id": g.open_id,
            "status": g.status,
            "scopes": ",".join(g.scopes),
            "access_expires_at": _time(g.access_expires_at),
            "refresh_expires_at": _time(g.refresh_expires_at),
            "reconsent_due": "yes" if g.reconsent_due else "",
            "last_synced_at": _time(g.last_synced_at),
            "reason": g.status_reason or "",
        }
        for g in grants
    ]
    _print_table(rows, args.json)
    return 0


def _grants_reactivate(args: argparse.Namespace) -> int:
    store = _store(args)
    grant = store.get_grant(args.open_id)
    if grant.status != "ineligible":
        print(f"grant {grant.open_id} is {grant.status}, not ineligible: nothing to do", file=sys.stderr)
        return 1
    grant = store.mark_grant(args.open_id, "active", None)
    print(f"grant {grant.open_id} is {grant.status}: the next night asks TikTok for its export again")
    return 0


def _grants_revoke(args: argparse.Namespace) -> int:
    grant = _store(args).revoke_grant(args.open_id, args.reason)
    print(f"grant {grant.open_id} is {grant.status}")
    return 0


def _transfers_list(args: argparse.Namespace) -> int:
    from tiktok_portability.state.status import list_transfer_statuses

    transfers = list_transfer_statuses(
        _store(args),
        status=args.status,
        reason=args.reason,
        on_date=args.date,
        open_id=args.open_id,
        run_id=args.run_id,
        limit=args.limit,
    )
    rows = [
        {
            "id": t.id,
            "open_id": t.open_id,
            "run_id": t.run_id,
            "batch": "" if t.batch is None else t.batch,
            "request_id": "" if t.request_id is None else t.request_id,
            "status": t.status,
            "attempts": t.attempts,
            "updated_at": _time(t.updated_at),
            # What the normalizer could not type: a new TikTok layout shows here the first night.
            "other_records": _total(t.normalize_counts, "other_records"),
            "parse_errors": _total(t.normalize_counts, "record_errors"),
            "reason": t.failure_reason or "",
        }
        for t in transfers
    ]
    if args.json:  # and by section
        for row, t in zip(rows, transfers, strict=True):
            row["normalize_counts"] = t.normalize_counts
    _print_table(rows, args.json)
    return 0


def _total(counts: dict[str, dict[str, int]] | None, key: str) -> int | str:
    """Records of one kind over all sections; blank for a transfer not normalized (yet)."""
    return "" if counts is None else sum((counts.get(key) or {}).values())


def _webhooks_counts(args: argparse.Namespace) -> int:
    """Stored events per type, and signed deliveries that changed nothing by reason."""
    from tiktok_portability.state.store import WEBHOOK_IGNORED_REASONS

    store = _store(args)
    rows: list[dict[str, Any]] = [
        {"kind": "event", "name": event, "count": totals["stored"], "applied": totals["applied"]}
        for event, totals in sorted(store.webhook_event_totals().items())
    ]
    counts = store.webhook_counts()
    rows += [
        {"kind": "not used", "name": reason, "count": counts.get(reason, 0), "applied": ""}
        for reason in WEBHOOK_IGNORED_REASONS
    ]
    _print_table(rows, args.json)
    return 0


def register(subparsers: Any) -> None:
    state = subparsers.add_parser("state", help="state store administration")
    state_sub = state.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    p = state_sub.add_parser("migrate", help="create or upgrade the schema (Alembic)")
    _add_url(p)
    p.set_defaults(handler=_migrate)
    p = state_sub.add_parser("generate-key", help="print a new Fernet key for TIKTOK_FERNET_KEYS")
    p.set_defaults(handler=_generate_key)
    p = state_sub.add_parser("rotate-keys", help="re-encrypt all tokens with the newest key")
    _add_url(p)
    p.set_defaults(handler=_rotate_keys)

    grants = subparsers.add_parser("grants", help="users' grants and tokens")
    grants_sub = grants.add_subparsers(dest="grants_command", metavar="ACTION", required=True)
    p = grants_sub.add_parser("import", help="bulk onboarding from a CSV or JSON file with tokens")
    p.add_argument("file")
    p.add_argument("--format", choices=("csv", "json"), default=None, help="default: from the extension")
    _add_url(p)
    p.set_defaults(handler=_grants_import)
    p = grants_sub.add_parser("list", help="list grants")
    p.add_argument("--status", choices=GRANT_STATUSES, default=None)
    p.add_argument("--reason", default=None, help="reason category, e.g. needs_reauth")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--after", default=None, help="page: open_ids after this one")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--reconsent-due", action="store_true", help="only active grants whose refresh deadline is near"
    )
    p.add_argument(
        "--reconsent-days",
        type=int,
        default=14,
        help="days before the refresh deadline (fixed at consent) a grant is reconsent_due (default 14)",
    )
    _add_url(p)
    p.set_defaults(handler=_grants_list)
    p = grants_sub.add_parser(
        "reactivate",
        help="un-park an ineligible grant (the user says their account's region is now EEA/UK)",
    )
    p.add_argument("open_id")
    _add_url(p)
    p.set_defaults(handler=_grants_reactivate)
    p = grants_sub.add_parser("revoke", help="mark a grant revoked (stops syncs, wipes its tokens)")
    p.add_argument("open_id")
    p.add_argument("--reason", default="revoked by operator")
    _add_url(p)
    p.set_defaults(handler=_grants_revoke)

    transfers = subparsers.add_parser("transfers", help="data requests and their status")
    transfers_sub = transfers.add_subparsers(dest="transfers_command", metavar="ACTION", required=True)
    p = transfers_sub.add_parser("list", help="list transfers")
    p.add_argument("--status", choices=TRANSFER_STATUSES, default=None)
    p.add_argument("--reason", default=None, help="failure reason category, e.g. archive_corrupt")
    p.add_argument("--date", type=date.fromisoformat, default=None, help="the run's snapshot date")
    p.add_argument("--open-id", default=None)
    p.add_argument("--run-id", default=None)
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--json", action="store_true")
    _add_url(p)
    p.set_defaults(handler=_transfers_list)

    webhooks = subparsers.add_parser("webhooks", help="TikTok webhook deliveries the receiver got")
    webhooks_sub = webhooks.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)
    p = webhooks_sub.add_parser(
        "counts",
        help="events stored per type, and signed deliveries answered 200 that changed nothing, by reason",
    )
    p.add_argument("--json", action="store_true")
    _add_url(p)
    p.set_defaults(handler=_webhooks_counts)
