"""The state store's environment variable, in a module light enough for the CLIs to read it before
anything imports SQLAlchemy."""

from __future__ import annotations

URL_ENV = "TIKTOK_STATE_URL"
