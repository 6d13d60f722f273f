"""Peak memory of a long request versus a short one: frames stream to the encoder, so it should not grow.

Each duration runs in its own fresh process (the real worker path: run_job with the tiny LTX preset, local
storage), which prints its peak RSS; this script prints them side by side with their ratio.

    .venv/bin/python bench/long_video.py                       # 10 s vs 60 s at 854x480, 24 fps
    .venv/bin/python bench/long_video.py --size 320x180 --seconds 10 60
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def render_once(seconds: float, width: int, height: int, fps: int, steps: int) -> dict:
    """Run one job in this process; report its frames, wall time and this process's peak RSS."""
    import av

    from kinora.config import Settings
    from kinora.docstore import SqliteDocStore
    from kinora.jobs import GenerationRequest, new_job
    from kinora.jobstore import JobStore
    from kinora.storage import LocalStorage
    from models.pipeline import VideoGenerator
    from models.registry import get_spec
    from worker.runner import Runtime, run_job

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rt = Runtime(settings=Settings(data_dir=root), jobs=JobStore(SqliteDocStore(root / "db")),
                     storage=LocalStorage(root / "objects"),
                     generator=VideoGenerator.load(get_spec("ltx-tiny"), models_dir=root, device="cpu"))
        loaded_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        job = new_job("bench", GenerationRequest(prompt="a long shot of the sea", model="ltx-tiny", duration=seconds,
                                                 fps=fps, width=width, height=height, seed=1, steps=steps,
                                                 guidance_scale=3.0))
        rt.jobs.add(job)
        start = time.perf_counter()
        done = run_job(job.id, rt)
        wall = time.perf_counter() - start
        if done is None or done.output is None:
            raise SystemExit(f"job did not complete: {done and done.error}")
        with av.open(str(rt.storage.locate(done.output.uri).path)) as container:
            stream = container.streams.video[0]
            decoded = sum(1 for _ in container.decode(stream))
            duration = float(stream.duration * stream.time_base) if stream.duration else None
        return {"seconds": seconds, "frames": done.output.frames, "decoded_frames": decoded,
                "stream_seconds": duration, "runs": done.output.segments, "wall_s": round(wall, 2),
                "rss_after_load_mb": round(loaded_rss), "peak_rss_mb": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def measure(seconds: float, size: str, fps: int, steps: int) -> dict:
    """One render in a fresh interpreter, so each peak is its own."""
    # glibc gives each thread its own malloc arena and keeps freed memory in it, which blurs peaks by ±100 MB;
    # two arenas (as the worker image sets) make the peak a property of the work, not of thread timing.
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "MALLOC_ARENA_MAX": "2"}
    out = subprocess.run([sys.executable, __file__, "--child", "--seconds", str(seconds), "--size", size,
                          "--fps", str(fps), "--steps", str(steps)], env=env, check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[10, 60])
    parser.add_argument("--size", default="854x480")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    if args.child:
        print(json.dumps(render_once(args.seconds[0], width, height, args.fps, args.steps)))
        return
    rows = [measure(s, args.size, args.fps, args.steps) for s in args.seconds]
    print(f"ltx-tiny (random weights), {args.size} at {args.fps} fps, {args.steps} steps, one process per row")
    print(f"{'seconds':>8} {'frames':>7} {'runs':>5} {'wall s':>8} {'RSS after load MB':>18} {'peak RSS MB':>12}")
    for r in rows:
        print(f"{r['seconds']:8g} {r['frames']:7d} {r['runs']:5d} {r['wall_s']:8.1f} {r['rss_after_load_mb']:18d}"
              f" {r['peak_rss_mb']:12d}")
    print(f"peak RSS ratio {rows[-1]['seconds']:g} s / {rows[0]['seconds']:g} s: "
          f"{rows[-1]['peak_rss_mb'] / rows[0]['peak_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
