"""A local, faithful TikTok API: Login Kit OAuth, Data Portability, webhooks, quota and faults.

Used by the demo, the integration tests and the benchmarks, since nothing here can reach TikTok.
``create_app(config)`` builds the FastAPI app; ``tiktok-portability emulator`` serves it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiktok_portability.emulator.app import create_app
    from tiktok_portability.emulator.config import EmulatorConfig

__all__ = ["EmulatorConfig", "create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so that building the CLI parser does not import FastAPI.
    if name == "create_app":
        from tiktok_portability.emulator.app import create_app

        return create_app
    if name == "EmulatorConfig":
        from tiktok_portability.emulator.config import EmulatorConfig

        return EmulatorConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
