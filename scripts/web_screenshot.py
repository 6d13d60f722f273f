"""Screenshot the web page as a newcomer sees it after `make run`: three prompts made by the embedded default.

    python scripts/web_screenshot.py [--out docs/web-page.jpg]

Starts `kinora serve` (embedded mode, the default model, a fresh data folder in a temporary directory), opens
the link it prints in Debian's Chromium through Playwright, submits the prompts from the page and waits for
the videos to play (seeds 0, 1, 2).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

PROMPTS = ("a red ball bouncing on a blue background", "une balle blanche qui tombe sur fond noir",
           "a small white car moving left on a night sky")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/web-page.jpg"))
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KINORA_")} | {
            "KINORA_DATA_DIR": data, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1"}
        kinora = Path(sys.executable).parent / "kinora"
        server = subprocess.Popen([kinora, "serve", "--port", str(args.port)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            link = None
            while link is None and server.stdout is not None:
                line = server.stdout.readline()
                if not line:
                    raise SystemExit("kinora serve stopped before printing its web page's link")
                link = (m := re.search(r"Web page: (\S+)", line)) and m[1]
            wait_for(f"http://127.0.0.1:{args.port}/healthz")  # it prints before it listens
            shoot(link, args.out)
        finally:
            server.terminate()
            server.wait(20)
    print(f"wrote {args.out}")


def wait_for(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"no answer from {url}")


def shoot(link: str, out: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 760})
        page.goto(link)
        expect(page.locator("#key-state")).to_have_text("Connected.", timeout=60_000)
        page.click("#advanced summary")
        for seed, prompt in enumerate(PROMPTS):
            page.fill("#prompt", prompt)
            page.fill("#duration", "2")
            page.fill("#seed", str(seed))
            page.click("#submit")
        page.fill("#seed", "")
        page.click("#advanced summary")
        for index in range(len(PROMPTS)):
            expect(page.locator(".job .badge").nth(index)).to_have_text("completed", timeout=120_000)
        page.wait_for_function("[...document.querySelectorAll('video')].every(v => v.readyState >= 2)")
        page.fill("#prompt", "a green triangle growing on a sunny sky")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), type="jpeg", quality=85)
        browser.close()


if __name__ == "__main__":
    main()
