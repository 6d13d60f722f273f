from kinora import jobs
from kinora.jobs import GenerationRequest, JobOutput, JobStatus, new_id, new_job

REQ = GenerationRequest(prompt="p", model="ltx-tiny", duration=1, fps=24, width=64, height=64, seed=1, steps=2,
                        guidance_scale=1.0)
OUT = JobOutput(uri="local:x.mp4", width=64, height=64, fps=24, frames=24, seconds=1.0, bytes=10, model="ltx-tiny")


def test_ids_sort_by_creation_time():
    ids = [new_id("job") for _ in range(200)]
    assert ids == sorted(ids) and len(set(ids)) == 200


def test_happy_path():
    job = new_job("key_1", REQ)
    running = jobs.start(job)
    assert running.status is JobStatus.in_progress and running.started_at and running.attempts == 1
    assert jobs.set_progress(running, 40).progress == 40
    done = jobs.complete(running, OUT)
    assert done.status is JobStatus.completed and done.progress == 100 and done.completed_at
    assert done.status.is_terminal
    assert jobs.start(done) is None and jobs.fail(done, "x", "y") is None and jobs.request_cancel(done) is None


def test_cancelling_a_queued_job_ends_it_at_once():
    cancelled = jobs.request_cancel(new_job("k", REQ))
    assert cancelled.status is JobStatus.cancelled and cancelled.error.code == "cancelled"
    assert jobs.start(cancelled) is None


def test_cancelling_a_running_job_flags_it_and_blocks_completion():
    running = jobs.start(new_job("k", REQ))
    flagged = jobs.request_cancel(running)
    assert flagged.status is JobStatus.in_progress and flagged.cancel_requested
    assert jobs.complete(flagged, OUT) is None
    assert jobs.finish_cancelled(flagged).status is JobStatus.cancelled


def test_a_redelivered_job_starts_again():
    running = jobs.start(new_job("k", REQ))
    again = jobs.start(jobs.set_progress(running, 50))
    assert again.attempts == 2 and again.progress == 0


def test_progress_only_moves_forward():
    running = jobs.set_progress(jobs.start(new_job("k", REQ)), 50)
    assert jobs.set_progress(running, 30) is None
    assert jobs.set_progress(running, 100).progress == 99  # 100 is reserved for completion
