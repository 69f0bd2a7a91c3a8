"""Stratified counterbalancing: the pure algorithm and the build_lists service."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from experiment.lists import stratified_lists
from experiment.models import Panel, Participant, TrialListItem
from experiment.services import ListsBuildRefused, experiment_lists_build, participant_enter
from tests.experiment.conftest import panels_create


def paper_panels():
    """The paper's panel counts: 256 conv5, 995 fc8 and 2048 fc6 units."""
    sizes = {"conv5": 256, "fc8": 995, "fc6": 2048}
    panels, next_id = [], 0
    for layer, size in sizes.items():
        panels += [(next_id + i, ("alexnet", layer)) for i in range(size)]
        next_id += size
    return panels


def test_paper_example_gives_4_conv5_15_or_16_fc8_32_fc6_per_list():
    panels = paper_panels()
    layer_of = dict(panels)
    lists = stratified_lists(panels, lists=64, seed=7)
    assert len(lists) == 64
    for ids in lists:
        per_layer = Counter(layer_of[i][1] for i in ids)
        assert per_layer["conv5"] == 4
        assert per_layer["fc8"] in {15, 16}
        assert per_layer["fc6"] == 32
        assert len(ids) in {51, 52}
    assert sorted(i for ids in lists for i in ids) == [i for i, _ in panels]


def test_same_seed_same_lists_other_seed_other_lists():
    panels = paper_panels()
    assert stratified_lists(panels, lists=64, seed=3) == stratified_lists(panels, lists=64, seed=3)
    assert stratified_lists(panels, lists=64, seed=3) != stratified_lists(panels, lists=64, seed=4)


@given(
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=5),
    lists=st.integers(1, 12),
    seed=st.integers(0, 2**31),
)
def test_every_panel_once_and_every_stratum_within_one(sizes, lists, seed):
    panels = [(f"{s}-{i}", s) for s, size in enumerate(sizes) for i in range(size)]
    if lists > len(panels):
        with pytest.raises(ValueError, match="cannot make|no main panels"):
            stratified_lists(panels, lists=lists, seed=seed)
        return
    result = stratified_lists(panels, lists=lists, seed=seed)
    assert sorted(i for ids in result for i in ids) == sorted(i for i, _ in panels)
    assert max(map(len, result)) - min(map(len, result)) <= 1
    for stratum in range(len(sizes)):
        shares = [sum(1 for i in ids if i.startswith(f"{stratum}-")) for ids in result]
        assert max(shares) - min(shares) <= 1


@pytest.mark.parametrize("lists", [0, -3, True, "4"])
def test_a_list_count_that_is_not_a_positive_number_is_refused(lists):
    with pytest.raises(ValueError, match="at least 1"):
        stratified_lists([(1, "fc6")], lists=lists, seed=0)


def test_build_stores_paper_example_in_the_database(experiment):
    panels_create(experiment, layer="conv5", units=256)
    panels_create(experiment, layer="fc8", units=995)
    panels_create(experiment, layer="fc6", units=2048)
    trial_lists = experiment_lists_build(experiment=experiment, lists=64, seed=11)
    assert [trial_list.number for trial_list in trial_lists] == list(range(1, 65))
    counts = Counter(
        TrialListItem.objects.values_list("trial_list__number", "panel__layer").iterator()
    )
    for number in range(1, 65):
        assert counts[(number, "conv5")] == 4
        assert counts[(number, "fc8")] in {15, 16}
        assert counts[(number, "fc6")] == 32
    assert TrialListItem.objects.count() == 3299


def test_lists_stratify_by_network_and_layer_and_leave_out_practice(experiment):
    panels_create(experiment, network="alexnet", layer="fc6", units=4, practice=3)
    panels_create(experiment, network="vgg16", layer="fc6", units=4)
    experiment_lists_build(experiment=experiment, lists=4, seed=0)
    for trial_list in experiment.trial_lists.all():
        networks = sorted(trial_list.items.values_list("panel__network", flat=True))
        assert networks == ["alexnet", "vgg16"]
    assert not TrialListItem.objects.filter(panel__is_practice=True).exists()


def test_rebuild_replaces_lists_and_is_deterministic_for_a_seed(experiment):
    panels_create(experiment, units=10)
    first = experiment_lists_build(experiment=experiment, lists=3, seed=5)
    first_items = [sorted(t.items.values_list("panel_id", flat=True)) for t in first]
    second = experiment_lists_build(experiment=experiment, lists=3, seed=5)
    assert [sorted(t.items.values_list("panel_id", flat=True)) for t in second] == first_items
    assert experiment.trial_lists.count() == 3
    assert all(t.seed == 5 for t in second)


def test_build_without_seed_stores_the_seed_it_used(experiment):
    panels_create(experiment, units=4)
    trial_lists = experiment_lists_build(experiment=experiment, lists=2)
    assert trial_lists[0].seed is not None


def test_rebuild_is_refused_once_participants_exist(ready_experiment):
    before = list(TrialListItem.objects.values_list("trial_list__number", "panel_id"))
    participant_enter(experiment=ready_experiment, external_id="someone")
    with pytest.raises(ListsBuildRefused, match="already has participants"):
        experiment_lists_build(experiment=ready_experiment, lists=3, seed=2)
    assert list(TrialListItem.objects.values_list("trial_list__number", "panel_id")) == before


def test_rebuild_with_simulated_participants_says_how_to_remove_them(ready_experiment):
    Participant.objects.create(
        experiment=ready_experiment, external_id="synthetic-s0-0", is_synthetic=True
    )
    with pytest.raises(ListsBuildRefused, match="simulate_responses --experiment study --delete"):
        experiment_lists_build(experiment=ready_experiment, lists=3, seed=2)


def test_more_lists_than_panels_or_no_panels_is_refused(experiment):
    with pytest.raises(ListsBuildRefused, match="it has no main panels: import or generate"):
        experiment_lists_build(experiment=experiment, lists=2)
    panels_create(experiment, units=3)
    with pytest.raises(ListsBuildRefused, match="cannot make 4 lists from 3"):
        experiment_lists_build(experiment=experiment, lists=4)
    assert not experiment.trial_lists.exists()
    assert Panel.objects.count() == 3
