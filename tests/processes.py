"""Starting `kinora` commands as real subprocesses for integration and end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import TEST_MODEL, wait_until

# The `kinora` installed beside this interpreter (the venv under test), whatever PATH holds.
KINORA = str(Path(sys.executable).parent / "kinora")


def kinora_env(**settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINORA_")}
    env |= {f"KINORA_{k.upper()}": str(v) for k, v in ({"default_model": TEST_MODEL} | settings).items()}
    env |= {"OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1"}
    return env


def create_key(env: dict[str, str], name: str = "test") -> str:
    out = subprocess.run([KINORA, "keys", "create", "--name", name], env=env, check=True, capture_output=True,
                         text=True, timeout=60)
    return out.stdout.strip().splitlines()[-1]


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        proc = subprocess.Popen([KINORA, *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)


@contextmanager
def serving(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    with running(["serve", "--port", str(port)], env, log) as proc:

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"kinora serve exited:\n{log.read_text()}")
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 90, interval=0.25, what="kinora serve")
        yield url
