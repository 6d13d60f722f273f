"""The web page in a real browser (Debian's Chromium driven by Playwright) against a running `kinora serve`."""

import shutil
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.conftest import TEST_MODEL

pytestmark = pytest.mark.e2e
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As root, without a screen, on a closed network: no sandbox, no GPU, no calls home.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
WAIT_MS = 120_000


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium (`apt-get install chromium`; .ci/run installs it)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"the page threw: {errors}"


def connect(page, live_server) -> None:
    """Open the page the way `kinora serve` prints it: the key in the fragment, never sent to the server."""
    page.goto(f"{live_server.base}/#key={live_server.key}")
    sync_api.expect(page.locator("#key-state")).to_have_text("Connected.")


def card_of(page, prompt: str):
    return page.locator(".job", has=page.locator(".prompt", has_text=prompt))


def test_the_page_and_its_files_are_open_while_the_api_stays_closed(live_server):
    page = httpx.get(f"{live_server.base}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in page.text
    script = httpx.get(f"{live_server.base}/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert httpx.get(f"{live_server.base}/static/../main.py").status_code == 404
    assert httpx.get(f"{live_server.base}/jobs").status_code == 401


def test_a_prompt_typed_in_the_page_plays_back_as_the_jobs_mp4(page, live_server):
    connect(page, live_server)
    assert "#key" not in page.url  # dropped from the address bar once stored
    assert page.locator("#model").input_value() == TEST_MODEL  # the server's default, from GET /models

    page.fill("#prompt", "a paper boat on a pond")
    page.fill("#duration", "1")
    page.select_option("#aspect_ratio", "1:1")
    page.click("#submit")

    card = card_of(page, "a paper boat on a pond")
    sync_api.expect(card.locator(".badge")).to_have_text("completed", timeout=WAIT_MS)
    video = card.locator("video")
    sync_api.expect(video).to_be_visible()
    page.wait_for_function("v => v.readyState >= 1 && v.videoWidth > 0", arg=video.element_handle(), timeout=WAIT_MS)
    shown = video.evaluate("v => [v.videoWidth, v.videoHeight, v.duration]")

    job_id = card.get_attribute("data-id")
    job = httpx.get(f"{live_server.base}/jobs/{job_id}", headers=live_server.headers).json()
    assert job["request"]["prompt"] == "a paper boat on a pond" and job["request"]["duration"] == 1
    # The browser decoded the job's own MP4: its size (the 1:1 chosen) and length.
    assert shown[:2] == [job["output"]["width"], job["output"]["height"]] == [480, 480]
    assert shown[2] == pytest.approx(job["output"]["seconds"], abs=0.1)
    assert card.locator(".download").get_attribute("href").startswith("blob:")
    assert card.locator(".download").get_attribute("download") == f"{job_id}.mp4"

    # The key stays in this browser: a plain reload lists the job again without asking.
    page.goto(f"{live_server.base}/")
    sync_api.expect(page.locator("#key-state")).to_have_text("Connected.")
    sync_api.expect(card_of(page, "a paper boat on a pond").locator(".badge")).to_have_text("completed")


def test_an_image_chosen_in_the_page_is_sent_and_animated(page, live_server, tmp_path):
    image = tmp_path / "start.png"
    Image.new("RGB", (96, 64), (200, 40, 40)).save(image)
    connect(page, live_server)
    page.fill("#prompt", "the red card <b>flies</b> away")
    page.fill("#duration", "1")
    page.click("#inputs summary")
    page.set_input_files("#image", str(image))
    page.click("#submit")

    card = card_of(page, "the red card <b>flies</b> away")  # shown as text, never as markup
    sync_api.expect(card.locator(".badge")).to_have_text("completed", timeout=WAIT_MS)
    assert card.locator(".prompt b").count() == 0
    job = httpx.get(f"{live_server.base}/jobs/{card.get_attribute('data-id')}", headers=live_server.headers).json()
    assert job["request"]["image"]["kind"] == "image"
    assert (job["request"]["image"]["width"], job["request"]["image"]["height"]) == (96, 64)
    assert job["request"]["image_position"] == "first"


def test_the_servers_validation_error_is_shown_on_its_field(page, live_server):
    connect(page, live_server)
    page.fill("#prompt", "too long a clip")
    page.fill("#duration", "90")
    page.click("#submit")
    error = page.locator("#form-error")
    sync_api.expect(error).to_be_visible()
    sync_api.expect(error).to_contain_text("duration")
    sync_api.expect(page.locator("#duration")).to_have_class("invalid")
    assert card_of(page, "too long a clip").count() == 0

    page.fill("#duration", "1")
    page.fill("#prompt", "   ")
    page.click("#submit")
    sync_api.expect(error).to_contain_text("Write a prompt")


def test_a_running_job_is_cancelled_from_its_card(page, live_server):
    connect(page, live_server)
    page.fill("#prompt", "a very slow sunrise")
    page.fill("#duration", "2")
    page.click("#advanced summary")
    page.fill("#steps", "200")  # long enough to be caught running
    page.click("#submit")

    card = card_of(page, "a very slow sunrise")
    sync_api.expect(card.locator(".badge")).to_have_text("in progress", timeout=WAIT_MS)
    card.locator(".cancel").click()
    sync_api.expect(card.locator(".badge")).to_have_text("cancelled", timeout=WAIT_MS)
    sync_api.expect(card.locator(".cancel")).to_be_hidden()
    sync_api.expect(card.locator("video")).to_be_hidden()


def test_a_wrong_key_is_refused_and_nothing_is_listed(page, live_server):
    page.goto(f"{live_server.base}/#key=kin_not-a-real-key")
    sync_api.expect(page.locator("#key-state")).to_contain_text("Key refused")
    assert page.locator(".job").count() == 0
    assert page.evaluate("localStorage.getItem('kinora.apiKey')") is None


def test_a_finished_video_is_extended_from_its_card(page, live_server):
    made = httpx.post(f"{live_server.base}/generate", headers=live_server.headers,
                      json={"prompt": "a kite rising", "duration": 1, "width": 256, "height": 144}).json()
    connect(page, live_server)
    first = card_of(page, "a kite rising")
    sync_api.expect(first.locator(".badge")).to_have_text("completed", timeout=WAIT_MS)

    first.locator(".extend").click()
    sync_api.expect(page.locator("#source")).to_contain_text("Extending “a kite rising”")
    page.fill("#prompt", "the kite loops in the wind")
    page.fill("#duration", "1")
    page.click("#submit")
    sync_api.expect(page.locator("#source")).to_be_hidden()  # one request only

    card = card_of(page, "the kite loops in the wind")
    sync_api.expect(card.locator(".badge")).to_have_text("completed", timeout=WAIT_MS)
    job = httpx.get(f"{live_server.base}/jobs/{card.get_attribute('data-id')}", headers=live_server.headers).json()
    assert job["request"]["mode"] == "extend" and job["request"]["video"]["job_id"] == made["id"]
    # The extension starts with the kite's own second (include_input) and adds one more.
    assert job["output"]["seconds"] == pytest.approx(2, abs=0.1)
    assert (job["output"]["width"], job["output"]["height"]) == (256, 144)  # follows its input
