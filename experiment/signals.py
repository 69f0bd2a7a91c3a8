"""A panel's image files go with its row: deleting a panel (or its experiment) frees the disk
and stops serving them."""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from experiment.models import Panel


@receiver(post_delete, sender=Panel, dispatch_uid="panel_files_delete")
def panel_files_delete(sender, instance: Panel, **kwargs) -> None:
    """Delete the panel's two files once the deletion is committed (a rolled-back deletion
    keeps its row, which needs them). Each panel has files of its own (random names)."""
    files = [field for field in (instance.image, instance.display_image) if field.name]

    def delete() -> None:
        for field in files:
            field.storage.delete(field.name)

    transaction.on_commit(delete)
