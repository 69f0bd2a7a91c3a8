"""Storing a panel stopped part-way (Ctrl-C, a failure): no file without its row, and no row
without its files."""

import shutil
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.management import CommandError, call_command

from experiment.digits import digit_unit_panels_write
from experiment.models import Experiment, Panel, Participant
from experiment.services import PanelRefused, panel_register, panels_stored_together
from experiment.services.design import panels_files_delete_unstored


@pytest.fixture
def panel_file(tmp_path):
    return digit_unit_panels_write(tmp_path, layer="fc6", units=1, images=4)[0]


def media_files(settings) -> list[Path]:
    return [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]


def test_ctrl_c_while_a_panel_file_is_written_leaves_no_file(
    experiment, panel_file, monkeypatch, settings
):
    real = FileSystemStorage._save

    def interrupted(self, name, content):
        real(self, name, content)  # on disk, not yet the field's name
        raise KeyboardInterrupt

    monkeypatch.setattr(FileSystemStorage, "_save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        panel_register(experiment=experiment, image_path=panel_file, source="a", unit=1)
    assert not Panel.objects.exists()
    assert not media_files(settings)


def test_ctrl_c_between_two_panels_stored_together_keeps_neither(experiment, panel_file, settings):
    with pytest.raises(KeyboardInterrupt), panels_stored_together() as panels:
        panel_register(
            experiment=experiment, image_path=panel_file, source="a", unit=1, stored_in=panels
        )
        assert len(panels) == 1 and len(media_files(settings)) == 2
        raise KeyboardInterrupt
    assert not Panel.objects.exists()
    assert not media_files(settings)


def test_the_clean_up_keeps_the_files_of_a_panel_whose_row_is_stored(
    experiment, panel_file, settings
):
    """As when Ctrl-C comes just after the commit: the stored panel must keep its pictures."""
    stored = panel_register(experiment=experiment, image_path=panel_file, source="a", unit=1)
    unstored = Panel(experiment=experiment, source="b", image="panels/full/gone.png")
    panels_files_delete_unstored([stored, unstored])
    assert sorted(media_files(settings)) == sorted(
        Path(settings.MEDIA_ROOT) / name for name in (stored.image.name, stored.display_image.name)
    )


def test_the_clean_up_keeps_every_file_when_the_database_cannot_say_what_is_stored(
    experiment, panel_file, settings, monkeypatch
):
    """A connection broken mid-commit: a file without its row is harmless, the reverse is not."""
    from django.db import DatabaseError
    from django.db.models.query import QuerySet

    stored = panel_register(experiment=experiment, image_path=panel_file, source="a", unit=1)

    def unanswered(*args, **kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(QuerySet, "values_list", unanswered)
    panels_files_delete_unstored([stored])
    assert len(media_files(settings)) == 2


def test_panels_stored_while_someone_entered_are_refused_at_the_end(
    experiment, panel_file, settings
):
    """The first participant drew their practice without these panels: under the lock arrivals
    take, the block checks again before it commits, and stores nothing."""
    with pytest.raises(PanelRefused, match="has participants"), panels_stored_together() as panels:
        panel_register(
            experiment=experiment, image_path=panel_file, source="a", is_practice=True,
            intended_answer="yes", stored_in=panels,
        )  # fmt: skip
        Participant.objects.create(experiment=experiment, external_id="meanwhile")
    assert not Panel.objects.exists()
    assert not media_files(settings)


def test_import_panels_stopped_says_so_and_stores_nothing(db, panel_file, monkeypatch, settings):
    """Ctrl-C, kill or a dropped ssh session (manage.py takes SIGTERM and SIGHUP as Ctrl-C):
    no experiment it would have created, no panel, no file, and exit status 130."""
    real = FileSystemStorage._save
    calls = []

    def interrupted(self, name, content):
        calls.append(name)
        if len(calls) == 3:  # the second panel's first file
            raise KeyboardInterrupt
        return real(self, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", interrupted)
    folder = panel_file.parent
    shutil.copy(panel_file, folder / "fc6_0002.png")
    with pytest.raises(CommandError, match="Stopped: nothing was imported") as stopped:
        call_command("import_panels", str(folder), "--experiment", "new", "--create",
                     "--network", "alexnet")  # fmt: skip
    assert stopped.value.returncode == 130
    assert not Experiment.objects.exists() and not Panel.objects.exists()
    assert not media_files(settings)
