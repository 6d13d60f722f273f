"""One `kinora serve` (embedded mode, tiny random-weight model) for the whole folder, small job settings, and a
scripted local HTTP server for what a real one will not do on demand (503s, dropped connections, redirects)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import free_port
from tests.processes import kinora_env, serving

# Under a second of compute per job on 2 CPU cores: 8 frames at the tiny model's native size (nothing to upscale).
TINY = {"duration": 1, "fps": 8, "width": 224, "height": 128, "steps": 2}
SIZE = (TINY["width"], TINY["height"])
# For jobs a test cancels: the embedded worker may already have started one, and it stops at its next step,
# so enough steps that the cancel lands before the video is done.
SLOW = TINY | {"steps": 40}


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """Started once for tests/client: each start loads torch and the model (several seconds on 2 cores)."""
    root = tmp_path_factory.mktemp("kinora-client")
    env = kinora_env(data_dir=root / "data")
    port = free_port()
    with serving(env, port, root / "serve.log") as url:
        key = (root / "data" / "dev-key").read_text().strip()  # written by `kinora serve` before it listens
        yield SimpleNamespace(url=url, key=key, env=env, log=Path(root / "serve.log"))


JOB = {"id": "job_1", "object": "job", "status": "queued", "progress": 0, "created_at": "2026-01-01T00:00:00Z",
       "started_at": None, "completed_at": None, "request": {"prompt": "p"}, "output": None, "error": None,
       "cancel_requested": False}
DROP = "drop"  # close the connection without answering


def error(status: int, code: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    body = {"error": {"code": code, "message": f"{code} happened", "param": "width" if status == 422 else None}}
    return status, headers, json.dumps(body).encode()


OK = (200, {}, json.dumps(JOB).encode())


@dataclass
class Scripted:
    """Answers each request with the next scripted reply, and records what it received."""

    url: str
    replies: list = field(default_factory=list)
    seen: list = field(default_factory=list)  # (method, path, headers with lowercase names)


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    state = Scripted(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            state.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
            reply = state.replies.pop(0) if state.replies else OK
            if reply == DROP:
                self.close_connection = True
                return
            status, headers, body = reply
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
