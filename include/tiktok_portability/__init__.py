"""Recurring TikTok Data Portability transfers: the pure-Python core (never imports Airflow)."""

from __future__ import annotations

__version__ = "0.1.0"
