"""The README's path on a fresh data folder: `kinora serve`, a key, and the documented curl request."""

import json
import subprocess
import time
from types import SimpleNamespace

import pytest

from tests.conftest import free_port
from tests.media import decode_mp4, watermark_visible
from tests.processes import KINORA, create_key, kinora_env, serving

pytestmark = pytest.mark.e2e


@pytest.fixture
def embedded(tmp_path):
    """`kinora serve` in embedded mode on a fresh data folder, as after `make run`."""
    env = kinora_env(data_dir=tmp_path / "data")
    port = free_port()
    log = tmp_path / "serve.log"
    with serving(env, port, log):
        yield SimpleNamespace(env=env, port=port, base=f"http://localhost:{port}", log=log)


def curl(*args: str) -> tuple[int, dict[str, str], bytes]:
    out = subprocess.run(["curl", "-sS", "-D", "-", *args], capture_output=True, check=True, timeout=60).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_the_documented_curl_request_gives_a_watermarked_15_second_mp4(tmp_path, embedded):
    key = create_key(embedded.env, "e2e")
    base = embedded.base
    status, headers, body = curl(
        "-X", "POST", f"{base}/generate", "-H", f"Authorization: Bearer {key}",
        "-H", "Content-Type: application/json",
        "-d", '{"prompt":"Une mer agitée au coucher du soleil","duration":15}',
    )
    assert status == 202, body
    job = json.loads(body)
    assert headers["location"] == f"/jobs/{job['id']}"
    assert job["status"] == "queued" and job["request"]["duration"] == 15

    seen, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        _, _, body = curl(f"{base}{headers['location']}", "-H", f"Authorization: Bearer {key}")
        job = json.loads(body)
        seen.append((job["status"], job["progress"]))
        if job["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.1)
    assert job["status"] == "completed", job
    progress = [p for s, p in seen]
    assert any(s == "in_progress" for s, _ in seen) and progress == sorted(progress) and progress[-1] == 100

    path = tmp_path / "out.mp4"
    status, headers, _ = curl("-o", str(path), f"{base}/jobs/{job['id']}/content",
                              "-H", f"Authorization: Bearer {key}")
    assert status == 200 and headers["content-type"] == "video/mp4"

    video = decode_mp4(path)
    assert (video.codec, video.pix_fmt, video.faststart) == ("h264", "yuv420p", True)
    assert (video.width, video.height, video.fps) == (854, 480, 24)
    assert abs(len(video.frames) - 15 * 24) <= 1
    assert all(watermark_visible(f, 854, 480, "AI-generated", "bottom-right") for f in video.frames)
    assert f"job_id={job['id']}" in video.metadata["comment"] and "model=ltx-tiny" in video.metadata["comment"]
    assert video.metadata["title"] == "Une mer agitée au coucher du soleil"


def test_serve_prints_the_url_the_web_pages_link_and_a_working_development_key(embedded):
    log = embedded.log.read_text()
    assert embedded.base in log
    key = log.split("Development API key: ")[1].split()[0]
    assert f"Web page: {embedded.base}/#key={key}" in log  # the page reads the key from the fragment
    status, _, _ = curl(f"{embedded.base}/jobs", "-H", f"Authorization: Bearer {key}")
    assert status == 200
    status, _, body = curl(f"{embedded.base}/jobs")
    assert status == 401 and json.loads(body)["error"]["code"] == "missing_api_key"


def test_keys_cli_lists_and_revokes_against_the_server_store(embedded):
    env = embedded.env
    key = create_key(env, "ops")
    url = f"{embedded.base}/jobs"
    assert curl(url, "-H", f"Authorization: Bearer {key}")[0] == 200
    listing = subprocess.run([KINORA, "keys", "list"], env=env, capture_output=True, text=True, check=True)
    assert "ops" in listing.stdout and key not in listing.stdout and key[:8] in listing.stdout
    subprocess.run([KINORA, "keys", "revoke", "ops"], env=env, check=True, capture_output=True)
    assert curl(url, "-H", f"Authorization: Bearer {key}")[0] == 401
