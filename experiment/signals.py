"""A panel's image files go with its row: deleting a panel (or its experiment) frees the disk
and stops serving them."""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from experiment.models import Panel
from experiment.services.design import panel_files_delete


@receiver(post_delete, sender=Panel, dispatch_uid="panel_files_delete")
def panel_deleted(sender, instance: Panel, **kwargs) -> None:
    """Delete the panel's files once the deletion is committed (a rolled-back deletion keeps
    its row, which needs them)."""
    transaction.on_commit(lambda: panel_files_delete(instance))
