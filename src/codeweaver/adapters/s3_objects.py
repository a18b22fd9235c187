"""Backup objects in any S3-compatible store through ``boto3``.

Endpoint, region and credentials come from settings; absent credentials fall back to
boto3's own chain (``AWS_ACCESS_KEY_ID`` … environment variables, profiles). Large
archives go up as multipart uploads (``upload_file``); S3 makes an object visible only
once its upload completes, so an interrupted upload leaves no partial object. Every
botocore error leaves this module as ``BackupError``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from codeweaver.errors import BackupError

__all__ = ["S3Destination"]

_ERRORS = (BotoCoreError, ClientError, OSError)


class S3Destination:
    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        progress: Callable[[int], None] | None = None,
        is_backup_id: Callable[[str], bool],
    ) -> None:
        """``progress`` is called with the byte count of every transferred part;
        ``is_backup_id`` tells a backup's folder from anything else in the bucket, which
        is never deleted as a folder."""
        self.bucket = bucket
        self._is_backup_id = is_backup_id
        self._progress = progress
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.uri = f"s3://{bucket}/{self.prefix}"
        try:
            self._s3: Any = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=Config(retries={"max_attempts": 3, "mode": "standard"}),
            )
        except _ERRORS as exc:
            raise BackupError(f"cannot set up S3 client for {self.uri}: {exc}") from exc

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _fail(self, action: str, key: str, exc: Exception) -> BackupError:
        return BackupError(f"cannot {action} {key} at {self.uri}: {exc}")

    def put_file(self, local: Path, key: str) -> None:
        try:
            self._s3.upload_file(str(local), self.bucket, self._key(key), Callback=self._progress)
        except _ERRORS as exc:
            raise self._fail("upload", key, exc) from exc

    def put_bytes(self, data: bytes, key: str) -> None:
        try:
            self._s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except _ERRORS as exc:
            raise self._fail("upload", key, exc) from exc

    def get_file(self, key: str, local: Path) -> None:
        try:
            self._s3.download_file(self.bucket, self._key(key), str(local), Callback=self._progress)
        except ClientError as exc:
            if _missing(exc):
                raise BackupError(f"{key} is missing from {self.uri}") from None
            raise self._fail("download", key, exc) from exc
        except _ERRORS as exc:
            raise self._fail("download", key, exc) from exc

    def get_bytes(self, key: str) -> bytes | None:
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            with body:
                return bytes(body.read())
        except ClientError as exc:
            if _missing(exc):
                return None
            raise self._fail("download", key, exc) from exc
        except _ERRORS as exc:
            raise self._fail("download", key, exc) from exc

    def names(self, folder: str) -> list[str]:
        base = self._key(f"{folder.strip('/')}/") if folder.strip("/") else self.prefix
        found: set[str] = set()
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base, Delimiter="/"
            )
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    found.add(str(common["Prefix"])[len(base) :].strip("/"))
                for obj in page.get("Contents", []):
                    found.add(str(obj["Key"])[len(base) :])
        except _ERRORS as exc:
            raise self._fail("list", folder or "backups", exc) from exc
        return sorted(n for n in found if n)

    def delete(self, key: str) -> None:
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=self._key(key))
        except _ERRORS as exc:
            raise self._fail("delete", key, exc) from exc

    def delete_folder(self, backup_id: str) -> None:
        if not self._is_backup_id(backup_id):
            raise BackupError(f"refusing to delete {backup_id!r} at {self.uri}: not a backup id")
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(f"{backup_id}/")
            )
            for page in pages:
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
        except _ERRORS as exc:
            raise self._fail("delete", backup_id, exc) from exc


def _missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")
