"""One settings object, read once from ``KINORA_*`` environment variables and passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

WatermarkPosition = Literal["top-left", "top-right", "bottom-left", "bottom-right"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KINORA_", env_file=".env", extra="ignore")

    # Embedded mode keeps job state, keys and videos here when no Redis / S3 is configured.
    data_dir: Path = Path("data")

    # Production mode: job state, keys and the Celery broker live in Redis.
    redis_url: str | None = None
    redis_prefix: str = "kinora"
    queue_prefix: str = "kinora"

    # Object storage: S3 / MinIO when a bucket is set, else local disk under data_dir.
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_key_prefix: str = "videos/"
    presign_expires_s: int = Field(3600, ge=60, le=7 * 24 * 3600)

    # Models: the registry name used when a request names none, the model a worker loads, and the
    # folder that holds real checkpoints (one sub-folder per model, as downloaded).
    default_model: str = "kinora-dit"  # the model trained here: follows simple prompts on a CPU
    worker_model: str | None = None
    models_dir: Path = Path("models-data")
    device: Literal["auto", "cpu", "cuda"] = "auto"

    # Output.
    watermark_text: str = Field("AI-generated", min_length=1, max_length=64)
    watermark_position: WatermarkPosition = "bottom-right"
    upscaler: Literal["auto", "learned", "lanczos"] = "auto"
    interpolation: Literal["flow", "nearest"] = "flow"
    video_crf: int = Field(20, ge=0, le=51)
    video_preset: str = "veryfast"

    # Limits.
    max_body_bytes: int = Field(100 << 20, ge=1024)
    max_media_bytes: int = Field(64 << 20, ge=1024)
    max_input_seconds: float = Field(60, gt=0, le=600)
    url_inputs: bool = False  # fetch image/video inputs from http(s) URLs (never from private addresses)
    job_soft_time_limit_s: int = Field(3600, ge=10)
    job_time_limit_s: int = Field(3900, ge=20)

    # Gateway.
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None

    # Fair use per API key (0 = no limit): create requests per minute, queued + running jobs, GPU-seconds a day.
    rate_limit_per_minute: int = Field(0, ge=0)
    max_active_jobs: int = Field(16, ge=0)
    gpu_seconds_per_day: int = Field(0, ge=0)

    # Webhooks: seconds between delivery attempts after a failure (the first attempt is immediate).
    webhook_retry_s: list[float] = Field(default_factory=lambda: [5, 300, 1800, 7200, 18000, 36000, 36000])
    webhook_allow_private: bool = False  # allow receivers on private addresses (inside your own network)
    webhook_timeout_s: float = Field(10, gt=0, le=60)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.job_time_limit_s <= self.job_soft_time_limit_s:
            raise ValueError("KINORA_JOB_TIME_LIMIT_S must exceed KINORA_JOB_SOFT_TIME_LIMIT_S")
        if self.s3_bucket and bool(self.s3_access_key_id) != bool(self.s3_secret_access_key):
            raise ValueError("set both KINORA_S3_ACCESS_KEY_ID and KINORA_S3_SECRET_ACCESS_KEY, or neither")
        if self.s3_secret_access_key in {"changeme", "minioadmin", "secret"} and self.redis_url:
            raise ValueError("KINORA_S3_SECRET_ACCESS_KEY is a placeholder; set a real secret in production")
        return self

    @property
    def embedded(self) -> bool:
        """No Redis configured: API and worker run in one process with local state."""
        return self.redis_url is None

    @property
    def base_url(self) -> str | None:
        """Where clients reach the gateway, for links in webhooks (the configured public URL when set)."""
        if self.public_url:
            return self.public_url
        return f"http://{self.host}:{self.port}" if self.embedded else None

    @property
    def loaded_model(self) -> str:
        return self.worker_model or self.default_model
