"""One emulator run: its settings, clock, world, quota, faults, request log, webhooks and archives."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tiktok_portability.emulator.archives import ArchiveStore
from tiktok_portability.emulator.clock import EmulatorClock
from tiktok_portability.emulator.config import EmulatorConfig
from tiktok_portability.emulator.errors import AdminError
from tiktok_portability.emulator.faults import FaultBook
from tiktok_portability.emulator.quota import SlidingWindowQuota
from tiktok_portability.emulator.requestlog import LogEntry, RequestLog
from tiktok_portability.emulator.state import World
from tiktok_portability.emulator.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)


class Emulator:
    def __init__(self, config: EmulatorConfig, data_dir: str | Path | None = None) -> None:
        self.initial_config = config
        self.config = config
        self.clock = EmulatorClock()
        self.quota = SlidingWindowQuota()
        self.faults = FaultBook()
        self.log = RequestLog(config.request_log_max)
        self.webhooks = WebhookDispatcher(lambda: self.config, self.clock.now)
        self.archives = ArchiveStore(data_dir)
        self.world = self._new_world()
        # Bumped by every reset: a call that began before one (a slow or timeout fault still
        # sleeping) must not land in the log of the test that came after it.
        self.generation = 0

    def _new_world(self) -> World:
        return World(self.config, self.clock.now, self.webhooks.enqueue, self.archives.discard)

    def configure(self, changes: dict[str, Any]) -> EmulatorConfig:
        try:
            config = EmulatorConfig.model_validate({**self.config.model_dump(), **changes})
        except ValidationError as exc:
            raise AdminError(f"invalid config {sorted(changes)}: {exc.errors(include_url=False)}") from None
        self.config = config
        self.world.config = config
        log.info("emulator configured keys=%s", sorted(changes))
        return config

    def reset(self) -> None:
        """Forget users, requests, faults, log and webhooks; back to the start-up settings and clock."""
        self.config = self.initial_config
        self.clock.reset()
        self.quota.reset()
        self.faults.clear()
        self.log.reset(self.config.request_log_max)
        self.webhooks.reset()
        self.archives.clear()
        self.world = self._new_world()
        self.generation += 1

    def record(
        self,
        endpoint: str,
        method: str,
        open_id: str | None,
        status: int,
        error_code: str,
        request_id: int | None,
        fault: str | None,
        *,
        generation: int | None = None,
    ) -> None:
        """Log one answered call; ``generation`` (taken when the call began) drops it after a reset."""
        if generation is not None and generation != self.generation:
            return
        self.log.append(
            LogEntry(self.clock.now(), endpoint, method, open_id, status, error_code, request_id, fault)
        )
