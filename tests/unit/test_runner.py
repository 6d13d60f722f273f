"""The job runner with the real tiny LTX pipeline, a SQLite job store and local storage."""

import threading

import pytest

from kinora.config import Settings
from kinora.docstore import SqliteDocStore
from kinora.jobs import GenerationRequest, JobStatus, new_job
from kinora.jobstore import JobStore
from kinora.storage import LocalStorage
from models.pipeline import VideoGenerator
from models.registry import get_spec
from tests.media import decode_mp4, watermark_visible
from worker.runner import Runtime, run_job


@pytest.fixture(scope="module")
def generator():
    return VideoGenerator.load(get_spec("ltx-tiny"), models_dir=None, device="cpu")


@pytest.fixture
def runtime(tmp_path, generator):
    settings = Settings(data_dir=tmp_path, watermark_text="Kinora AI", watermark_position="top-left")
    return Runtime(settings=settings, jobs=JobStore(SqliteDocStore(tmp_path / "db")),
                   storage=LocalStorage(tmp_path / "objects"), generator=generator)


def request(**overrides):
    base = dict(prompt="a red ball", model="ltx-tiny", duration=1.0, fps=24, width=320, height=192, seed=3,
                steps=3, guidance_scale=3.0)
    return GenerationRequest(**(base | overrides))


def test_a_job_runs_to_a_watermarked_mp4_in_storage(runtime):
    job = new_job("key_a", request(fps=30, duration=1.5))
    runtime.jobs.add(job)
    done = run_job(job.id, runtime)
    assert done.status is JobStatus.completed and done.progress == 100
    out = done.output
    assert (out.width, out.height, out.fps, out.frames, out.seconds) == (320, 192, 30, 45, 1.5)
    # 1.5 s at 24 fps: 36 native frames plus the one the last output instant is interpolated towards.
    assert out.native["frames"] == 37 and out.native["width"] % 32 == 0
    assert out.interpolation == "flow" and out.segments == 1 and out.upscaler == "lanczos"
    assert out.model_version == runtime.generator.version and out.model_version.startswith("sha256:")
    path = runtime.storage.locate(out.uri).path
    assert path.stat().st_size == out.bytes
    video = decode_mp4(path)
    assert len(video.frames) == 45 and (video.width, video.height) == (320, 192)
    assert f"job_id={job.id}" in video.metadata["comment"] and "model=ltx-tiny" in video.metadata["comment"]
    assert all(watermark_visible(f, 320, 192, "Kinora AI", "top-left") for f in video.frames)


def test_the_same_seed_gives_the_same_frames(runtime):
    a, b = new_job("k", request()), new_job("k", request())
    for job in (a, b):
        runtime.jobs.add(job)
        run_job(job.id, runtime)
    fa = decode_mp4(runtime.storage.locate(runtime.jobs.get(a.id).output.uri).path).frames
    fb = decode_mp4(runtime.storage.locate(runtime.jobs.get(b.id).output.uri).path).frames
    assert all((x == y).all() for x, y in zip(fa, fb, strict=True))


def test_cancel_during_diffusion_stops_within_one_step_and_stores_nothing(runtime, monkeypatch):
    job = new_job("k", request(steps=50))
    runtime.jobs.add(job)
    steps_seen = []
    original = runtime.jobs.progress

    def progress(job_id, value):
        steps_seen.append(value)
        if len(steps_seen) == 3:  # the user cancels while step 3 runs
            runtime.jobs.request_cancel(job_id)
        original(job_id, value)

    monkeypatch.setattr(runtime.jobs, "progress", progress)
    ended = run_job(job.id, runtime)
    assert ended.status is JobStatus.cancelled
    assert len(steps_seen) == 3
    assert not list((runtime.settings.data_dir / "objects").glob("*.mp4"))


def test_a_cancelled_queued_job_never_runs(runtime):
    job = new_job("k", request())
    runtime.jobs.add(job)
    runtime.jobs.request_cancel(job.id)
    assert run_job(job.id, runtime) is None
    assert runtime.jobs.get(job.id).status is JobStatus.cancelled
    assert not list((runtime.settings.data_dir / "objects").glob("*.mp4"))


def test_a_failing_generation_is_data_in_the_job(runtime, monkeypatch):
    job = new_job("k", request())
    runtime.jobs.add(job)

    def boom(*_, **__):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(runtime.generator, "generate_run", boom)
    ended = run_job(job.id, runtime)
    assert ended.status is JobStatus.failed
    assert ended.error.code == "generation_failed" and "out of memory" in ended.error.message


def test_progress_is_reported_at_every_step(runtime):
    job = new_job("k", request(steps=6))
    runtime.jobs.add(job)
    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            seen.append(runtime.jobs.get(job.id).progress)

    t = threading.Thread(target=watch)
    t.start()
    run_job(job.id, runtime)
    stop.set()
    t.join()
    assert seen == sorted(seen) and seen[-1] == 100


def test_a_wan_job_follows_wan_rules_end_to_end(tmp_path):
    rt = Runtime(settings=Settings(data_dir=tmp_path), jobs=JobStore(SqliteDocStore(tmp_path / "db")),
                 storage=LocalStorage(tmp_path / "objects"),
                 generator=VideoGenerator.load(get_spec("wan-tiny"), models_dir=None, device="cpu"))
    job = new_job("k", request(model="wan-tiny", duration=1.0, fps=24, steps=2))
    rt.jobs.add(job)
    done = run_job(job.id, rt)
    assert done.status is JobStatus.completed, done.error
    assert done.output.native == {"width": 160, "height": 96, "frames": 17, "fps": 16}
    assert len(decode_mp4(rt.storage.locate(done.output.uri).path).frames) == 24


def test_the_learned_upscaler_runs_in_the_worker_and_is_reported(tmp_path, generator):
    from worker.postprocess import open_resizer

    rt = Runtime(settings=Settings(data_dir=tmp_path), jobs=JobStore(SqliteDocStore(tmp_path / "db")),
                 storage=LocalStorage(tmp_path / "objects"), generator=generator,
                 resizer=open_resizer("learned", "cpu"))
    job = new_job("k", request(duration=0.5, width=448, height=256))
    rt.jobs.add(job)
    done = run_job(job.id, rt)
    assert done.output.upscaler == "kinora-sr-x2x4" and done.output.native["width"] == 224
    video = decode_mp4(rt.storage.locate(done.output.uri).path)
    assert (video.width, video.height, len(video.frames)) == (448, 256, 12)
    assert open_resizer("auto", "cpu").name == "lanczos"  # on a CPU the default stays Lanczos


def test_a_wan_image_to_video_job_animates_its_stored_image(tmp_path):
    import io

    import numpy as np
    from PIL import Image

    from kinora.jobs import MediaRef

    storage = LocalStorage(tmp_path / "objects")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (96, 160, 3), dtype=np.uint8)).save(buf, "PNG")
    uri = storage.put_bytes(buf.getvalue(), "inputs/x/image.png", "image/png")
    image = MediaRef(uri=uri, kind="image", content_type="image/png", width=160, height=96, source="upload")
    rt = Runtime(settings=Settings(data_dir=tmp_path), jobs=JobStore(SqliteDocStore(tmp_path / "db")),
                 storage=storage, generator=VideoGenerator.load(get_spec("wan-tiny-i2v"), models_dir=None,
                                                                device="cpu"))
    job = new_job("k", request(model="wan-tiny-i2v", duration=1.0, fps=16, width=160, height=96, steps=2,
                               image=image))
    rt.jobs.add(job)
    done = run_job(job.id, rt)
    assert done.status is JobStatus.completed, done.error
    assert done.output.native == {"width": 160, "height": 96, "frames": 17, "fps": 16}
    assert len(decode_mp4(rt.storage.locate(done.output.uri).path).frames) == 16
    text_only = new_job("k", request(model="wan-tiny-i2v", duration=1.0, fps=16, width=160, height=96, steps=2))
    rt.jobs.add(text_only)
    failed = run_job(text_only.id, rt)  # the gateway refuses these; the worker still fails them clearly
    assert failed.status is JobStatus.failed and "cannot be conditioned" in failed.error.message


def test_a_wan_vace_job_chains_runs_and_extends_a_stored_clip(tmp_path):
    from kinora.jobs import MediaRef
    from tests.badmedia import encode_video

    storage = LocalStorage(tmp_path / "objects")
    rt = Runtime(settings=Settings(data_dir=tmp_path), jobs=JobStore(SqliteDocStore(tmp_path / "db")),
                 storage=storage, generator=VideoGenerator.load(get_spec("wan-tiny-vace"), models_dir=None,
                                                                device="cpu"))
    # 6 s at 16 fps is longer than one Wan run (81 frames): two runs, the second kept to the first's last 9.
    long = new_job("k", request(model="wan-tiny-vace", duration=6.0, fps=16, width=160, height=96, steps=2))
    rt.jobs.add(long)
    done = run_job(long.id, rt)
    assert done.status is JobStatus.completed, done.error
    assert done.output.segments == 2 and done.output.native["frames"] == 97
    assert len(decode_mp4(rt.storage.locate(done.output.uri).path).frames) == 96
    uri = storage.put_bytes(encode_video(width=160, height=96, frames=16, fps=16), "inputs/x/clip.mp4", "video/mp4")
    clip = MediaRef(uri=uri, kind="video", content_type="video/mp4", width=160, height=96, frames=16, fps=16.0,
                    seconds=1.0, source="upload")
    extend = new_job("k", request(model="wan-tiny-vace", duration=1.0, fps=16, width=160, height=96, steps=2,
                                  video=clip, mode="extend"))
    rt.jobs.add(extend)
    done = run_job(extend.id, rt)
    assert done.status is JobStatus.completed, done.error
    assert len(decode_mp4(rt.storage.locate(done.output.uri).path).frames) == 32  # the clip, then 1 s more


def test_a_wan_job_modifies_a_stored_clip_with_the_video_to_video_pipeline(tmp_path):
    from kinora.jobs import MediaRef
    from tests.badmedia import encode_video

    storage = LocalStorage(tmp_path / "objects")
    gen = VideoGenerator.load(get_spec("wan-tiny"), models_dir=None, device="cpu")
    assert type(gen.modify_pipe).__name__ == "WanVideoToVideoPipeline" and gen.modify_pipe.vae is gen.pipe.vae
    rt = Runtime(settings=Settings(data_dir=tmp_path), jobs=JobStore(SqliteDocStore(tmp_path / "db")),
                 storage=storage, generator=gen)
    uri = storage.put_bytes(encode_video(width=160, height=96, frames=16, fps=16), "inputs/x/clip.mp4", "video/mp4")
    clip = MediaRef(uri=uri, kind="video", content_type="video/mp4", width=160, height=96, frames=16, fps=16.0,
                    seconds=1.0, source="upload")
    job = new_job("k", request(model="wan-tiny", duration=1.0, fps=16, width=160, height=96, steps=4, video=clip,
                               mode="modify", strength=0.5))
    rt.jobs.add(job)
    steps = []
    original = rt.jobs.progress
    rt.jobs.progress = lambda job_id, value: steps.append(value) or original(job_id, value)  # type: ignore[method-assign]
    done = run_job(job.id, rt)
    assert done.status is JobStatus.completed, done.error
    assert len(decode_mp4(rt.storage.locate(done.output.uri).path).frames) == 16
    assert done.output.native["frames"] == 17 and len(steps) >= 2  # strength 0.5 of 4 steps: 2 steps
