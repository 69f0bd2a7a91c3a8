"""simulate_responses: synthetic participants follow the documented model and stay marked."""

from datetime import timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from analysis.ratings.simulation import SimulationSettings, simulate_answers
from analysis.selectors import ratings_report
from experiment.models import Experiment, Participant, Response
from tests.analysis.ratings_data import build_experiment, label_cache_in_tmp  # noqa: F401


def test_answers_follow_the_unit_interpretability_without_participant_bias():
    rng = np.random.default_rng(0)
    p = np.repeat([0.1, 0.9], 20000)
    answers = simulate_answers(
        p, np.zeros(len(p)), ["dog"] * len(p), ["x", "y"], SimulationSettings(), rng
    )
    assert answers["yes"][:20000].mean() == pytest.approx(0.1, abs=0.01)
    assert answers["yes"][20000:].mean() == pytest.approx(0.9, abs=0.01)
    own = answers["label"][20000:][answers["yes"][20000:]]
    assert (own == "dog").mean() == pytest.approx(0.9, abs=0.01)  # coherent with prob. p
    assert (answers["label"][~answers["yes"]] == "").all()
    assert (answers["q2_bin"][~answers["yes"]] == -1).all()


@pytest.mark.django_db
def test_no_trial_lists_is_a_clear_error():
    Experiment.objects.create(slug="bare", title="Bare")
    with pytest.raises(CommandError, match="no trial lists.*build_lists"):
        call_command("simulate_responses", "--experiment", "bare", "--participants", "3")


@pytest.mark.django_db
def test_unknown_experiment_is_a_clear_error():
    with pytest.raises(CommandError, match="No experiment 'nope'"):
        call_command("simulate_responses", "--experiment", "nope", "--participants", "3")


@pytest.mark.django_db
def test_synthetic_participants_are_marked_balanced_over_lists_and_answer_everything():
    experiment = build_experiment(units_per_layer={"conv5": 4, "fc8": 4}, lists=2, practice=2)
    out = StringIO()
    call_command("simulate_responses", "--experiment", "exp", "--participants", "6", stdout=out)
    assert "Added 6 synthetic participants" in out.getvalue()
    synthetic = Participant.objects.filter(experiment=experiment)
    assert synthetic.count() == 6 and all(p.is_synthetic for p in synthetic)
    assert sorted(synthetic.values_list("trial_list__number", flat=True)) == [0, 0, 0, 1, 1, 1]
    assert all(len(p.trial_order) == 2 + 4 for p in synthetic)  # practice + the list's panels
    assert Response.objects.filter(participant__in=synthetic).count() == 6 * (2 + 4)
    assert Response.objects.filter(is_practice=True).count() == 6 * 2
    call_command("simulate_responses", "--experiment", "exp", "--participants", "2", stdout=out)
    assert Participant.objects.filter(is_synthetic=True).count() == 8  # no id clash


@pytest.mark.django_db
def test_the_analysis_of_a_large_simulation_recovers_the_layer_rates():
    """The model's layer means (paper Table 1 (a)) come back within a few standard errors."""
    experiment = build_experiment(units_per_layer={"conv5": 60, "fc8": 60}, lists=4, practice=0)
    call_command(
        "simulate_responses", "--experiment", "exp", "--participants", "40", "--seed", "5",
        stdout=StringIO(),
    )  # fmt: skip
    table = ratings_report(experiment=experiment, participants="synthetic").table1
    rates = dict(zip(table["layer"], zip(table["a"], table["a_se"], strict=True), strict=True))
    for layer, expected in (("conv5", 21.7), ("fc8", 71.2)):
        estimate, se = rates[layer]
        # units and participants vary around the mean too, so allow generously for that
        assert abs(estimate - expected) < 6 * se + 5, (layer, estimate, se)
    assert rates["fc8"][0] > rates["conv5"][0] + 25


@pytest.mark.django_db
def test_the_synthetic_report_flags_nobody_for_speed():
    """Simulated answers take about 6 s a panel by both clocks (the demo's report)."""
    experiment = build_experiment()
    call_command(
        "simulate_responses", "--experiment", "exp", "--participants", "6", stdout=StringIO()
    )
    quality = ratings_report(experiment=experiment, participants="synthetic").quality
    assert not quality["flags"].str.contains("median time").any()
    assert (quality["server_median_ms"] >= quality["median_ms"]).all()


@pytest.mark.django_db
def test_delete_removes_only_synthetic_participants_and_their_answers():
    from tests.analysis.ratings_data import answer_all

    experiment = build_experiment()
    real = answer_all(experiment, "real", yes=True)
    call_command(
        "simulate_responses", "--experiment", "exp", "--participants", "3", stdout=StringIO()
    )
    out = StringIO()
    call_command("simulate_responses", "--experiment", "exp", "--delete", stdout=out)
    assert "Deleted 3 synthetic participants" in out.getvalue()
    assert list(Participant.objects.all()) == [real]
    assert Response.objects.exclude(participant=real).count() == 0


@pytest.mark.django_db
def test_participants_are_required_unless_deleting():
    build_experiment()
    with pytest.raises(CommandError, match="Give --participants N"):
        call_command("simulate_responses", "--experiment", "exp")


@pytest.mark.django_db
def test_synthetic_participants_get_the_trial_order_real_ones_would():
    """practice_trials practice panels drawn at random, then their list; answers in that order."""
    experiment = build_experiment(practice=4)
    experiment.practice_trials = 2
    experiment.save()
    call_command(
        "simulate_responses", "--experiment", "exp", "--participants", "6", stdout=StringIO()
    )
    orders = []
    for participant in Participant.objects.filter(experiment=experiment):
        kinds = [r.is_practice for r in participant.responses.order_by("trial_index")]
        listed = set(participant.trial_list.items.values_list("panel_id", flat=True))
        assert kinds == [True, True] + [False] * len(listed)
        assert set(participant.trial_order[2:]) == listed
        orders.append(tuple(participant.trial_order[:2]))
    assert len(set(orders)) > 1  # not the same two practice panels for everyone


@pytest.mark.django_db
def test_a_second_run_with_the_same_seed_adds_other_participants_with_real_durations():
    experiment = build_experiment()
    for _ in range(2):
        call_command("simulate_responses", "--experiment", "exp", "--participants", "2")
    participants = Participant.objects.filter(experiment=experiment).order_by("external_id")
    assert [p.external_id for p in participants] == [f"synthetic-s0-{n}" for n in range(4)]
    answers = {
        tuple(p.responses.order_by("trial_index").values_list("q1_yes", "response_ms"))
        for p in participants
    }
    assert len(answers) == 4  # no copies of the first run's participants
    for participant in participants:
        assert participant.consented_at == participant.started_at < participant.completed_at
        spent = sum(participant.responses.values_list("response_ms", flat=True))
        assert (participant.completed_at - participant.started_at).total_seconds() * 1000 == spent


@pytest.mark.django_db
def test_synthetic_answers_are_stored_when_their_response_times_say():
    """The server's clock reads a synthetic participant as a real one's on an instant
    connection (the quality flags check it): each answer stored its response time after the
    one before (after consent for the first), the last one at completion."""
    experiment = build_experiment()
    call_command(
        "simulate_responses", "--experiment", "exp", "--participants", "2", stdout=StringIO()
    )
    for participant in Participant.objects.filter(experiment=experiment):
        stored = participant.consented_at
        for created_at, ms in participant.responses.values_list("created_at", "response_ms"):
            assert created_at - stored == timedelta(milliseconds=ms)
            stored = created_at
        assert stored == participant.completed_at


@pytest.mark.django_db
def test_an_id_a_real_participant_entered_with_is_never_taken():
    """Any id is accepted at the study link, synthetic-s0-1 too (in any letter case, which
    ids ignore): simulation numbers go past it."""
    from tests.analysis.ratings_data import answer_all

    experiment = build_experiment()
    answer_all(experiment, "SYNTHETIC-S0-1", yes=True)
    call_command(
        "simulate_responses", "--experiment", "exp", "--participants", "2", stdout=StringIO()
    )
    synthetic = Participant.objects.filter(experiment=experiment, is_synthetic=True)
    assert sorted(synthetic.values_list("external_id", flat=True)) == [
        "synthetic-s0-2",
        "synthetic-s0-3",
    ]


@pytest.mark.django_db
def test_lists_built_again_while_a_simulation_is_prepared_are_a_clear_error(monkeypatch):
    """The simulation reads the lists, then stores under the lock list building takes: lists
    replaced in between are said, not a failure deep in the storing."""
    import analysis.services as services
    from experiment.services import experiment_lists_build

    build_experiment(units_per_layer={"conv5": 4, "fc8": 4}, lists=2, practice=2)
    real_labels = services._simulation_own_labels

    def labels_while_lists_are_rebuilt(experiment, rng):
        experiment_lists_build(experiment=experiment, lists=3, seed=0)
        return real_labels(experiment, rng)

    monkeypatch.setattr(services, "_simulation_own_labels", labels_while_lists_are_rebuilt)
    with pytest.raises(CommandError, match="were built again while the simulation was being"):
        call_command("simulate_responses", "--experiment", "exp", "--participants", "3")
    assert not Participant.objects.exists()
