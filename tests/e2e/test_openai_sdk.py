"""The official `openai` SDK, unchanged, against `kinora serve`: /v1/videos is a drop-in target."""

import io

import httpx
import openai
import pytest
from PIL import Image

from tests.media import decode_mp4

pytestmark = pytest.mark.e2e
SMALL = {"seconds": "1", "size": "320x192"}


@pytest.fixture(scope="module")
def server(live_server):
    live_server.client = openai.OpenAI(base_url=f"{live_server.base}/v1", api_key=live_server.key, max_retries=0)
    return live_server


def test_create_and_poll_with_openai_defaults(server):
    video = server.client.videos.create_and_poll(prompt="A calico cat playing a piano on stage", model="sora-2")
    assert (video.object, video.status, video.progress, video.error) == ("video", "completed", 100, None)
    assert (video.seconds, video.size, video.model) == ("4", "720x1280", "ltx-tiny")  # OpenAI's defaults
    assert video.prompt == "A calico cat playing a piano on stage" and video.completed_at >= video.created_at
    again = server.client.videos.retrieve(video.id)
    assert again == video


def test_download_the_video_its_thumbnail_and_spritesheet(server):
    video = server.client.videos.create_and_poll(prompt="waves", **SMALL)
    content = server.client.videos.download_content(video.id)
    path = server.root / "v.mp4"
    content.write_to_file(path)
    decoded = decode_mp4(path)
    assert (decoded.width, decoded.height, len(decoded.frames), decoded.codec) == (320, 192, 24, "h264")
    thumb = Image.open(io.BytesIO(server.client.videos.download_content(video.id, variant="thumbnail").content))
    assert (thumb.format, thumb.size) == ("WEBP", (320, 192))
    sheet = Image.open(io.BytesIO(server.client.videos.download_content(video.id, variant="spritesheet").content))
    assert sheet.format == "JPEG" and sheet.size[0] > 160


def test_list_pages_through_every_video_in_both_orders(server):
    created = [server.client.videos.create(prompt=f"clip {i}", **SMALL).id for i in range(3)]
    newest_first = [v.id for v in server.client.videos.list(limit=2)]  # auto-pagination: several pages
    assert newest_first[:3] == created[::-1]
    page = server.client.videos.list(limit=2)
    assert page.has_more and len(page.data) == 2
    oldest_first = [v.id for v in server.client.videos.list(limit=2, order="asc")]
    assert oldest_first == newest_first[::-1]
    for video_id in created:
        server.client.videos.poll(video_id)


def test_an_image_reference_starts_the_video(server):
    buf = io.BytesIO()
    Image.new("RGB", (320, 192), (200, 40, 40)).save(buf, "PNG")
    video = server.client.videos.create_and_poll(prompt="a red wall crumbles", input_reference=(
        "wall.png", buf.getvalue(), "image/png"), **SMALL)
    assert video.status == "completed"
    job = httpx.get(f"{server.base}/jobs/{video.id}", headers={"Authorization": f"Bearer {server.key}"}).json()
    assert job["request"]["image"]["width"] == 320 and job["request"]["image"]["source"] == "upload"


def test_remix_extend_and_edit(server):
    source = server.client.videos.create_and_poll(prompt="a quiet harbour", **SMALL)
    remix = server.client.videos.poll(server.client.videos.remix(source.id, prompt="the harbour at night").id)
    assert (remix.status, remix.remixed_from_video_id, remix.size, remix.seconds) == (
        "completed", source.id, "320x192", "1")
    mp4 = server.client.videos.download_content(source.id).content
    extended = server.client.videos.poll(server.client.videos.extend(
        prompt="boats sail out", seconds="1", video=("harbour.mp4", mp4, "video/mp4")).id)
    assert (extended.status, extended.seconds, extended.size) == ("completed", "2", "320x192")  # stitched total
    edited = server.client.videos.poll(server.client.videos.edit(
        prompt="in watercolour", video=("harbour.mp4", mp4, "video/mp4")).id)
    assert (edited.status, edited.seconds) == ("completed", "1")


def test_delete_then_not_found_in_openai_error_shape(server):
    video = server.client.videos.create_and_poll(prompt="to delete", **SMALL)
    deleted = server.client.videos.delete(video.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (video.id, "video.deleted", True)
    with pytest.raises(openai.NotFoundError) as info:
        server.client.videos.retrieve(video.id)
    assert info.value.body["type"] == "invalid_request_error" and info.value.body["code"] == "not_found"
    with pytest.raises(openai.NotFoundError):
        server.client.videos.download_content(video.id)


def test_bad_requests_and_keys_raise_the_sdks_errors(server):
    with pytest.raises(openai.BadRequestError) as info:
        server.client.videos.create(prompt="x", size="1281x720")
    assert info.value.body["param"] == "size" and info.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as info:
        server.client.videos.create(prompt="x", seconds="90")
    assert info.value.body["param"] == "seconds"
    stranger = openai.OpenAI(base_url=f"{server.base}/v1", api_key="kin_not_a_key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        stranger.videos.list()
    assert info.value.body["code"] == "invalid_api_key"


def test_a_cancelled_job_is_a_failed_video_with_code_cancelled(server):
    video = server.client.videos.create(prompt="a long one", seconds="60", size="320x192")
    r = httpx.post(f"{server.base}/jobs/{video.id}/cancel", headers={"Authorization": f"Bearer {server.key}"})
    assert r.status_code == 200
    done = server.client.videos.poll(video.id)
    assert done.status == "failed" and done.error.code == "cancelled"
