"""What a careless admin or a hostile visitor might do: nothing breaks, nothing leaks."""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import RestrictedError

from experiment.models import Experiment, Panel
from experiment.services import (
    ListsBuildRefused,
    PanelRefused,
    experiment_lists_build,
    panel_register,
)
from tests.experiment.test_views import answer_no, consented, post_answer, study  # noqa: F401


def test_a_panel_in_a_list_cannot_be_deleted_alone_but_its_experiment_can(ready_experiment):
    listed = Panel.objects.filter(experiment=ready_experiment, list_item__isnull=False).first()
    with pytest.raises(RestrictedError):
        listed.delete()
    ready_experiment.delete()
    assert not Panel.objects.exists()


def test_nul_characters_get_a_clear_400_or_404_never_a_500(client, study):  # noqa: F811
    assert client.get("/study/demo/", {"participant": "a\x00b"}).status_code == 400
    assert client.get("/study/demo/p/ab%00c/").status_code == 404
    participant = consented(client)
    answer = answer_no(participant, 0) | {"q1": "yes", "q2": 2, "q3": "fi\x00sh"}
    reply = post_answer(client, participant, **answer)
    assert reply.status_code == 400 and "NUL" in reply.json()["error"]
    assert not participant.responses.exists()


def test_stored_panel_files_do_not_reveal_answers_or_units(client, study):  # noqa: F811
    import re

    for panel in Panel.objects.all():
        for name in (panel.image.name, panel.display_image.name):
            assert re.fullmatch(r"panels/(full|display)/[0-9a-f]{32}\.(png|jpg)", name), name


def test_no_panel_can_be_added_once_participants_have_started(participant, tmp_path):
    from PIL import Image

    path = tmp_path / "fc6_0099.png"
    Image.new("RGB", (20, 20)).save(path)
    with pytest.raises(PanelRefused, match="lists are fixed"):
        panel_register(experiment=participant.experiment, image_path=path, source="new", unit=99)
    with pytest.raises(PanelRefused, match="other practice than earlier ones"):
        panel_register(
            experiment=participant.experiment, image_path=path, source="p", is_practice=True
        )


def test_an_out_of_range_seed_is_refused_clearly(ready_experiment):
    with pytest.raises(ListsBuildRefused, match="seed must be between"):
        experiment_lists_build(experiment=ready_experiment, lists=2, seed=2**70)


def test_import_panels_create_refuses_a_slug_urls_cannot_hold(tmp_path, db):
    with pytest.raises(CommandError, match="slug"):
        call_command("import_panels", str(tmp_path), experiment="My Study", create=True)
    assert not Experiment.objects.exists()


def test_a_missing_page_says_so_in_words_a_participant_can_act_on(client, db):
    reply = client.get("/study/no-such-study/p/cut-short/")
    assert reply.status_code == 404
    assert "This page does not exist" in reply.content.decode()
