"""Airflow glue for tiktok_portability: the hook, the webhook/OAuth FastAPI app and its plugin."""
