"""Signed webhook deliveries, at least once, retried with exponential backoff like TikTok's.

Bodies have TikTok's documented shape: ``client_key``, ``event``, ``create_time``, ``content`` (a
JSON object serialized as a string) and ``user_openid`` except on ``portability.download.ready``
(TikTok's own example has none; ``webhook_user_openid`` adds it). A retry keeps the signature's
first ``t`` unless ``webhook_resign_retries``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tiktok_portability.emulator.config import EmulatorConfig
from tiktok_portability.redact import fingerprint
from tiktok_portability.signatures import HEADER, sign

log = logging.getLogger(__name__)

READY_EVENT = "portability.download.ready"


@dataclass
class Delivery:
    id: int
    event: str
    open_id: str
    url: str
    body: bytes
    created: float
    next_attempt: float
    signed_at: int = 0  # the t of the first attempt, kept by retries unless they re-sign
    last_t: int | None = None  # the t the latest attempt was signed with
    attempts: int = 0
    state: str = "queued"  # queued | delivered | failed
    last_status: int | None = None
    last_error: str | None = None
    sending: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event,
            "open_id": self.open_id,
            "url": self.url,
            "body": json.loads(self.body),
            "created": self.created,
            "attempts": self.attempts,
            "state": self.state,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "next_attempt": self.next_attempt,
            "signed_at": self.signed_at,
            "last_t": self.last_t,
        }


class WebhookDispatcher:
    """Queues events and sends the due ones; ``run_due`` is called by the emulator's tick loop."""

    def __init__(self, config: Callable[[], EmulatorConfig], now: Callable[[], float]) -> None:
        self._config = config
        self._now = now
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task] = set()

    def enqueue(self, event: str, open_id: str, content: dict[str, Any]) -> None:
        cfg = self._config()
        if not cfg.webhook_url:
            return
        now = self._now()
        payload: dict[str, Any] = {"client_key": cfg.client_key, "event": event, "create_time": int(now)}
        if event != READY_EVENT or cfg.webhook_user_openid:
            payload["user_openid"] = open_id
        payload["content"] = json.dumps(content)
        body = json.dumps(payload).encode()
        copies = 2 if cfg.webhook_duplicate else 1
        with self._lock:
            for _ in range(copies):
                self.deliveries.append(
                    Delivery(next(self._ids), event, open_id, cfg.webhook_url, body, now, now, int(now))
                )

    def pending(self) -> int:
        with self._lock:
            return sum(1 for d in self.deliveries if d.state == "queued")

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.public() for d in self.deliveries]

    def reset(self) -> None:
        with self._lock:
            self.deliveries = []

    def start_due(self, client: httpx.AsyncClient) -> None:
        """Start a send task for every delivery whose next attempt is due (not awaited)."""
        if self._config().webhooks_paused:
            return
        now = self._now()
        with self._lock:
            due = [
                d for d in self.deliveries if d.state == "queued" and not d.sending and d.next_attempt <= now
            ]
            for d in due:
                d.sending = True
        for d in due:
            task = asyncio.create_task(self._send(client, d))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, client: httpx.AsyncClient, d: Delivery) -> None:
        cfg = self._config()
        t = int(self._now()) if cfg.webhook_resign_retries else d.signed_at
        headers = {"Content-Type": "application/json", HEADER: sign(cfg.signing_secret(), d.body, t)}
        status: int | None = None
        error: str | None = None
        try:
            resp = await client.post(
                d.url, content=d.body, headers=headers, timeout=cfg.webhook_timeout_real_s
            )
            status = resp.status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        now = self._now()
        with self._lock:
            d.sending = False
            d.attempts += 1
            d.last_status, d.last_error, d.last_t = status, error, t
            if status == 200:
                d.state = "delivered"
            elif now - d.created >= cfg.webhook_give_up_after_s:
                d.state = "failed"
            else:
                backoff = cfg.webhook_retry_base_s * 2 ** (d.attempts - 1)
                d.next_attempt = now + min(backoff, cfg.webhook_retry_max_s)
        log.info(
            "webhook delivery id=%s event=%s open_id=%s attempt=%s status=%s error=%s state=%s",
            d.id,
            d.event,
            fingerprint(d.open_id),
            d.attempts,
            status,
            error,
            d.state,
        )

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
