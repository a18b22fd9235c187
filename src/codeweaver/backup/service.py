"""The backup operations every edge calls: create, list, verify, prune, restore."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codeweaver.backup.create import BackupContext, check_request, create_backup
from codeweaver.backup.destinations import Destination, open_destination
from codeweaver.backup.layout import backup_ids, delete_backup, listing
from codeweaver.backup.locks import exclusive
from codeweaver.backup.manifest import validate_backup_id
from codeweaver.backup.prune import BackupEntry, created_from_id, plan_prune
from codeweaver.backup.restore import restore_backup
from codeweaver.backup.server_projects import drop_leftovers
from codeweaver.backup.signing import Trust, load_key, signing_key_path
from codeweaver.backup.swap import rollback_interrupted
from codeweaver.backup.targets import swapper
from codeweaver.backup.throttle import Throttle
from codeweaver.backup.verify import read_manifest, verify_backup
from codeweaver.errors import NotFoundError

__all__ = ["STALE_VERIFY_SECONDS", "BackupService"]

STALE_VERIFY_SECONDS = 24 * 3600  # no verification runs this long


class BackupService:
    def __init__(self, ctx: BackupContext) -> None:
        self._ctx = ctx

    @property
    def context(self) -> BackupContext:
        return self._ctx

    def check_request(
        self, dest: str | None, components: Sequence[str] | None, project: str | None
    ) -> None:
        """Refuse a backup request with bad input (destination, components, project)
        before anything runs."""
        self.destination(dest)
        check_request(self._ctx, components, project)

    def destination(self, uri: str | None = None, throttle: Throttle | None = None) -> Destination:
        return open_destination(uri, self._ctx.settings.backup, self._ctx.home, throttle)

    def _throttle(self, max_mb_per_second: float | None) -> Throttle:
        rate = self._ctx.settings.backup.max_mb_per_second
        return Throttle(rate if max_mb_per_second is None else max_mb_per_second)

    def _work(self, name: str) -> Path:
        return self._ctx.home / ".backup-work" / name

    def _trust(self, allow_unsigned: bool, key: bytes | None = None) -> Trust:
        settings = self._ctx.settings
        return Trust(
            key if key is not None else load_key(settings),
            signing_key_path(settings),
            self._ctx.project_name,
            allow_unsigned,
        )

    def create(
        self,
        dest: str | None = None,
        *,
        components: Sequence[str] | None = None,
        project: str | None = None,
        verify: bool = True,
        max_mb_per_second: float | None = None,
    ) -> dict[str, Any]:
        """Back up, then (by default) verify the uploaded copy end to end; the data is
        streamed at most at ``max_mb_per_second`` MiB/s (default: the setting, 0: no cap)."""
        throttle = self._throttle(max_mb_per_second)
        target = self.destination(dest, throttle)
        key = load_key(self._ctx.settings, create=True)
        assert key is not None  # create=True makes the key or raises
        with exclusive(self._ctx.home / ".backup-work" / "create.lock", "backup"):
            with exclusive(self._ctx.home / ".restore" / "lock", "restore"):
                rollback_interrupted(self._ctx.home, swapper(self._ctx))
            self._remove_stale_work()
            manifest = create_backup(
                self._ctx,
                target,
                components=components,
                project=project,
                throttle=throttle,
                key=key,
            )
            out = manifest.summary()
            out["destination"] = target.uri
            out["collections"] = [
                {"project": c.project, "points": c.points, "files": c.files, "model": c.model}
                for c in manifest.collections
            ]
            out["notes"] = manifest.notes
            if verify:
                out["verification"] = verify_backup(
                    target,
                    manifest.backup_id,
                    self._work(f"verify-{manifest.backup_id}"),
                    self._trust(False, key),
                    throttle,
                )
            out["throttled_seconds"] = round(throttle.waited, 1)
        return out

    def _remove_stale_work(self) -> None:
        """Remove what killed runs left: backup staging (the caller holds the backup lock)
        and verification folders no verification can still be using."""
        cutoff = time.time() - STALE_VERIFY_SECONDS
        for stale in self._work(".").iterdir():
            if not stale.is_dir():
                continue
            if not stale.name.startswith("verify-") or stale.stat().st_mtime < cutoff:
                shutil.rmtree(stale, ignore_errors=True)

    def list(self, dest: str | None = None) -> list[dict[str, Any]]:
        target = self.destination(dest)
        rows: list[dict[str, Any]] = []
        found = listing(target)
        for bid in sorted(found, reverse=True):
            keys = found[bid]
            try:
                manifest = read_manifest(target, bid, keys)
            except Exception:
                manifest = None
            verified = target.get_bytes(keys.verified) is not None
            row: dict[str, Any] = {
                "backup_id": bid,
                "layout": keys.layout,
                "status": "verified"
                if manifest and verified
                else ("complete" if manifest else "incomplete"),
            }
            if manifest is not None:
                row.update(manifest.summary())
            rows.append(row)
        return rows

    def verify(
        self,
        backup_id: str,
        dest: str | None = None,
        *,
        max_mb_per_second: float | None = None,
        allow_unsigned: bool = False,
    ) -> dict[str, Any]:
        """Check a backup end to end; an unsigned or wrongly signed one fails unless
        ``allow_unsigned`` (then it is checked but never recorded as verified)."""
        throttle = self._throttle(max_mb_per_second)
        target = self.destination(dest, throttle)
        validate_backup_id(backup_id)
        if backup_id not in backup_ids(target):
            raise NotFoundError(f"no backup {backup_id} at {target.uri}")
        work = self._work(f"verify-{backup_id}-{datetime.now(UTC).strftime('%H%M%S%f')}")
        return verify_backup(target, backup_id, work, self._trust(allow_unsigned), throttle)

    def prune(
        self,
        dest: str | None = None,
        *,
        keep_days: int | None = None,
        keep_last: int | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        cfg = self._ctx.settings.backup
        days = cfg.keep_days if keep_days is None else keep_days
        last = cfg.keep_last if keep_last is None else keep_last
        target = self.destination(dest)
        entries = [
            BackupEntry(
                r["backup_id"],
                created_from_id(r["backup_id"]),
                r["status"] != "incomplete",
                r["status"] == "verified",
            )
            for r in self.list(dest)
        ]
        doomed = plan_prune(entries, now or datetime.now(UTC), days, last)
        for bid in doomed:
            delete_backup(target, bid)
        kept = [e.backup_id for e in entries if e.backup_id not in doomed]
        return {"deleted": doomed, "kept": kept, "keep_days": days, "keep_last": last}

    def restore(
        self,
        backup_id: str,
        dest: str | None = None,
        *,
        components: Sequence[str] | None = None,
        project: str | None = None,
        on_step: Callable[[str], None] | None = None,
        allow_unsigned: bool = False,
    ) -> dict[str, Any]:
        """Restore ``backup_id``; an unsigned or wrongly signed backup is refused unless
        ``allow_unsigned``."""
        validate_backup_id(backup_id)
        if project is not None:
            self._ctx.project_name(project)
        target = self.destination(dest)
        trust = self._trust(allow_unsigned)
        with (
            exclusive(self._ctx.home / ".restore" / "lock", "restore"),
            self._ctx.exclusive_home("restore a backup"),
        ):
            rollback_interrupted(self._ctx.home, swapper(self._ctx))
            for stale in (self._ctx.home / ".restore").iterdir():  # left by a killed run
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                elif stale.match("pending-*.json") and self._ctx.server_mode:
                    drop_leftovers(stale, self._ctx.server_collections())
            return restore_backup(
                self._ctx,
                target,
                backup_id,
                trust,
                components=components,
                project=project,
                on_step=on_step,
            )
