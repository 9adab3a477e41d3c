"""The web console's static mount (``api/console.py``) on a bare FastAPI app: a built folder is served
at /console/, a missing build answers 503 with the command that makes it."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from api.console import mount_console


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test")


async def test_a_built_console_is_served_with_its_assets(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    app = FastAPI()
    mount_console(app, tmp_path)
    async with client(app) as http:
        page = await http.get("/console", follow_redirects=True)
        assert page.status_code == 200
        assert page.url.path == "/console/"
        assert "<title>console</title>" in page.text
        assert (await http.get("/console/assets/app.js")).text == "console.log(1)"
        assert (await http.get("/console/assets/missing.js")).status_code == 404


async def test_a_missing_build_says_how_to_build_it(tmp_path: Path) -> None:
    app = FastAPI()
    mount_console(app, tmp_path / "dist")
    async with client(app) as http:
        for path in ("/console", "/console/", "/console/assets/app.js"):
            answer = await http.get(path, follow_redirects=True)
            assert answer.status_code == 503, path
            assert "npm ci && npm run build" in answer.text
