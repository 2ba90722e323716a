"""The operator console (``console/``, built into ``app/static/console``), served at
``/console/`` from the service's own origin: a client of the public REST API only."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

BUILD = Path(__file__).parent / "static" / "console"


def install(app: FastAPI) -> None:
    """Serve the console's build at /console/ (``/`` and ``/console`` lead there)."""

    @app.get("/", include_in_schema=False)
    @app.get("/console", include_in_schema=False)
    async def to_console() -> RedirectResponse:
        return RedirectResponse("/console/")

    app.mount("/console", StaticFiles(directory=BUILD, html=True, check_dir=False), name="console")
