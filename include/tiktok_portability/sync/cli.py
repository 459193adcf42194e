"""``tiktok-portability sync run``: one whole sync outside Airflow (scripts, smoke tests)."""

from __future__ import annotations

import argparse
import json
import os
from datetime import date


def register(subparsers: argparse._SubParsersAction) -> None:
    sync = subparsers.add_parser("sync", help="run the ongoing sync without Airflow")
    sub = sync.add_subparsers(dest="sync_command", metavar="SUBCOMMAND")
    run = sub.add_parser("run", help="plan, submit, wait, download and normalize every due user")
    run.add_argument("--lake", default=os.environ.get("TIKTOK_LAKE_URI", "./lake"), help="lake URI")
    run.add_argument("--state-url", default=os.environ.get("TIKTOK_STATE_URL"), help="state store URL")
    run.add_argument(
        "--base-url", default=os.environ.get("TIKTOK_API_BASE_URL", "https://open.tiktokapis.com")
    )
    run.add_argument("--client-key", default=os.environ.get("TIKTOK_CLIENT_KEY"))
    run.add_argument(
        "--client-secret-env",
        default="TIKTOK_CLIENT_SECRET",
        help="name of the environment variable holding the client secret (never a flag)",
    )
    run.add_argument("--run-id", default=None, help="default: manual__<now>")
    run.add_argument("--snapshot-date", default=None, help="YYYY-MM-DD (default: today, UTC)")
    run.add_argument("--batch-size", type=int, default=500)
    run.add_argument("--open-ids", default=None, help="comma-separated: re-sync only these users")
    run.add_argument("--categories", default=None, help="comma-separated categories")
    run.add_argument("--data-format", choices=("json", "text"), default="json")
    run.add_argument("--reprocess-from-raw", action="store_true")
    run.add_argument("--dry-run", action="store_true")
    run.add_argument("--quota", type=int, default=1000, help="calls per window per endpoint")
    run.add_argument("--quota-window-s", type=float, default=60.0)
    run.add_argument("--poll-interval-s", type=float, default=60.0)
    run.add_argument("--max-failure-rate", type=float, default=0.2)
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tiktok_portability.client import ClientConfig
    from tiktok_portability.clock import utcnow
    from tiktok_portability.lake import Lake
    from tiktok_portability.quota import QuotaConfig, QuotaLimiter
    from tiktok_portability.redact import Secret
    from tiktok_portability.state import StateStore
    from tiktok_portability.sync import SyncOptions, SyncRuntime, parse_snapshot_date
    from tiktok_portability.sync.engine import run_sync

    secret = os.environ.get(args.client_secret_env)
    if not args.client_key or not secret:
        raise SystemExit(f"set --client-key and the ${args.client_secret_env} environment variable")
    store = StateStore.from_url(args.state_url) if args.state_url else StateStore.from_env()
    runtime = SyncRuntime(
        store=store,
        client_config=ClientConfig(
            client_key=args.client_key, client_secret=Secret(secret), base_url=args.base_url
        ),
        lake=Lake.from_uri(args.lake),
        limiter=QuotaLimiter(store, QuotaConfig(per_window=args.quota, window_s=args.quota_window_s)),
    )
    options = SyncOptions.from_params(
        {
            "batch_size": args.batch_size,
            "open_ids": args.open_ids,
            "categories": args.categories,
            "data_format": args.data_format,
            "reprocess_from_raw": args.reprocess_from_raw,
            "dry_run": args.dry_run,
            "poll_interval_s": args.poll_interval_s,
            "max_failure_rate": args.max_failure_rate,
        }
    )
    snapshot = parse_snapshot_date(args.snapshot_date) if args.snapshot_date else date.today()
    run_id = args.run_id or f"manual__{utcnow().isoformat(timespec='seconds')}"
    summary = run_sync(runtime, run_id, snapshot, options)
    print(json.dumps(summary, indent=2, default=str))
    return 0
