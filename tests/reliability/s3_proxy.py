"""An HTTP proxy in front of moto_server that the test controls: S3 answering 500, slowly, or not yet.

The lake under test talks S3 to this proxy (``AWS_ENDPOINT_URL``); every request is forwarded to
moto unless a rule matches it (method + a regex on the path). A rule answers ``fail`` (an S3
``InternalError`` with the rule's status), ``delay`` (forwarded after ``delay_s``) or ``hold`` (the
request waits until the test calls ``release()``, so a task can be SIGKILLed while it is inside
that one S3 call; the held request is then dropped). ``skip`` lets that many matching requests
through first; ``count`` limits how often the rule acts, ``start``/``until`` (monotonic) when.

Threaded (one thread per connection), HTTP/1.1 keep-alive towards the client, one upstream
connection per request. Chunked request bodies (botocore's aws-chunked uploads) are forwarded
byte for byte with their headers; responses are read whole and sent with a Content-Length.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "expect",
    "proxy-connection",
}


@dataclass
class Rule:
    """What to do with the requests whose method and path match."""

    action: str  # "fail" | "delay" | "hold"
    path: str = ".*"  # regex searched in the request's decoded path (/bucket/key?query)
    method: str | None = None
    status: int = 500
    delay_s: float = 0.0
    skip: int = 0
    count: int | None = None
    until: float | None = None
    start: float | None = None  # monotonic: the rule sleeps until then
    seen: int = 0
    acted: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def applies(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        if not re.search(self.path, unquote(path)):
            return False
        now = time.monotonic()
        if (self.until is not None and now > self.until) or (self.start is not None and now < self.start):
            return False
        self.seen += 1
        if self.seen <= self.skip or (self.count is not None and self.acted >= self.count):
            return False
        self.acted += 1
        return True

    def release(self) -> None:
        self.released.set()


class S3FaultProxy:
    """``with S3FaultProxy(moto_url) as proxy:``; ``proxy.endpoint_url``, ``proxy.add(Rule(...))``."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: list[Rule] = []
        self.log: list[tuple[float, str, str, int, str]] = []  # (time, method, path, status, action)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.endpoint_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="s3-proxy", daemon=True)

    def __enter__(self) -> S3FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for rule in self.rules:
            rule.release()
        self._server.shutdown()
        self._server.server_close()

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            rules, self.rules = self.rules, []
        for rule in rules:
            rule.release()

    def _match(self, method: str, path: str) -> Rule | None:
        with self._lock:
            return next((r for r in self.rules if r.applies(method, path)), None)

    def _record(self, method: str, path: str, status: int, action: str) -> None:
        with self._lock:
            self.log.append((time.monotonic(), method, path, status, action))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    raw = bytearray()
                    while True:
                        line = self.rfile.readline()
                        raw += line
                        size = int(line.split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            break
                        raw += self.rfile.read(size + 2)
                    while True:  # trailers, then the empty line
                        line = self.rfile.readline()
                        raw += line
                        if line in (b"\r\n", b"\n", b""):
                            return bytes(raw)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self) -> None:
                body = self._body()
                method, path = self.command, self.path
                rule = proxy._match(method, path)
                if rule is not None and rule.action == "hold":
                    rule.reached.set()
                    rule.released.wait(timeout=600)
                    proxy._record(method, path, 0, "held, dropped")
                    self.close_connection = True
                    return
                if rule is not None and rule.action == "fail":
                    proxy._record(method, path, rule.status, "fail")
                    self._reply_error(rule.status)
                    return
                if rule is not None and rule.action == "delay":
                    time.sleep(rule.delay_s)
                self._forward(method, path, body, "delay" if rule is not None else "pass")

            def _reply_error(self, status: int) -> None:
                payload = (
                    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
                    b"<Message>injected by the test proxy</Message></Error>"
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload) if self.command != "HEAD" else 0))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _forward(self, method: str, path: str, body: bytes, action: str) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    headers["Transfer-Encoding"] = "chunked"
                elif body or method in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=120)
                try:
                    upstream.request(method, path, body=body or None, headers=headers)
                    resp = upstream.getresponse()
                    data = resp.read()
                    self.send_response(resp.status, resp.reason)
                    for key, value in resp.getheaders():
                        if key.lower() not in _HOP_BY_HOP:
                            self.send_header(key, value)
                    length = resp.getheader("Content-Length") if method == "HEAD" else str(len(data))
                    self.send_header("Content-Length", length or "0")
                    self.end_headers()
                    if method != "HEAD":
                        self.wfile.write(data)
                    proxy._record(method, path, resp.status, action)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        return Handler
