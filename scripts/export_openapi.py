"""Write the OpenAPI document the app serves to openapi/openapi.json (a build output, checked in)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.main import create_app
from kinora.config import Settings

TARGET = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def render() -> str:
    # Settings that do not depend on the environment, so the document is the same everywhere.
    app = create_app(Settings(_env_file=None, redis_url=None, data_dir=Path("data")))
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(render())
    print(f"wrote {TARGET}", file=sys.stderr)
