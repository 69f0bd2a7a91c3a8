"""The admin: the ratings report page for staff, label overrides, read-only selectivity scores."""

import pytest
from django.urls import reverse

from analysis.models import LabelAgreementOverride, SelectivityScore
from tests.analysis.ratings_data import (  # noqa: F401  (label_cache_in_tmp: autouse fixture)
    add_second_panel_of_a_unit,
    answer_all,
    build_experiment,
    label_cache_in_tmp,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment():
    experiment = build_experiment()
    answer_all(experiment, "p1", yes=lambda panel: panel.layer == "fc8", label="drinks")
    answer_all(experiment, "p2", yes=lambda panel: panel.layer == "fc8", label="beverage")
    return experiment


def test_staff_see_table1_figures_notes_and_label_decisions(admin_client, experiment):
    page = admin_client.get(reverse("admin:analysis_ratings_report", args=["exp"]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "100.0% (±0.0%)" in html
    assert "2 real participants analysed" in html
    assert "data:image/png;base64," in html
    assert "<td>beverage</td><td>drink</td>" in html  # a decided pair, ready to override
    assert "override to disagree" in html
    assert "<td>drink</td><td>n07932039 (eggnog)</td>" in html  # fc8 units' class


def test_a_unit_with_two_main_panels_is_shown_once(admin_client):
    """Older imports could give a unit two main panels; the page pools their answers, each
    participant's once."""
    experiment = build_experiment()
    add_second_panel_of_a_unit(experiment, "fc8", 1)
    answer_all(experiment, "p1", yes=True, label="eggnog")
    page = admin_client.get(reverse("admin:analysis_ratings_report", args=["exp"]))
    assert page.status_code == 200
    assert "<td>alexnet</td><td>fc8</td><td>4</td><td>4</td>" in page.content.decode()


def test_figures_are_drawn_again_only_when_what_they_show_changed(
    admin_client, experiment, monkeypatch
):
    """A label search or a reload draws no figure again (about 2 s at the paper's size); a new
    answer does."""
    from analysis import report_page

    drawn = []
    draw = report_page.ratings_report_figures
    monkeypatch.setattr(report_page, "ratings_report_figures", lambda r: drawn.append(1) or draw(r))
    monkeypatch.setattr(report_page, "_figures_kept", {})
    url = reverse("admin:analysis_ratings_report", args=["exp"])
    first = admin_client.get(url).content.decode()
    searched = admin_client.get(url, {"q": "drink"}).content.decode()
    assert len(drawn) == 1
    figure = first[first.index("data:image/png;base64,") :][:500]
    assert figure in searched
    answer_all(experiment, "p3", yes=False)
    assert "3 real participants analysed" in admin_client.get(url).content.decode()
    assert len(drawn) == 2


def test_the_report_page_refuses_anonymous_visitors(client, experiment):
    page = client.get(reverse("admin:analysis_ratings_report", args=["exp"]))
    assert page.status_code == 302 and "/login/" in page["Location"]


def test_the_report_page_needs_permission_to_view_answers(client, experiment, django_user_model):
    staff = django_user_model.objects.create_user("helper", password="pw-12345", is_staff=True)
    client.force_login(staff)
    page = client.get(reverse("admin:analysis_ratings_report", args=["exp"]))
    assert page.status_code == 403


def test_synthetic_only_data_shows_the_reason_instead_of_a_table(admin_client):
    experiment = build_experiment("synth")
    answer_all(experiment, "fake", yes=True, synthetic=True)
    url = reverse("admin:analysis_ratings_report", args=["synth"])
    page = admin_client.get(url).content.decode()
    assert "only synthetic participants" in page
    assert '<a href="?participants=synthetic">Show the report of the simulated' in page
    shown = admin_client.get(url, {"participants": "synthetic", "bootstrap": "20"})
    assert "1 synthetic participant analysed" in shown.content.decode()
    one = admin_client.get(url, {"participants": "synthetic", "bootstrap": "1"})
    assert "(2 replicates)" in one.content.decode()  # one gives no standard error
    for odd in ("²", "9" * 5000, "-3", "1e3"):  # no 500 for a hand-edited address
        assert (
            admin_client.get(url, {"participants": "synthetic", "bootstrap": odd}).status_code
            == 200
        )


def test_an_override_is_stored_normalised_and_sorted(admin_client, admin_user):
    url = reverse("admin:analysis_labelagreementoverride_add")
    admin_client.post(url, {"label_a": "Green Peppers", "label_b": "apples", "note": "produce"})
    override = LabelAgreementOverride.objects.get()
    assert (override.label_a, override.label_b, override.agree) == ("apple", "green pepper", False)
    assert override.decided_by == admin_user.username


def test_the_same_pair_in_the_other_order_is_refused(admin_client):
    url = reverse("admin:analysis_labelagreementoverride_add")
    admin_client.post(url, {"label_a": "dog", "label_b": "cat", "agree": "on"})
    page = admin_client.post(url, {"label_a": "cats", "label_b": "dogs"})
    assert page.status_code == 200 and "already exists" in page.content.decode()
    assert LabelAgreementOverride.objects.count() == 1


def test_an_override_for_a_phrase_the_analysis_keeps_whole_is_stored(admin_client):
    url = reverse("admin:analysis_labelagreementoverride_add")
    admin_client.post(url, {"label_a": "Macaroni and cheese", "label_b": "Fish and chips"})
    override = LabelAgreementOverride.objects.get()
    assert (override.label_a, override.label_b) == ("fish and chips", "macaroni and cheese")


def test_two_labels_in_one_field_are_refused(admin_client):
    url = reverse("admin:analysis_labelagreementoverride_add")
    page = admin_client.post(url, {"label_a": "dog, cat", "label_b": "pet"})
    assert "is not one label" in page.content.decode()
    assert not LabelAgreementOverride.objects.exists()


def test_two_labels_that_clean_to_one_are_refused(admin_client):
    """An override that "dog" and "dogs" disagree would make "dog" disagree with itself."""
    url = reverse("admin:analysis_labelagreementoverride_add")
    page = admin_client.post(url, {"label_a": "dog", "label_b": "Dogs"})
    assert "are the same label after cleaning" in page.content.decode()
    assert not LabelAgreementOverride.objects.exists()


def test_an_override_changes_the_report_page(admin_client, experiment):
    url = reverse("admin:analysis_ratings_report", args=["exp"])
    admin_client.post(
        reverse("admin:analysis_labelagreementoverride_add"),
        {"label_a": "drink", "label_b": "beverage"},  # agree unticked: disagree
    )
    html = admin_client.get(url).content.decode()
    assert "Label overrides: 1 used of 1 stored." in html


def test_selectivity_scores_are_read_only(admin_client, experiment):
    score = SelectivityScore.objects.first()
    assert (
        admin_client.get(reverse("admin:analysis_selectivityscore_changelist")).status_code == 200
    )
    change = reverse("admin:analysis_selectivityscore_change", args=[score.pk])
    assert admin_client.post(change, {"precision": 1}).status_code == 403
    add = admin_client.get(reverse("admin:analysis_selectivityscore_add"))
    assert add.status_code == 403


def test_the_override_list_links_to_each_experiments_report(admin_client, experiment):
    html = admin_client.get(reverse("admin:analysis_labelagreementoverride_changelist")).content
    assert reverse("admin:analysis_ratings_report", args=["exp"]).encode() in html


def store_scores(layer: str, precisions: list[float]) -> None:
    """Scores of the demo network's `layer`, one unit per precision."""
    SelectivityScore.objects.bulk_create(
        SelectivityScore(
            network="demo",
            layer=layer,
            unit=unit,
            n_images=100,
            precision=value,
            ccmas=value / 2,
            precision_class=3,
            ccmas_class=3,
            source="acts.h5",
        )  # fmt: skip
        for unit, value in enumerate(precisions)
    )


def test_selectivity_report_page_shows_counts_figure_and_tables_of_ticked_layers(admin_client):
    store_scores("fc7", [0.95, 0.8, 0.1, 0.5])
    store_scores("fc6", [0.2, 0.3, 0.99])
    changelist = admin_client.get(reverse("admin:analysis_selectivityscore_changelist"))
    url = reverse("admin:analysis_selectivity_report", args=["demo"])
    assert f'href="{url}"' in changelist.content.decode()
    html = admin_client.get(url).content.decode()
    assert "data:image/png;base64," in html
    assert "<td>fc6</td><td>3</td>" in html and "<td>fc7</td><td>4</td>" in html
    assert "<td>fc7</td><td>ccmas</td><td>1</td><td>0</td>" in html  # table 2, class named
    assert "three" in html
    only = admin_client.get(url, {"layer": "fc7"}).content.decode()
    assert "<td>fc7</td><td>4</td>" in only and "<td>fc6</td><td>3</td>" not in only


def test_selectivity_report_page_of_a_network_without_scores_says_so(admin_client):
    store_scores("fc6", [0.5, 0.6, 0.7])
    page = admin_client.get(reverse("admin:analysis_selectivity_report", args=["alexnet"]))
    assert page.status_code == 200
    assert "No selectivity scores are stored for network" in page.content.decode()


def test_selectivity_report_page_needs_permission_to_view_scores(client, django_user_model):
    staff = django_user_model.objects.create_user("helper", password="pw-12345", is_staff=True)
    client.force_login(staff)
    page = client.get(reverse("admin:analysis_selectivity_report", args=["demo"]))
    assert page.status_code == 403
