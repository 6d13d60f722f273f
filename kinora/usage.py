"""Fair use per API key, held where every gateway and worker sees it (Redis in production, memory when
embedded): a moving-window request rate for creates, and GPU-seconds per day, counted by the `limits`
library. Running-job counts come from the job store itself."""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import RateLimitItemPerDay, RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from kinora.config import Settings
from kinora.jobs import Job


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_s: float  # seconds until the window frees room

    def headers(self, name: str) -> dict[str, str]:
        """OpenAI's rate-limit headers, e.g. x-ratelimit-remaining-requests."""
        return {f"x-ratelimit-limit-{name}": str(self.limit), f"x-ratelimit-remaining-{name}": str(self.remaining),
                f"x-ratelimit-reset-{name}": f"{max(0.0, self.reset_s):.0f}s"}


class Usage:
    def __init__(self, settings: Settings) -> None:
        self.storage = storage_from_string(settings.redis_url or "memory://",
                                           key_prefix=f"{settings.redis_prefix}:limits")
        self.requests = MovingWindowRateLimiter(self.storage)
        self.daily = FixedWindowRateLimiter(self.storage)
        self.per_minute = settings.rate_limit_per_minute
        self.gpu_seconds = settings.gpu_seconds_per_day

    def hit_request(self, owner: str) -> Verdict | None:
        """Count one create request; None when no rate limit is configured."""
        if not self.per_minute:
            return None
        item = RateLimitItemPerMinute(self.per_minute)
        allowed = self.requests.hit(item, "requests", owner)
        stats = self.requests.get_window_stats(item, "requests", owner)
        return Verdict(allowed, self.per_minute, stats.remaining, stats.reset_time - time.time())

    def gpu_budget(self, owner: str) -> Verdict | None:
        """Whether the key has GPU-seconds left today; None when no daily budget is configured."""
        if not self.gpu_seconds:
            return None
        item = RateLimitItemPerDay(self.gpu_seconds)
        stats = self.daily.get_window_stats(item, "gpu_seconds", owner)
        return Verdict(stats.remaining > 0, self.gpu_seconds, stats.remaining, stats.reset_time - time.time())

    def job_changed(self, old: Job | None, new: Job) -> None:
        """A job that ran and ended spends its run time from its owner's daily budget."""
        if not self.gpu_seconds or not new.status.is_terminal or (old and old.status.is_terminal):
            return
        if not new.started_at or not new.completed_at:  # cancelled before it ran: nothing spent
            return
        seconds = max(1, round((new.completed_at - new.started_at).total_seconds()))
        item = RateLimitItemPerDay(self.gpu_seconds)
        # Spend what is left if the job ran past the budget: the key is then out until the window resets.
        stats = self.daily.get_window_stats(item, "gpu_seconds", new.owner)
        self.daily.hit(item, "gpu_seconds", new.owner, cost=max(1, min(seconds, stats.remaining)))
