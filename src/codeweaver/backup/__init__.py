"""Backups and disaster recovery: verified archives on disk or S3, tested restores."""

from codeweaver.backup.create import BackupContext
from codeweaver.backup.project_data import ProjectRef
from codeweaver.backup.schedule import BackupScheduler
from codeweaver.backup.service import BackupService

__all__ = ["BackupContext", "BackupScheduler", "BackupService", "ProjectRef"]
