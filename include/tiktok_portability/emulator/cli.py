"""``tiktok-portability emulator``: serve the emulator with uvicorn, optionally seeding users."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiktok_portability.emulator.config import EmulatorConfig

# Seeded users cycle through these so a demo or benchmark sees every layout and scope shape.
_SEED_SCOPES: tuple[list[str], ...] = (
    ["portability.all.ongoing"],
    ["portability.activity.ongoing", "portability.postsandprofile.ongoing"],
    ["portability.all.ongoing"],
    ["portability.directmessages.ongoing", "portability.postsandprofile.ongoing"],
    ["portability.all.single", "portability.activity.single"],
)
_SEED_LAYOUTS: tuple[tuple[str, str], ...] = (
    ("G2", "en_new"),
    ("G3", "en_new"),
    ("G1", "en_old"),
    ("G2", "nl"),
    ("G0", "en_old"),
)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("emulator", help="run the local TikTok API emulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--client-key", default="demo-client-key")
    p.add_argument("--client-secret", default="demo-client-secret")
    p.add_argument("--prep-delay", type=float, default=5.0, help="seconds until ready (0 = at once)")
    p.add_argument("--quota", type=int, default=1000, help="calls per quota window per bucket")
    p.add_argument("--quota-window-s", type=float, default=60.0)
    p.add_argument("--quota-mode", choices=("per_endpoint", "shared"), default="per_endpoint")
    p.add_argument("--retry-after", action="store_true", help="send Retry-After with quota 429s")
    p.add_argument("--webhook-url", default=None)
    p.add_argument("--webhook-retry-base-s", type=float, default=5.0)
    p.add_argument("--tick-interval-s", type=float, default=0.2, help="real seconds between background ticks")
    p.add_argument("--data-dir", default=None, help="where archives are written (default: a temp dir)")
    p.add_argument("--seed-users", type=int, default=0, metavar="N", help="create N users with tokens")
    p.add_argument("--seed-output", default=None, help="seeded users file (default stdout)")
    p.add_argument("--seed-size", default="tiny", choices=("tiny", "small", "medium", "large"))
    p.add_argument("--log-level", default="warning")
    p.add_argument("--http", choices=("auto", "httptools", "h11"), default="auto", help="uvicorn HTTP parser")
    p.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    # Imported here: building the CLI parser must not import pydantic, FastAPI or uvicorn.
    from tiktok_portability.emulator.config import EmulatorConfig

    return EmulatorConfig(
        client_key=args.client_key,
        client_secret=args.client_secret,
        prep_delay_s=args.prep_delay,
        quota_per_minute=args.quota,
        quota_window_s=args.quota_window_s,
        quota_mode=args.quota_mode,
        retry_after=args.retry_after,
        webhook_url=args.webhook_url,
        webhook_retry_base_s=args.webhook_retry_base_s,
        tick_interval_real_s=args.tick_interval_s,
    )


def seed_users(app: Any, count: int, size: str = "tiny") -> list[dict[str, Any]]:
    """Create ``count`` users with mixed scopes, layouts and regions, and tokens for each."""
    world = app.state.emulator.world
    out = []
    for i in range(count):
        generation, txt_variant = _SEED_LAYOUTS[i % len(_SEED_LAYOUTS)]
        user = world.create_user(
            open_id=f"seed-{i + 1:06d}",
            scopes=_SEED_SCOPES[i % len(_SEED_SCOPES)],
            region="GB" if i % 7 == 3 else "NL",
            generation=generation,
            txt_variant=txt_variant,
            size=size,
            seed=i + 1,
        )
        out.append({**user.public(), "tokens": world.issue_tokens(user.open_id)})
    return out


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from tiktok_portability.emulator.app import create_app
    from tiktok_portability.emulator.connections import tracking_protocol

    app = create_app(config_from_args(args), data_dir=args.data_dir)
    if args.seed_users:
        seeded = seed_users(app, args.seed_users, args.seed_size)
        lines = "".join(json.dumps(u) + "\n" for u in seeded)
        if args.seed_output:
            with open(args.seed_output, "w", encoding="utf-8") as fh:
                fh.write(lines)
        else:
            sys.stdout.write(lines)
            sys.stdout.flush()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        proxy_headers=False,  # nothing sits in front; keeps scope["client"] the real peer
        http=tracking_protocol(args.http),  # lets the lose_response fault drop a connection
    )
    return 0
