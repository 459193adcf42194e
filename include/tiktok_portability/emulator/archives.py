"""Export archives on disk: generated once per request from the user's synthetic data, then streamed.

The zip is written by ``tiktok_portability.synth`` straight into a file (never held in memory) the
first time a ready request is downloaded, and deleted when the request expires or is cancelled.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path

from tiktok_portability.emulator.errors import EmulatorError
from tiktok_portability.emulator.models import DataRequest, User
from tiktok_portability.redact import fingerprint

log = logging.getLogger(__name__)


class ArchiveError(EmulatorError):
    """An archive could not be generated for a request."""


class ArchiveStore:
    def __init__(self, data_dir: str | Path | None) -> None:
        self._owned = data_dir is None
        self.root = Path(tempfile.mkdtemp(prefix="tiktok-emulator-")) if data_dir is None else Path(data_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def path_for(self, request_id: int) -> Path:
        return self.root / f"{request_id}.zip"

    def ready_path(self, request_id: int) -> Path | None:
        """The archive if it is already on disk (cheap enough for the event loop), else None."""
        path = self.path_for(request_id)
        return path if path.exists() else None

    def ensure(self, req: DataRequest, user: User) -> Path:
        """The archive of a ready request, generating it on first use (blocking: run in a thread)."""
        with self._guard:
            lock = self._locks.setdefault(req.request_id, threading.Lock())
        with lock:
            path = self.path_for(req.request_id)
            if path.exists():
                return path
            partial = path.with_suffix(".part")
            if req.empty:
                # An account outside the EEA/UK (empty_archive mode): a valid zip with no member.
                with zipfile.ZipFile(partial, "w"):
                    pass
                partial.replace(path)
                return path
            try:
                # Imported here so the emulator's other endpoints work without the generator loaded.
                from tiktok_portability.synth import UserSpec, write_archive

                spec = UserSpec(
                    open_id=user.open_id,
                    seed=user.seed,
                    generation=user.generation,
                    txt_variant=user.txt_variant,
                    size=user.size,
                    target_bytes=user.target_bytes,
                )
                with partial.open("wb") as sink:
                    info = write_archive(
                        spec,
                        version=req.version or 1,
                        data_format=req.data_format,
                        categories=list(req.categories),
                        sink=sink,
                    )
                partial.replace(path)
                if req.status != "downloading":  # expired or cancelled while it was being written
                    path.unlink(missing_ok=True)
            except Exception as exc:
                partial.unlink(missing_ok=True)
                raise ArchiveError(
                    f"archive of request_id {req.request_id} failed: {type(exc).__name__}: {exc}"
                ) from exc
            log.info(
                "archive generated request_id=%s open_id=%s version=%s bytes=%s",
                req.request_id,
                fingerprint(user.open_id),
                req.version,
                info.bytes_written,
            )
            return path

    def discard(self, request_id: int) -> None:
        self.path_for(request_id).unlink(missing_ok=True)
        with self._guard:
            self._locks.pop(request_id, None)

    def clear(self) -> None:
        for path in self.root.glob("*.zip"):
            path.unlink(missing_ok=True)
        with self._guard:
            self._locks.clear()

    def close(self) -> None:
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)
