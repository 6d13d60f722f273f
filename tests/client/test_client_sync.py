"""The sync client against a real `kinora serve`: every method, inputs, and the errors it raises."""

from __future__ import annotations

import io

import pytest
from kinora_client import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    Job,
    JobFailed,
    Kinora,
    KinoraTimeout,
    NotFoundError,
)
from PIL import Image

from tests.client.conftest import SIZE, SLOW, TINY
from tests.media import decode_mp4


@pytest.fixture
def client(server):
    with Kinora(server.url, server.key) as client:
        yield client


def test_create_get_wait_and_download_an_mp4(client, tmp_path):
    job = client.create("a lighthouse at dusk", seed=7, **TINY)
    assert isinstance(job, Job) and job.id.startswith("job_") and job.status == "queued"
    assert job.request["seed"] == 7 and (job.request["width"], job.request["height"]) == SIZE
    assert client.get(job.id).id == job.id

    seen: list[Job] = []
    done = client.wait(job, timeout=60, poll_interval=0.05, on_progress=seen.append)
    assert done.status == "completed" and done.is_terminal and done.output is not None
    progress = [j.progress for j in seen]
    assert progress == sorted(progress) and progress[-1] == 100 and len(seen) >= 2
    assert seen[0].status == "queued" and any(j.status == "in_progress" for j in seen)
    assert len({(j.status, j.progress, j.queue_position, j.eta_seconds) for j in seen}) == len(seen)  # changes only

    path = client.download(done, tmp_path / "out.mp4")
    video = decode_mp4(path)
    assert (video.width, video.height, len(video.frames)) == (*SIZE, 8) == (
        done.output.width, done.output.height, done.output.frames)
    assert path.stat().st_size == done.output.bytes
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]

    thumbnail = client.download(done.id, tmp_path, variant="thumbnail")  # a folder: named after the job
    assert thumbnail == tmp_path / f"{done.id}.webp"
    with Image.open(thumbnail) as still:
        assert still.format == "WEBP"


def test_generate_creates_waits_and_downloads(client, tmp_path):
    updates: list[Job] = []
    job = client.generate("waves on rocks", tmp_path / "gen.mp4", on_progress=updates.append, timeout=60,
                          poll_interval=0.05, **TINY)
    assert job.status == "completed" and updates[-1].status == "completed"
    assert len(decode_mp4(tmp_path / "gen.mp4").frames) == 8


def test_an_image_upload_and_a_job_reference_as_video(client, tmp_path):
    png = tmp_path / "red.png"
    Image.new("RGB", (160, 96), (200, 30, 30)).save(png)
    animated = client.generate("the red square breathes", tmp_path / "img.mp4", image=png, poll_interval=0.05,
                               timeout=60, **TINY)
    assert animated.request["image"]["kind"] == "image" and animated.request["image"]["source"] == "upload"
    assert (animated.request["image"]["width"], animated.request["image"]["height"]) == (160, 96)

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 0, 255)).save(buffer, format="PNG")
    queued = client.create("from bytes", image=buffer.getvalue(), **SLOW)  # bytes work as well as paths
    assert queued.request["image"]["content_type"] == "image/png"
    client.cancel(queued)

    modified = client.create("the same at night", video=animated.id, mode="modify", strength=0.5, steps=2, fps=8)
    assert modified.request["video"]["source"] == "job" and modified.request["video"]["job_id"] == animated.id
    assert modified.request["mode"] == "modify"
    done = client.wait(modified, timeout=60, poll_interval=0.05)
    assert done.status == "completed", done.error
    video = decode_mp4(client.download(done, tmp_path / "night.mp4"))
    assert (video.width, video.height, len(video.frames)) == (*SIZE, 8)  # the size of its source


def test_list_pages_and_iter_jobs_follows_the_cursor(client):
    ids = [client.create(f"listed {i}", **SLOW).id for i in range(3)]
    for ident in ids:
        client.cancel(ident)  # a queued job ends at once, a running one at its next step
    page = client.list(limit=2)
    assert len(page) == 2 and page.has_more and page.next_cursor == page.data[-1].id
    assert [j.id for j in page] == ids[::-1][:2]  # newest first
    assert client.list(limit=2, after=page.next_cursor).data[0].id == ids[0]
    every = [j.id for j in client.iter_jobs(page_size=2)]
    assert every[:3] == ids[::-1] and len(every) == len(set(every))


def test_cancel_and_job_failed(client, tmp_path):
    queued = client.create("never rendered", **SLOW)
    assert client.cancel(queued).cancel_requested
    assert client.wait(queued.id, timeout=60, poll_interval=0.05).status == "cancelled"
    with pytest.raises(ConflictError) as conflict:
        client.download(queued, tmp_path / "none.mp4")
    assert conflict.value.status == 409 and not (tmp_path / "none.mp4").exists()

    def cancel_it(job: Job) -> None:
        if not job.cancel_requested:
            client.cancel(job)

    with pytest.raises(JobFailed) as failed:  # generate() raises when the job ends without a video
        client.generate("cancelled midway", tmp_path / "x.mp4", on_progress=cancel_it, poll_interval=0.05,
                        timeout=60, **SLOW)
    assert failed.value.job.status == "cancelled" and failed.value.code and failed.value.message
    assert not (tmp_path / "x.mp4").exists()


def test_wait_times_out(client):
    job = client.create("slow", **SLOW)
    try:
        with pytest.raises(KinoraTimeout) as timeout:
            client.wait(job, timeout=0.01, poll_interval=0.05)
        assert timeout.value.job.id == job.id and not timeout.value.job.is_terminal
    finally:
        client.cancel(job)


def test_errors_are_typed_with_the_server_message(client, server):
    with pytest.raises(InvalidRequestError) as invalid:
        client.create("odd width", width=641, height=192)
    assert (invalid.value.status, invalid.value.code, invalid.value.param) == (422, "invalid_request", "width")
    assert "even" in invalid.value.message

    with pytest.raises(NotFoundError) as missing:
        client.get("job_does_not_exist")
    assert missing.value.status == 404 and missing.value.code == "not_found"

    with pytest.raises(FileNotFoundError):
        client.create("no such file", image="missing.png")

    with Kinora(server.url, "kin_not_a_real_key") as stranger, pytest.raises(AuthenticationError) as denied:
        stranger.list()
    assert denied.value.status == 401 and denied.value.code == "invalid_api_key"


def test_base_url_and_key_come_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("KINORA_BASE_URL", server.url)
    monkeypatch.setenv("KINORA_API_KEY", server.key)
    with Kinora() as client:
        assert client.config.base_url == server.url and client.list(limit=1).data is not None
