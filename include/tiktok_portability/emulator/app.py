"""``create_app(config)``: the emulator as a FastAPI app, with its background tick loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from starlette.responses import Response

from tiktok_portability.emulator import routes_admin, routes_oauth, routes_portability
from tiktok_portability.emulator.config import EmulatorConfig
from tiktok_portability.emulator.errors import AdminError
from tiktok_portability.emulator.responses import json_response
from tiktok_portability.emulator.runtime import Emulator

log = logging.getLogger(__name__)


async def _tick_loop(emu: Emulator) -> None:
    """Make requests ready/expired and send due webhooks, every ``tick_interval_real_s``."""
    async with httpx.AsyncClient() as client:
        try:
            while True:
                try:
                    emu.world.tick()
                    emu.webhooks.start_due(client)
                except Exception:
                    log.exception("emulator tick failed")
                await asyncio.sleep(emu.config.tick_interval_real_s)
        finally:
            await emu.webhooks.drain()


def create_app(config: EmulatorConfig | None = None, data_dir: str | Path | None = None) -> FastAPI:
    """The emulator app; state lives in ``app.state.emulator`` (an ``Emulator``)."""
    emu = Emulator(config or EmulatorConfig(), data_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_tick_loop(emu))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            emu.archives.close()

    app = FastAPI(
        title="TikTok API emulator",
        description="A local stand-in for open.tiktokapis.com (Login Kit + Data Portability).",
        lifespan=lifespan,
        docs_url="/_admin/docs",
        redoc_url=None,
        openapi_url="/_admin/openapi.json",
    )
    app.state.emulator = emu

    @app.exception_handler(AdminError)
    async def admin_error(request: Request, exc: AdminError) -> Response:
        return json_response({"detail": exc.message}, status=exc.status)

    app.include_router(routes_oauth.router)
    app.include_router(routes_portability.router)
    app.include_router(routes_admin.router)
    return app
