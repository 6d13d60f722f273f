"""`kinora-client` (and the same commands under `kinora`): real processes and CliRunner against the real server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kinora_client.cli import app
from typer.testing import CliRunner

from tests.client.conftest import JOB, SIZE, SLOW, TINY
from tests.media import decode_mp4

KINORA_CLIENT = str(Path(sys.executable).parent / "kinora-client")
runner = CliRunner()
TINY_ARGS = [arg for name, value in TINY.items() for arg in (f"--{name}", str(value))]


def test_generate_saves_a_decodable_mp4_and_the_other_commands_see_it(server, tmp_path):
    env = server.env | {"KINORA_BASE_URL": server.url, "KINORA_API_KEY": server.key}  # the env fallbacks
    out = tmp_path / "out.mp4"
    done = subprocess.run([KINORA_CLIENT, "generate", "a kite over dunes", *TINY_ARGS, "--seed", "3", "-o", str(out)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out) and f"completed: {SIZE[0]}x{SIZE[1]}, 8 frames" in done.stderr
    video = decode_mp4(out)
    assert (video.width, video.height, len(video.frames)) == (*SIZE, 8)
    job_id = done.stderr.split(" completed:")[0].split()[-1]

    auth = ["--base-url", server.url, "--api-key", server.key]
    listed = runner.invoke(app, ["jobs", "--limit", "5", *auth])
    assert listed.exit_code == 0 and job_id in listed.stdout and "completed" in listed.stdout
    assert "a kite over dunes" in listed.stdout

    shown = runner.invoke(app, ["get", job_id, *auth])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["request"]["seed"] == 3

    copy = runner.invoke(app, ["download", job_id, "-o", str(tmp_path), *auth])
    assert copy.exit_code == 0 and (tmp_path / f"{job_id}.mp4").read_bytes() == out.read_bytes()

    too_late = runner.invoke(app, ["cancel", job_id, *auth])  # a completed job cannot be cancelled: 409
    assert too_late.exit_code == 2 and "already ended" in too_late.stderr and "409" in too_late.stderr


def test_no_wait_prints_the_job_id_and_cancel_stops_it(server):
    auth = ["--base-url", server.url, "--api-key", server.key]
    queued = runner.invoke(app, ["generate", "left to run", *TINY_ARGS, "--steps", str(SLOW["steps"]), "--no-wait",
                                 *auth])
    assert queued.exit_code == 0
    job_id = queued.stdout.strip()
    assert job_id.startswith("job_")
    cancelled = runner.invoke(app, ["cancel", job_id, *auth])
    assert cancelled.exit_code == 0 and cancelled.stdout.startswith(f"{job_id}: ")


def test_exit_codes_and_the_server_message(server, tmp_path):
    bad_key = runner.invoke(app, ["jobs", "--base-url", server.url, "--api-key", "kin_wrong"])
    assert bad_key.exit_code == 2 and "Invalid or revoked API key" in bad_key.stderr

    auth = ["--base-url", server.url, "--api-key", server.key]
    invalid = runner.invoke(app, ["generate", "odd", "--width", "641", "--height", "192", *auth])
    assert invalid.exit_code == 2 and "width" in invalid.stderr and "even" in invalid.stderr

    usage = runner.invoke(app, ["generate", "x", "--mode", "sideways", *auth])
    assert usage.exit_code == 2
    missing = runner.invoke(app, ["generate", "x", "--video", str(tmp_path / "none.mp4"), *auth])
    assert missing.exit_code == 2 and "no such file" in missing.stderr

    slow = runner.invoke(app, ["generate", "slow", *TINY_ARGS, "--steps", str(SLOW["steps"]), "--timeout", "0.01",
                               "-o", str(tmp_path / "never.mp4"), *auth])
    assert slow.exit_code == 1 and "still" in slow.stderr and not (tmp_path / "never.mp4").exists()
    job_id = slow.stderr.split("Job ")[1].split()[0]
    assert runner.invoke(app, ["cancel", job_id, *auth]).exit_code == 0


def test_a_failed_job_exits_1_with_its_error(scripted, tmp_path):
    failed = JOB | {"status": "failed", "error": {"code": "out_of_memory", "message": "The GPU ran out of memory."}}
    scripted.replies = [(202, {}, json.dumps(JOB).encode()), (200, {}, json.dumps(failed).encode())]
    result = runner.invoke(app, ["generate", "p", "-o", str(tmp_path / "x.mp4"), "--base-url", scripted.url,
                                 "--api-key", "k"])
    assert result.exit_code == 1 and "The GPU ran out of memory. (out_of_memory)" in result.stderr


def test_the_server_command_has_the_client_commands_too(server):
    from kinora.cli import cli  # `kinora`, which registers the client's commands beside its own

    helped = runner.invoke(cli, ["--help"], terminal_width=200)
    for command in ("serve", "worker", "keys", "generate", "jobs", "get", "cancel", "download"):
        assert f" {command} " in helped.stdout, helped.stdout
    listed = runner.invoke(cli, ["jobs", "--base-url", server.url, "--api-key", server.key])
    assert listed.exit_code == 0 and "STATUS" in listed.stdout
