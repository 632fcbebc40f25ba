"""Abstract base models shared by every app."""

import uuid

from django.db import models
from django.utils import timezone


class BaseModel(models.Model):
    """UUID primary key plus creation and update timestamps."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AliveManager(models.Manager):
    """Hides soft-deleted rows; ``Model.all_objects`` still sees them."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class SoftDeleteModel(BaseModel):
    """Soft delete: rows are marked, not removed, so that history and audit stay intact."""

    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = AliveManager()
    all_objects = models.Manager()

    class Meta:
        abstract = True
