"""Worker heartbeats: a worker that has loaded its model says so, with a time-to-live, in the store."""

from __future__ import annotations

import contextlib
import os
import socket
import threading

from kinora.docstore import DocStore
from kinora.jobs import utcnow

KIND = "workers"
TTL_S = 30


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(docs: DocStore, name: str, model: str, device: str) -> None:
    docs.put(KIND, name, {"name": name, "model": model, "device": device, "seen_at": utcnow().isoformat()},
             ttl_s=TTL_S)


def live_workers(docs: DocStore) -> list[dict]:
    return docs.list(KIND, limit=1000)


def start_heartbeat(docs: DocStore, model: str, device: str) -> threading.Event:
    """Beat now and every TTL/3 seconds from a daemon thread; set the returned event to stop."""
    name, stop = worker_name(), threading.Event()
    beat(docs, name, model, device)

    def loop() -> None:
        while not stop.wait(TTL_S / 3):
            with contextlib.suppress(Exception):  # a missed beat is retried at the next tick
                beat(docs, name, model, device)
        docs.delete(KIND, name)

    threading.Thread(target=loop, name="kinora-heartbeat", daemon=True).start()
    return stop
