"""Image and video inputs through POST /generate: JSON data URLs, multipart uploads, job references, URLs.

Embedded mode (real SQLite store, real worker thread with the tiny LTX model, local storage). Every MP4 that
comes back is decoded and measured.
"""

import base64
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.main import create_app
from kinora.config import Settings
from kinora.docstore import open_docstore
from kinora.keys import KeyStore
from tests.badmedia import BAD_CASES, GOOD_CASES
from tests.conftest import finish, video_of, wait_until
from tests.media import mean_abs_diff, psnr

STATUS = {"media_too_large": 413, "media_unsupported_type": 415, "media_unsupported_codec": 415}
FAST = {"steps": "2"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    keys = KeyStore(open_docstore(settings))
    alice, bob = keys.create("alice")[1], keys.create("bob")[1]
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 60, what="the embedded worker")
        yield client, {"Authorization": f"Bearer {alice}"}, {"Authorization": f"Bearer {bob}"}, settings


def stored_inputs(settings):
    return sorted(p.name for p in (settings.data_dir / "objects" / "inputs").rglob("*") if p.is_file())


def job_count(client, headers):
    return len(client.get("/jobs", headers=headers, params={"limit": 100}).json()["data"])


def png(width=400, height=300, seed=0):
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def data_url(data, content_type):
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


# --- bad inputs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", BAD_CASES, ids=[c.name for c in BAD_CASES])
def test_every_bad_upload_is_refused_with_its_code_and_nothing_is_kept(server, case):
    client, alice, _, settings = server
    before_jobs, before_files = job_count(client, alice), stored_inputs(settings)
    upload = (case.filename or "upload", case.data, case.content_type or "application/octet-stream")
    r = client.post("/generate", headers=alice, data={"prompt": "x", **FAST}, files={case.kind: upload})
    assert r.status_code == STATUS.get(case.code, 422), r.text
    error = r.json()["error"]
    assert error["code"] == case.code and error["param"] == case.kind and error["message"]
    assert job_count(client, alice) == before_jobs and stored_inputs(settings) == before_files


@pytest.mark.parametrize("case", [c for c in BAD_CASES if c.filename is None or "named" not in c.name],
                         ids=lambda c: c.name)
def test_bad_data_urls_are_refused_the_same_way(server, case):
    client, alice, _, settings = server
    before = stored_inputs(settings)
    url = data_url(case.data, case.content_type or "application/octet-stream")
    r = client.post("/generate", headers=alice, json={"prompt": "x", case.kind: url})
    assert r.status_code == STATUS.get(case.code, 422) and r.json()["error"]["code"] == case.code, r.text
    assert stored_inputs(settings) == before


@pytest.mark.parametrize(("body", "code"), [
    ({"mode": "extend"}, "video_required"),
    ({"image": "data:image/png;base64,AAAA", "video": "job_x"}, "conflicting_inputs"),
    ({"video": "job_x", "strength": 0.5}, "invalid_request"),
    ({"video": "job_doesnotexist"}, "input_job_not_found"),
    ({"image": "job_doesnotexist"}, "input_job_not_found"),
    ({"image": "data:image/png,notbase64"}, "invalid_data_url"),
    ({"image": "data:image/png;base64,!!!!"}, "invalid_data_url"),
    ({"image": "ftp://example.com/cat.png"}, "invalid_media_reference"),
    ({"image": "https://example.com/cat.png"}, "url_inputs_disabled"),
    ({"video": {"url": "https://example.com/cat.mp4"}}, "url_inputs_disabled"),
    ({"segments": [{"prompt": "a", "duration": 2}], "duration": 3}, "invalid_request"),
    ({"segments": [{"prompt": "a", "duration": 40}, {"prompt": "b", "duration": 30}]}, "invalid_request"),
    ({"image_position": "middle"}, "invalid_request"),
])
def test_inconsistent_input_options_are_clear_errors(server, body, code):
    client, alice, _, _ = server
    r = client.post("/generate", headers=alice, json={"prompt": "x", **body})
    assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text


def test_odd_bodies_are_clear_errors(server):
    client, alice, _, _ = server
    r = client.post("/generate", headers={**alice, "content-type": "text/plain"}, content=b"x")
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_content_type"
    r = client.post("/generate", headers=alice, data={"prompt": "x"}, files={"poster": ("a.png", png(), "image/png")})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unexpected_file"
    r = client.post("/generate", headers=alice, data={"prompt": "x", "segments": "[not json"})
    assert r.status_code == 422 and r.json()["error"]["param"] == "segments"
    r = client.post("/generate", headers=alice, data={"prompt": "x", "duration": "long"})
    assert r.status_code == 422 and r.json()["error"]["param"] == "duration"


def test_another_keys_job_cannot_be_used_as_input(server):
    client, alice, bob, _ = server
    job = finish(client, alice, client.post("/generate", headers=alice, json={"prompt": "mine", "duration": 0.5,
                                                                               "steps": 1}))
    r = client.post("/generate", headers=bob, json={"prompt": "x", "video": {"job_id": job["id"]}})
    assert r.status_code == 422 and r.json()["error"]["code"] == "input_job_not_found"


# --- image → video --------------------------------------------------------------------------------------


def test_an_uploaded_image_is_animated_in_its_aspect_ratio(server):
    client, alice, _, settings = server
    r = client.post("/generate", headers=alice, data={"prompt": "the cat turns its head", "duration": "1", **FAST},
                    files={"image": ("cat.png", png(400, 300), "image/png")})
    job = finish(client, alice, r)
    image = job["request"]["image"]
    assert image == {"kind": "image", "content_type": "image/png", "width": 400, "height": 300, "frames": None,
                     "fps": None, "seconds": None, "source": "upload", "job_id": None}
    assert (job["request"]["width"], job["request"]["height"]) == (640, 480)  # 4:3 at 480p
    assert stored_inputs(settings).count("image.png") >= 1
    video = video_of(settings, job)
    assert (video.width, video.height, len(video.frames)) == (640, 480, 24)


def test_a_data_url_image_can_be_the_last_frame(server):
    client, alice, _, settings = server
    r = client.post("/generate", headers=alice, json={
        "prompt": "zoom out to reveal the city", "duration": 1, "steps": 2, "image_position": "last",
        "aspect_ratio": "16:9", "image": data_url(png(300, 300), "image/png")})
    job = finish(client, alice, r)
    assert job["request"]["image_position"] == "last" and job["request"]["image"]["source"] == "data_url"
    assert (job["request"]["width"], job["request"]["height"]) == (854, 480)  # asked for explicitly
    assert len(video_of(settings, job).frames) == 24


# --- video extension and modification ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def source(server):
    client, alice, _, settings = server
    job = finish(client, alice, client.post("/generate", headers=alice, json={
        "prompt": "waves", "duration": 1, "steps": 2, "width": 320, "height": 192, "seed": 5}))
    return job, video_of(settings, job)


def test_extending_a_job_starts_with_its_frames_and_joins_without_a_jump(server, source):
    client, alice, _, settings = server
    src_job, src = source
    job = finish(client, alice, client.post("/generate", headers=alice, json={
        "prompt": "the waves calm down", "duration": 1, "steps": 2, "video": src_job["id"], "seed": 9}))
    assert job["request"]["mode"] == "extend" and job["request"]["video"]["job_id"] == src_job["id"]
    assert (job["request"]["width"], job["request"]["height"]) == (320, 192)  # follows the input
    out = video_of(settings, job)
    assert len(out.frames) == 48 and job["output"]["seconds"] == 2.0
    # The first second is the input clip, re-encoded: the same pictures up to encoder loss (noise-like content
    # is the encoder's worst case: measured 28 dB), closer than to any other frame of the clip (at most 20 dB).
    same = min(psnr(a, b) for a, b in zip(out.frames[:24], src.frames, strict=True))
    shifted = max(psnr(a, b) for a, b in zip(out.frames[:24], src.frames[6:] + src.frames[:6], strict=True))
    assert same > 25 and same > shifted + 5, (same, shifted)
    # The seam moves no more than neighbouring frames do elsewhere in the output.
    steps = [mean_abs_diff(a, b) for a, b in zip(out.frames, out.frames[1:], strict=False)]
    seam, others = steps[23], steps[:23] + steps[24:]
    assert seam <= 1.5 * float(np.percentile(others, 90)), (seam, sorted(others)[-5:])


def test_an_extension_can_leave_the_input_out(server, source):
    client, alice, _, settings = server
    job = finish(client, alice, client.post("/generate", headers=alice, json={
        "prompt": "more waves", "duration": 0.5, "steps": 2, "video": {"job_id": source[0]["id"]},
        "include_input": False}))
    assert len(video_of(settings, job).frames) == 12 and job["output"]["seconds"] == 0.5


def test_an_uploaded_clip_is_extended_at_the_requested_rate(server):
    client, alice, _, settings = server
    clip = next(c for c in GOOD_CASES if c.name == "h264_mp4")  # 64x48, 10 frames at 10 fps
    job = finish(client, alice, client.post("/generate", headers=alice, data={
        "prompt": "and then it rains", "duration": "1", "fps": "24", **FAST},
        files={"video": ("clip.mp4", clip.data, "video/mp4")}))
    assert job["request"]["video"] | {"content_type": None} == {
        "kind": "video", "content_type": None, "width": 64, "height": 48, "frames": 10, "fps": 10.0,
        "seconds": 1.0, "source": "upload", "job_id": None}
    out = video_of(settings, job)
    assert (out.width, out.height, len(out.frames)) == (64, 48, 48)  # a clip keeps its size by default


def test_a_resolution_scales_an_input_clip_in_its_aspect_ratio(server):
    client, alice, _, settings = server
    clip = next(c for c in GOOD_CASES if c.name == "vp9_webm")  # 64x48
    job = finish(client, alice, client.post("/generate", headers=alice, data={
        "prompt": "and then it rains", "duration": "0.5", "resolution": "720p", "include_input": "false", **FAST},
        files={"video": ("clip.webm", clip.data, "video/webm")}))
    assert (job["request"]["width"], job["request"]["height"]) == (960, 720)
    assert len(video_of(settings, job).frames) == 12


def test_modify_regenerates_the_whole_clip(server, source):
    client, alice, _, settings = server
    src_job, src = source
    job = finish(client, alice, client.post("/generate", headers=alice, json={
        "prompt": "the same waves, at night", "steps": 4, "video": src_job["id"], "mode": "modify",
        "strength": 0.5}))
    req = job["request"]
    assert (req["mode"], req["strength"], req["duration"]) == ("modify", 0.5, 1.0)
    assert len(video_of(settings, job).frames) == len(src.frames)


# --- segments, sizes and rates -----------------------------------------------------------------------------


def test_segments_tell_a_story_in_parts(server):
    client, alice, _, settings = server
    job = finish(client, alice, client.post("/generate", headers=alice, json={
        "prompt": "a day at sea", "steps": 1, "width": 256, "height": 144,
        "segments": [{"prompt": "sunrise over the sea", "duration": 1}, {"prompt": "a storm", "duration": 1.5}]}))
    assert job["request"]["duration"] == 2.5 and [s["prompt"] for s in job["request"]["segments"]] == [
        "sunrise over the sea", "a storm"]
    assert job["output"]["segments"] == 2 and len(video_of(settings, job).frames) == 60


def test_1080p_at_60_fps_has_exactly_the_requested_size_and_frames(server):
    client, alice, _, settings = server
    job = finish(client, alice, client.post("/generate", headers=alice, json={
        "prompt": "fireworks", "duration": 0.5, "steps": 1, "resolution": "1080p", "fps": 60}))
    out = video_of(settings, job)
    assert (out.width, out.height, out.fps, len(out.frames)) == (1920, 1080, 60.0, 30)
    assert job["output"]["interpolation"] == "flow" and job["output"]["native"]["fps"] == 24


# --- URL inputs ---------------------------------------------------------------------------------------------


def test_url_inputs_never_reach_private_addresses(tmp_path):
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(png())

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    settings = Settings(data_dir=tmp_path, url_inputs=True)
    key = KeyStore(open_docstore(settings)).create("u")[1]
    try:
        with TestClient(create_app(settings)) as client:
            for url in (f"http://127.0.0.1:{httpd.server_port}/cat.png", f"http://localhost:{httpd.server_port}/a",
                        "http://169.254.169.254/latest/meta-data/", "http://[::1]/x.png"):
                r = client.post("/generate", headers={"Authorization": f"Bearer {key}"},
                                json={"prompt": "x", "image": {"url": url}})
                assert r.status_code == 422 and r.json()["error"]["code"] == "url_not_allowed", (url, r.text)
    finally:
        httpd.shutdown()
    assert hits == []  # nothing was fetched
