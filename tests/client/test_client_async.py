"""AsyncKinora against the same real server: the basic flow, its errors, and paging."""

from __future__ import annotations

import asyncio

from kinora_client import AsyncKinora, AuthenticationError, InvalidRequestError, Job, JobFailed

from tests.client.conftest import SLOW, TINY
from tests.media import decode_mp4


def test_the_async_client_creates_waits_downloads_and_raises(server, tmp_path):
    async def flow() -> None:
        async with AsyncKinora(server.url, server.key) as client:
            seen: list[Job] = []

            async def on_progress(job: Job) -> None:  # an async callback is awaited
                seen.append(job)

            job = await client.generate("a paper boat", tmp_path / "boat.mp4", on_progress=on_progress,
                                        poll_interval=0.05, timeout=60, **TINY)
            assert job.status == "completed" and (await client.get(job.id)).status == "completed"
            progress = [j.progress for j in seen]
            assert progress == sorted(progress) and progress[-1] == 100
            again = await client.download(job, tmp_path / "again.mp4")
            assert again.read_bytes() == (tmp_path / "boat.mp4").read_bytes()

            queued = await client.create("cancelled", **SLOW)
            assert (await client.cancel(queued)).cancel_requested
            assert (await client.wait(queued, timeout=60, poll_interval=0.05)).status == "cancelled"
            ids = [j.id async for j in client.iter_jobs(page_size=1)]
            assert ids[:2] == [queued.id, job.id]
            assert (await client.list(limit=1)).has_more

            try:
                await client.create("odd", width=641, height=192)
            except InvalidRequestError as exc:
                assert exc.param == "width"
            else:
                raise AssertionError("no InvalidRequestError")

            async def cancel_it(job: Job) -> None:
                if not job.cancel_requested:
                    await client.cancel(job)

            try:
                await client.generate("stopped", tmp_path / "stopped.mp4", on_progress=cancel_it,
                                      poll_interval=0.05, timeout=60, **SLOW)
            except JobFailed as exc:
                assert exc.job.status == "cancelled"
            else:
                raise AssertionError("no JobFailed")

        async with AsyncKinora(server.url, "kin_wrong") as stranger:
            try:
                await stranger.list()
            except AuthenticationError as exc:
                assert exc.status == 401
            else:
                raise AssertionError("no AuthenticationError")

    asyncio.run(flow())
    assert len(decode_mp4(tmp_path / "boat.mp4").frames) == 8
