"""Object storage for finished videos: local disk (embedded) or an S3-compatible bucket through boto3.

Jobs carry only URIs (``local:videos/…`` or ``s3://bucket/key``); bytes never travel through the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class StorageUnavailable(Exception):
    pass


@dataclass(frozen=True)
class Located:
    """Where a client gets an object: a local file to stream, or a URL to redirect to."""

    path: Path | None = None
    url: str | None = None


class Storage(Protocol):
    def put_file(self, path: Path, key: str, content_type: str) -> str: ...
    def put_bytes(self, data: bytes, key: str, content_type: str) -> str: ...
    def read_bytes(self, uri: str) -> bytes: ...
    def delete(self, uri: str) -> None: ...
    def locate(self, uri: str) -> Located: ...
    def ping(self) -> None: ...


class LocalStorage:
    SCHEME = "local:"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, uri: str) -> Path:
        if not uri.startswith(self.SCHEME):
            raise ValueError(f"not a local storage URI: {uri}")
        path = (self.root / uri.removeprefix(self.SCHEME)).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"URI escapes the storage root: {uri}")
        return path

    def put_file(self, path: Path, key: str, content_type: str) -> str:
        uri = self.SCHEME + key
        dest = self._path(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".part")
        tmp.write_bytes(path.read_bytes())
        tmp.replace(dest)
        return uri

    def put_bytes(self, data: bytes, key: str, content_type: str) -> str:
        uri = self.SCHEME + key
        dest = self._path(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(dest)
        return uri

    def read_bytes(self, uri: str) -> bytes:
        return self._path(uri).read_bytes()

    def delete(self, uri: str) -> None:
        self._path(uri).unlink(missing_ok=True)

    def locate(self, uri: str) -> Located:
        return Located(path=self._path(uri))

    def ping(self) -> None:
        if not self.root.is_dir():
            raise StorageUnavailable(f"{self.root} is not a directory")


class S3Storage:
    def __init__(self, settings: Any) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_key_prefix
        self.expires = settings.presign_expires_s
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"},
                          connect_timeout=3, read_timeout=30),
        )

    def _split(self, uri: str) -> tuple[str, str]:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return bucket, key

    def put_file(self, path: Path, key: str, content_type: str) -> str:
        full = self.prefix + key
        self.client.upload_file(str(path), self.bucket, full, ExtraArgs={"ContentType": content_type})
        return f"s3://{self.bucket}/{full}"

    def put_bytes(self, data: bytes, key: str, content_type: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        full = self.prefix + key
        try:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data, ContentType=content_type)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(str(exc)) from exc
        return f"s3://{self.bucket}/{full}"

    def read_bytes(self, uri: str) -> bytes:
        bucket, key = self._split(uri)
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def delete(self, uri: str) -> None:
        bucket, key = self._split(uri)
        self.client.delete_object(Bucket=bucket, Key=key)

    def locate(self, uri: str) -> Located:
        bucket, key = self._split(uri)
        url = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=self.expires
        )
        return Located(url=url)

    def ping(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(str(exc)) from exc


def open_storage(settings: Any) -> Storage:
    if settings.s3_bucket:
        return S3Storage(settings)
    return LocalStorage(Path(settings.data_dir) / "objects")
