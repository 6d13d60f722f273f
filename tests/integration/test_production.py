"""Production mode with real parts: gateway and Celery worker as subprocesses, Redis, an S3 HTTP server."""

import os
import signal

import boto3
import httpx
import psutil
import pytest

from kinora.config import Settings
from kinora.docstore import open_docstore
from kinora.jobstore import JobStore
from tests.conftest import free_port, wait_until
from tests.media import decode_mp4, watermark_visible
from tests.processes import create_key, kinora_env, running, serving

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(tmp_path, redis_url, redis_prefix, s3_endpoint, s3_bucket):
    env = kinora_env(redis_url=redis_url, redis_prefix=redis_prefix, queue_prefix=redis_prefix,
                     s3_endpoint_url=s3_endpoint, s3_bucket=s3_bucket, s3_access_key_id="test",
                     s3_secret_access_key="test", data_dir=tmp_path / "unused", watermark_position="top-right")
    key = create_key(env)
    with serving(env, free_port(), tmp_path / "gateway.log") as url, \
            running(["worker", "--hostname", f"w1@{redis_prefix}"], env, tmp_path / "worker.log") as worker:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        with client:
            try:
                wait_until(lambda: client.get("/readyz").status_code == 200, 120, interval=0.5, what="a worker")
            except TimeoutError:
                raise AssertionError((tmp_path / "worker.log").read_text()[-3000:]) from None
            s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test",
                              aws_secret_access_key="test")
            jobs = JobStore(open_docstore(Settings(redis_url=redis_url, redis_prefix=redis_prefix)))
            yield client, worker, s3, s3_bucket, tmp_path, jobs


def wait_status(client, job_id, statuses, timeout=90):
    return wait_until(lambda: (j := client.get(f"/jobs/{job_id}").json())["status"] in statuses and j,
                      timeout, interval=0.2, what=f"job {job_id} to reach {statuses}")


def test_a_job_goes_through_celery_to_the_bucket_and_downloads_by_presigned_url(stack):
    client, _, s3, bucket, tmp, _ = stack
    assert client.get("/readyz").json()["checks"]["worker"] == "ok: ltx-tiny"
    r = client.post("/generate", json={"prompt": "Une mer agitée au coucher du soleil", "duration": 1.5,
                                       "resolution": "720p", "fps": 30, "steps": 3})
    assert r.status_code == 202
    job_id = r.json()["id"]
    done = wait_status(client, job_id, {"completed", "failed"})
    assert done["status"] == "completed", done
    head = s3.head_object(Bucket=bucket, Key=f"videos/{job_id}.mp4")
    assert head["ContentLength"] == done["output"]["bytes"] and head["ContentType"] == "video/mp4"

    redirect = client.get(f"/jobs/{job_id}/content", follow_redirects=False)
    assert redirect.status_code == 302
    presigned = redirect.headers["location"]
    assert bucket in presigned and "X-Amz-Signature" in presigned
    body = httpx.get(presigned, timeout=30)
    assert body.status_code == 200
    path = tmp / "out.mp4"
    path.write_bytes(body.content)
    video = decode_mp4(path)
    assert (video.width, video.height, video.fps, len(video.frames)) == (1280, 720, 30, 45)
    assert watermark_visible(video.frames[0], 1280, 720, "AI-generated", "top-right")
    assert f"job_id={job_id}" in video.metadata["comment"]


def test_cancel_reaches_a_running_celery_job_and_nothing_is_stored(stack):
    client, _, s3, bucket, _, _ = stack
    job_id = client.post("/generate", json={"prompt": "long", "duration": 20, "steps": 200}).json()["id"]
    wait_until(lambda: client.get(f"/jobs/{job_id}").json()["progress"] > 0, 60, what="progress")
    assert client.post(f"/jobs/{job_id}/cancel").status_code == 200
    ended = wait_status(client, job_id, {"completed", "failed", "cancelled"}, timeout=30)
    assert ended["status"] == "cancelled"
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_a_job_survives_its_worker_process_being_killed(stack):
    client, worker, s3, bucket, tmp, jobs = stack
    job_id = client.post("/generate", json={"prompt": "survive", "duration": 20, "steps": 60}).json()["id"]
    wait_until(lambda: client.get(f"/jobs/{job_id}").json()["progress"] > 0, 60, what="progress")
    # Kill the pool process running the job; Celery requeues the unacknowledged task (acks_late +
    # reject_on_worker_lost) and a fresh pool process, which loads the model again, runs it.
    [child] = psutil.Process(worker.pid).children(recursive=True)
    os.kill(child.pid, signal.SIGKILL)
    done = wait_status(client, job_id, {"completed", "failed"}, timeout=180)
    assert done["status"] == "completed", (tmp / "worker.log").read_text()[-3000:]
    assert s3.head_object(Bucket=bucket, Key=f"videos/{job_id}.mp4")["ContentLength"] == done["output"]["bytes"]
    assert jobs.get(job_id).attempts == 2  # it really ran twice: once killed, once to completion
