"""ASGI entry point for uvicorn/gunicorn: ``uvicorn supplynet.asgi:app``. Connects only in lifespan."""

from supplynet.cli import build_api
from supplynet.settings import Settings

app = build_api(Settings())
