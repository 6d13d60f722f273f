"""The web page: static files, open like health and docs; the page itself calls the API with the user's key."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)
static_files = StaticFiles(directory=STATIC)


@router.get("/")
def index() -> FileResponse:
    # no-cache: a browser revalidates (ETag) so an upgraded server's page is picked up at once.
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})
