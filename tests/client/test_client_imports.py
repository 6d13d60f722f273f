"""The client is light: importing it loads no server package, no torch, no web framework."""

from __future__ import annotations

import subprocess
import sys

import pytest

SERVER_SIDE = {"torch", "fastapi", "starlette", "celery", "app", "worker", "models", "kinora"}


@pytest.mark.parametrize(("modules", "forbidden"), [
    ("kinora_client", SERVER_SIDE | {"pydantic", "typer"}),  # the library needs httpx only
    ("kinora_client, kinora_client.cli, kinora_client.webhooks", SERVER_SIDE),
])
def test_importing_the_client_loads_nothing_heavy(modules, forbidden):
    loaded = "{m.split('.')[0] for m in sys.modules}"
    code = f"import sys, {modules}\nprint(sorted({loaded} & set({sorted(forbidden)!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                         cwd="/")  # not the repository root, whose folders would import as packages
    assert out.stdout.strip() == "[]", out.stdout
