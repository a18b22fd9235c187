"""Backups and disaster recovery: verified archives on disk or S3, tested restores."""

from codeweaver.ops.backup.collections import ProjectRef
from codeweaver.ops.backup.create import BackupContext
from codeweaver.ops.backup.schedule import BackupScheduler
from codeweaver.ops.backup.service import BackupService

__all__ = ["BackupContext", "BackupScheduler", "BackupService", "ProjectRef"]
