"""Where the time of the documented request goes, stage by stage, with the embedded default model.

    python bench/spine.py [--duration 15] [--resolution 480p] [--repeat 3]

Runs `run_job`'s stages in-process on this machine (SQLite store, local storage) and prints the median
seconds of each stage and its share of the total. The default model has random weights: the numbers measure
the service's plumbing, not a real model's quality or speed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from app.schemas import GenerateRequest
from app.service import resolve_request
from kinora.config import Settings
from kinora.docstore import SqliteDocStore
from kinora.jobs import new_job
from kinora.jobstore import JobStore
from kinora.storage import LocalStorage
from models.pipeline import VideoGenerator
from models.registry import get_spec
from worker.runner import Runtime, render_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--resolution", default="480p")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    spec = get_spec("ltx-tiny")
    generator = VideoGenerator.load(spec, Path("."), device="cpu")
    load_s = time.perf_counter() - t0
    req = resolve_request(GenerateRequest(prompt="Une mer agitée au coucher du soleil", duration=args.duration,
                                          resolution=args.resolution, seed=0), spec)
    stages: dict[str, list[float]] = {"diffusion + VAE decode": [], "resize + watermark + encode": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rt = Runtime(settings=Settings(data_dir=root), jobs=JobStore(SqliteDocStore(root / "db")),
                     storage=LocalStorage(root / "objects"), generator=generator)
        for _ in range(args.repeat):
            job = new_job("bench", req)
            rt.jobs.add(job)
            rt.jobs.start(job.id)
            t = time.perf_counter()
            native = generator.generate(req, lambda done, total: None)
            stages["diffusion + VAE decode"].append(time.perf_counter() - t)
            t = time.perf_counter()
            out = render_video(job, native.frames, native.fps, root / "v.mp4", rt)
            stages["resize + watermark + encode"].append(time.perf_counter() - t)

    medians = {k: statistics.median(v) for k, v in stages.items()}
    total = sum(medians.values())
    print(f"request: {req.duration:g} s at {req.width}x{req.height}, {req.fps} fps, {req.steps} steps "
          f"({out.frames} output frames from {out.native['frames']} native at "
          f"{out.native['width']}x{out.native['height']}); model load {load_s:.2f} s (once per process)")
    for name, value in medians.items():
        print(f"  {name:<30} {value:6.2f} s  {value / total:6.1%}")
    print(f"  {'total per job':<30} {total:6.2f} s  (median of {args.repeat}; output {out.bytes / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
