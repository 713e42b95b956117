"""S3 object storage through boto3: SigV4 pre-signed PUT and GET, pre-signed
POST (by default signed as the imports API documents it: ``AWSAccessKeyId``,
``key``, ``policy``, ``signature``; SigV4 on request), head, listing,
streamed download, small puts, deletes. Works with AWS or any S3-compatible
endpoint (moto, MinIO...).

    >>> storage = ObjectStorage(endpoint="http://127.0.0.1:9000", bucket="toolkit-imports",
    ...                         region="us-east-1")                     # doctest: +SKIP
    >>> storage.presigned_put("ws-eu/f_1/c.cc5txt", expires_in=3600)     # doctest: +SKIP
    'http://127.0.0.1:9000/toolkit-imports/ws-eu/f_1/c.cc5txt?X-Amz-Algorithm=...'
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from toolkit.errors import ConfigError, ToolkitError

__all__ = ["ObjectStorage", "ObjectInfo", "StorageError", "ObjectTooLarge"]

log = logging.getLogger("toolkit.service")
_CHUNK = 1 << 20


class StorageError(ToolkitError):
    """S3 failed (unreachable, denied, unexpected answer)."""


class ObjectTooLarge(StorageError):
    """The object grew past the size limit while it was downloaded."""


@dataclass(frozen=True)
class ObjectInfo:
    """What HeadObject tells: size in bytes, last-modified as UNIX seconds and
    the Content-Type the upload was sent with."""

    size: int
    last_modified: float
    content_type: str | None = None


def _client(endpoint: str | None, region: str, key_id: str | None, secret: str | None,
            signature_version: str = "s3v4") -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(
            signature_version=signature_version,
            # Path style works with every S3-compatible store and with IP endpoints.
            s3={"addressing_style": "path" if endpoint else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=32,
        ),
    )


class ObjectStorage:
    """One bucket on an S3 endpoint. ``public_endpoint`` signs URLs for
    clients that reach S3 under another address than the service does."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        public_endpoint: str | None = None,
        post_signature: str = "s3",
    ) -> None:
        """``post_signature``: ``"s3"`` (the documented AWSAccessKeyId/policy/signature
        form fields) or ``"s3v4"`` (x-amz-credential, x-amz-signature...)."""
        self.bucket = bucket
        self.endpoint = endpoint
        self._s3 = _client(endpoint, region, access_key_id, secret_access_key)
        self._signer = (
            _client(public_endpoint, region, access_key_id, secret_access_key)
            if public_endpoint
            else self._s3
        )
        self._post_signer = _client(public_endpoint or endpoint, region, access_key_id, secret_access_key,
                                    signature_version=post_signature)

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (useful with moto and MinIO)."""
        try:
            self._s3.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise ConfigError(f"S3 bucket {self.bucket}: {exc}") from None
        except BotoCoreError as exc:
            raise ConfigError(f"S3 endpoint {self.endpoint or 'AWS'} is unusable: {exc}") from None
        try:
            self._s3.create_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise ConfigError(f"Cannot create S3 bucket {self.bucket}: {exc}") from None

    def presigned_put(self, key: str, *, expires_in: int) -> str:
        """A SigV4 pre-signed PUT URL for ``key`` (any Content-Type)."""
        return self._signer.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )

    def presigned_get(self, key: str, *, expires_in: int) -> str:
        """A SigV4 pre-signed GET URL for ``key``."""
        return self._signer.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )

    def presigned_post(self, key: str, *, expires_in: int, max_bytes: int) -> dict[str, Any]:
        """A pre-signed POST: ``{"url", "fields"}`` (fields in the order to send
        them, before ``file``); the policy caps the size."""
        return self._post_signer.generate_presigned_post(
            self.bucket,
            key,
            Conditions=[["content-length-range", 0, max_bytes]],
            ExpiresIn=expires_in,
        )

    def head(self, key: str) -> ObjectInfo | None:
        """Size and last-modified time of ``key``, or None if it does not exist."""
        try:
            answer = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageError(f"S3 HeadObject {key} failed: {exc}") from None
        except BotoCoreError as exc:
            raise StorageError(f"S3 HeadObject {key} failed: {exc}") from None
        return ObjectInfo(size=int(answer["ContentLength"]), last_modified=answer["LastModified"].timestamp(),
                          content_type=answer.get("ContentType"))

    def list_objects(self, prefix: str = "") -> Iterator[tuple[str, ObjectInfo]]:
        """Every object under ``prefix`` with its size and last-modified time,
        by ListObjectsV2 pages of 1,000 keys (raises StorageError)."""
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": 1000})
            for page in pages:
                for item in page.get("Contents", ()):
                    yield item["Key"], ObjectInfo(size=int(item["Size"]),
                                                  last_modified=item["LastModified"].timestamp())
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"S3 ListObjectsV2 {self.bucket}/{prefix} failed: {exc}") from None

    def download(self, key: str, dest: Path, *, max_bytes: int) -> int:
        """Stream ``key`` into ``dest``; raises ObjectTooLarge past ``max_bytes``."""
        written = 0
        with dest.open("wb") as out:
            for chunk in self.iter_object(key):
                written += len(chunk)
                if written > max_bytes:
                    raise ObjectTooLarge(f"{key} is larger than {max_bytes} bytes")
                out.write(chunk)
        return written

    def iter_object(self, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks (raises StorageError, also for a missing key)."""
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                yield from body.iter_chunks(_CHUNK)
            finally:
                body.close()
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"S3 GetObject {key} failed: {exc}") from None

    def put_file(self, key: str, source: Path, *, content_type: str = "application/octet-stream") -> None:
        """Upload a local file with an explicit Content-Length (no chunked encoding)."""
        try:
            with source.open("rb") as handle:
                self._put(key, handle, source.stat().st_size, content_type)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"S3 PutObject {key} failed: {exc}") from None

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        """Upload small content held in memory."""
        try:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"S3 PutObject {key} failed: {exc}") from None

    def _put(self, key: str, handle: BinaryIO, size: int, content_type: str) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=handle, ContentLength=size,
                            ContentType=content_type)

    def delete(self, key: str) -> None:
        """Delete ``key`` (no error if it is already gone)."""
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"S3 DeleteObject {key} failed: {exc}") from None
