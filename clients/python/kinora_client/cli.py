"""The ``kinora-client`` command: generate a video with a live progress bar, list, get, cancel and download jobs.

``register(app)`` adds the same commands to another typer app (the server's ``kinora`` command does so).
Exit codes: 0 ok, 1 the job failed, was cancelled or was not done in time, 2 a usage or HTTP error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from kinora_client.client import Kinora
from kinora_client.errors import JobFailed, KinoraError, KinoraTimeout
from kinora_client.models import Job

EXIT_JOB_FAILED, EXIT_ERROR = 1, 2

BaseUrl = Annotated[str | None, typer.Option("--base-url", envvar="KINORA_BASE_URL",
                                             help="The Kinora server (else http://localhost:8000).")]
ApiKey = Annotated[str | None, typer.Option("--api-key", envvar="KINORA_API_KEY", show_default=False,
                                            help="An API key (kin_…).")]


class Mode(StrEnum):
    extend = "extend"
    modify = "modify"


class Variant(StrEnum):
    video = "video"
    thumbnail = "thumbnail"
    spritesheet = "spritesheet"


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def _client(base_url: str | None, api_key: str | None) -> Iterator[Kinora]:
    """A client, with the errors it raises turned into a message and an exit code."""
    err = _stderr()
    try:
        with Kinora(base_url, api_key) as client:
            yield client
    except (JobFailed, KinoraTimeout) as exc:
        err.print(f"[red]Job {exc.job.id} {exc.job.status}[/red]: {escape(exc.message)} ({escape(exc.code)})")
        raise typer.Exit(EXIT_JOB_FAILED) from None
    except KinoraError as exc:
        details = [f"HTTP {exc.status}"] if exc.status else []
        details += [exc.code] + ([f"param {exc.param}"] if exc.param else [])
        err.print(f"Error: {exc.message} ({', '.join(details)})", markup=False)
        raise typer.Exit(EXIT_ERROR) from None
    except FileNotFoundError as exc:  # an input that is neither a file nor a job id
        err.print(f"Error: {exc}", markup=False)
        raise typer.Exit(EXIT_ERROR) from None


def _describe(job: Job) -> str:
    text = job.status.replace("_", " ")
    return f"{text} (#{job.queue_position} in queue)" if job.queue_position is not None else text


def _eta(job: Job) -> str:
    return f"ETA {job.eta_seconds:.0f} s" if job.eta_seconds is not None and not job.is_terminal else ""


@contextmanager
def _progress_display(console: Console) -> Iterator[Callable[[Job], None]]:
    """A live bar on a terminal; elsewhere (logs, CI), one line per change of status."""
    if not console.is_terminal:
        last: list[str] = []

        def log_line(job: Job) -> None:
            if not last or last[-1] != job.status:
                last.append(job.status)
                console.print(f"{job.id}: {_describe(job)} {job.progress}% {_eta(job)}".rstrip(), markup=False)

        yield log_line
        return
    columns = (TextColumn("{task.fields[job]}"), TextColumn("[bold]{task.description}"), BarColumn(),
               TaskProgressColumn(), TextColumn("{task.fields[eta]}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("submitting", total=100, job="", eta="")

        def update(job: Job) -> None:
            progress.update(task, completed=job.progress, description=_describe(job), job=job.id, eta=_eta(job))

        yield update


def generate(
    prompt: Annotated[str, typer.Argument(help="What the video shows.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to save the MP4.",
                                                show_default="<job id>.mp4")] = None,
    duration: Annotated[float | None, typer.Option(help="Seconds of video (default 5).")] = None,
    fps: Annotated[int | None, typer.Option(help="Frames per second (default 24).")] = None,
    resolution: Annotated[str | None, typer.Option(help="480p, 720p or 1080p.")] = None,
    aspect_ratio: Annotated[str | None, typer.Option(help="16:9, 9:16 or 1:1.")] = None,
    width: Annotated[int | None, typer.Option(help="Explicit width (even; with --height).")] = None,
    height: Annotated[int | None, typer.Option(help="Explicit height (even; with --width).")] = None,
    model: Annotated[str | None, typer.Option(help="A model from GET /models.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    steps: Annotated[int | None, typer.Option(help="Diffusion steps.")] = None,
    negative_prompt: Annotated[str | None, typer.Option(help="What to steer away from.")] = None,
    image: Annotated[Path | None, typer.Option(help="An image to animate (PNG, JPEG, WebP).", exists=True,
                                               dir_okay=False)] = None,
    video: Annotated[str | None, typer.Option(help="A clip to extend or modify: a file or a job id.")] = None,
    mode: Annotated[Mode | None, typer.Option(help="With --video: extend (default) or modify.")] = None,
    strength: Annotated[float | None, typer.Option(help="modify: how far from the source (0.05–1).")] = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Print the job id and return at once.")] = False,
    timeout: Annotated[float | None, typer.Option(help="Give up waiting after this many seconds.")] = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Generate a video: queue the job, follow its progress, and save the MP4."""
    err = _stderr()
    with _client(base_url, api_key) as client:
        job = client.create(prompt, duration=duration, fps=fps, resolution=resolution, aspect_ratio=aspect_ratio,
                            width=width, height=height, model=model, seed=seed, steps=steps,
                            negative_prompt=negative_prompt, image=image, video=video,
                            mode=mode.value if mode else None, strength=strength)
        if no_wait:
            typer.echo(job.id)
            return
        try:
            with _progress_display(err) as on_progress:
                job = client.wait(job, timeout=timeout, poll_interval=0.5, on_progress=on_progress)
        except KeyboardInterrupt:
            err.print(f"Interrupted. Job {job.id} goes on; stop it with `cancel {job.id}`.", markup=False)
            raise typer.Exit(130) from None
        if job.status != "completed":
            raise JobFailed(job)
        path = client.download(job, output if output is not None else Path(f"{job.id}.mp4"))
        out = job.output
        if out is not None:
            err.print(f"{job.id} completed: {out.width}x{out.height}, {out.frames} frames at {out.fps} fps "
                      f"({out.seconds:g} s, {out.bytes} bytes), seed {job.request.get('seed')}.", markup=False)
        typer.echo(str(path))


def jobs(
    limit: Annotated[int, typer.Option(help="How many jobs (newest first).", min=1, max=100)] = 20,
    after: Annotated[str | None, typer.Option(help="Start after this cursor (a job id).")] = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """List your jobs, newest first."""
    with _client(base_url, api_key) as client:
        page = client.list(limit=limit, after=after)
    table = Table(box=None, pad_edge=False)
    table.add_column("ID", no_wrap=True, min_width=max((len(j.id) for j in page.data), default=2))
    for name, width in (("STATUS", 11), ("PROGRESS", 8), ("CREATED", 19), ("SIZE", 9), ("SECONDS", 7)):
        table.add_column(name, no_wrap=True, min_width=width)
    table.add_column("PROMPT", no_wrap=True, overflow="ellipsis", max_width=40)
    for job in page.data:
        req = job.request
        table.add_row(job.id, job.status, f"{job.progress}%",
                      f"{job.created_at:%Y-%m-%d %H:%M:%S}" if job.created_at else "",
                      f"{req.get('width')}x{req.get('height')}", f"{req.get('duration', 0):g}", req.get("prompt", ""))
    console = Console(highlight=False)
    if not console.is_terminal:  # a pipe or a log: no terminal width to fit, so nothing to cut
        console = Console(highlight=False, width=200)
    console.print(table)
    if page.has_more:
        console.print(f"More: --after {page.next_cursor}", markup=False)


def get(job_id: Annotated[str, typer.Argument(help="A job id.")], base_url: BaseUrl = None,
        api_key: ApiKey = None) -> None:
    """Show a job as JSON."""
    with _client(base_url, api_key) as client:
        job = client.get(job_id)
    typer.echo(json.dumps(job.raw, indent=2, ensure_ascii=False))


def cancel(job_id: Annotated[str, typer.Argument(help="A job id.")], base_url: BaseUrl = None,
           api_key: ApiKey = None) -> None:
    """Cancel a job: a queued one at once, a running one at its next diffusion step."""
    with _client(base_url, api_key) as client:
        job = client.cancel(job_id)
    state = job.status if job.is_terminal else f"{job.status}, cancel requested"
    typer.echo(f"{job.id}: {state}")


def download(
    job_id: Annotated[str, typer.Argument(help="A completed job's id.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="A file, or a folder for <job id>.<ext>.")] = Path(),
    variant: Annotated[Variant, typer.Option(help="The video, or its thumbnail or spritesheet.")] = Variant.video,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Download a completed job's video (or its thumbnail or spritesheet)."""
    with _client(base_url, api_key) as client:
        path = client.download(job_id, output, variant=variant.value)
    typer.echo(str(path))


COMMANDS: tuple[Callable[..., Any], ...] = (generate, jobs, get, cancel, download)


def register(app: typer.Typer) -> None:
    """Add the client's commands (generate, jobs, get, cancel, download) to ``app``."""
    for command in COMMANDS:
        app.command()(command)


app = typer.Typer(help="Kinora client: generate videos and manage jobs over the HTTP API.", no_args_is_help=True)
register(app)


def main() -> None:
    app()
