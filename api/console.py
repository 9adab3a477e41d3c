"""Serving the web console (``console/``, an npm project) at ``/console``.

The console is static files built by ``npm ci && npm run build`` in ``console/`` (``infra/setup.sh``
does it when npm is present); its only data source is this API's ``/graphql``. When the build is
missing, ``/console`` answers 503 with the command that makes it instead of a bare 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

CONSOLE_PATH = "/console"
CONSOLE_DIST = Path(__file__).resolve().parent.parent / "console" / "dist"
"""Where ``npm run build`` writes the console (``console/vite.config.ts``)."""

NOT_BUILT = (
    "The web console is not built. Build it once with:\n"
    "    cd console && npm ci && npm run build\n"
    "(infra/setup.sh does this when npm is installed), then reload this page.\n"
)


def mount_console(app: FastAPI, dist: Path = CONSOLE_DIST) -> None:
    """Serve ``dist`` at ``/console/`` (``index.html`` for the folder); ``/console`` redirects there.
    Without ``dist/index.html`` every ``/console`` path answers 503 with the build command."""

    @app.get(CONSOLE_PATH, include_in_schema=False)
    async def console_root() -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/")

    if (dist / "index.html").is_file():
        app.mount(CONSOLE_PATH, StaticFiles(directory=dist, html=True), name="console")
        return

    @app.get(CONSOLE_PATH + "/{path:path}", include_in_schema=False)
    async def console_missing(path: str) -> PlainTextResponse:
        return PlainTextResponse(NOT_BUILT, status_code=503)
