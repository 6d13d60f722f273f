"""Where the time of the documented request goes, stage by stage, for one model.

    python bench/spine.py [--duration 15] [--resolution 480p] [--fps 24] [--upscaler lanczos] [--repeat 3]
                          [--model ltx-tiny] [--prompt TEXT]

Runs the worker's `render_video` in-process on this machine (SQLite store, local storage) and prints the
median seconds of each stage and its share of the total. Stages interleave (frames stream from the model
to the encoder), so each is timed where it runs: the model runs, the resize (super-resolution) calls, and the
rest (frame interpolation, watermark, encoding). The default, ``ltx-tiny``, has random weights: its numbers
measure the service's plumbing, not a real model's quality or speed; ``--model kinora-dit`` times the embedded
default model end to end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.schemas import GenerateRequest  # noqa: E402
from app.service import resolve_request  # noqa: E402
from kinora.config import Settings  # noqa: E402
from kinora.docstore import SqliteDocStore  # noqa: E402
from kinora.jobs import new_job  # noqa: E402
from kinora.jobstore import JobStore  # noqa: E402
from kinora.storage import LocalStorage  # noqa: E402
from models.pipeline import VideoGenerator  # noqa: E402
from models.registry import get_spec  # noqa: E402
from worker.postprocess import open_resizer  # noqa: E402
from worker.runner import Runtime, render_video  # noqa: E402


class Timed:
    """Wraps a callable and adds up the seconds spent in it."""

    def __init__(self, fn):  # type: ignore[no-untyped-def]
        self.fn, self.seconds = fn, 0.0

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--resolution", default="480p")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--upscaler", default="lanczos", choices=["lanczos", "learned"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model", default="ltx-tiny", help="a registry name (kinora-dit: the embedded default)")
    parser.add_argument("--prompt", default="Une mer agitée au coucher du soleil")
    args = parser.parse_args()

    t0 = time.perf_counter()
    spec = get_spec(args.model)
    generator = VideoGenerator.load(spec, Path("."), device="cpu")
    load_s = time.perf_counter() - t0
    req = resolve_request(GenerateRequest(prompt=args.prompt, duration=args.duration,
                                          resolution=args.resolution, fps=args.fps, seed=0), spec)
    stages: dict[str, list[float]] = {"model runs": [], f"resize ({args.upscaler})": [],
                                      "interpolate + watermark + encode": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rt = Runtime(settings=Settings(data_dir=root), jobs=JobStore(SqliteDocStore(root / "db")),
                     storage=LocalStorage(root / "objects"), generator=generator,
                     resizer=open_resizer(args.upscaler, "cpu"))
        runs, resize = Timed(generator.generate_run), Timed(rt.resizer.resize)
        generator.generate_run, rt.resizer.resize = runs, resize  # type: ignore[method-assign]
        for _ in range(args.repeat):
            runs.seconds = resize.seconds = 0.0
            job = new_job("bench", req)
            rt.jobs.add(job)
            rt.jobs.start(job.id)
            t = time.perf_counter()
            out = render_video(job, root / "v.mp4", rt, lambda done, total: None)
            total = time.perf_counter() - t
            stages["model runs"].append(runs.seconds)
            stages[f"resize ({args.upscaler})"].append(resize.seconds)
            stages["interpolate + watermark + encode"].append(total - runs.seconds - resize.seconds)

    medians = {k: statistics.median(v) for k, v in stages.items()}
    total = sum(medians.values())
    print(f"{spec.name}, {req.prompt!r}: {req.duration:g} s at {req.width}x{req.height}, {req.fps} fps, "
          f"{req.steps} steps "
          f"({out.frames} output frames from {out.native['frames']} native at "
          f"{out.native['width']}x{out.native['height']}, {out.segments} run(s), interpolation "
          f"{out.interpolation}); model load {load_s:.2f} s (once per process)")
    for name, value in medians.items():
        print(f"  {name:<34} {value:6.2f} s  {value / total:6.1%}")
    print(f"  {'total per job':<34} {total:6.2f} s  (median of {args.repeat}; output {out.bytes / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
