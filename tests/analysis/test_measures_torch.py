"""The optional torch path ranks units exactly like the numpy path (CPU here; CUDA if present)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from analysis.selectivity import measures
from analysis.selectivity.compat import CORRECT, GALE2020
from analysis.selectivity.ranking import ClassLabels, rank_unit
from analysis.selectivity.torch_ranking import DeviceLabels, rank_unit_torch
from tests.analysis.test_measures import tied_units


def assert_same_ranking(activations, labels, num_classes, device, split_bottom=True):
    prepared = ClassLabels.prepare(labels, num_classes)
    expected = rank_unit(activations, prepared, split_bottom=split_bottom)
    got = rank_unit_torch(activations, DeviceLabels(prepared, device), split_bottom=split_bottom)
    np.testing.assert_array_equal(got.order, expected.order)
    np.testing.assert_array_equal(got.labels, expected.labels)
    np.testing.assert_array_equal(got.class_hits, expected.class_hits)
    np.testing.assert_array_equal(got.block_positives, expected.block_positives)
    assert got.active == expected.active
    for conventions in (CORRECT, GALE2020):
        settings_ = measures.MeasureSettings(conventions=conventions)
        assert measures.ranked_unit_scores(got, unit=0, settings=settings_) == (
            measures.ranked_unit_scores(expected, unit=0, settings=settings_)
        )


@settings(max_examples=100, deadline=None)
@given(tied_units())
def test_torch_ranking_equals_numpy_ranking(unit):
    activations, labels, num_classes = unit
    for split_bottom in (True, False):
        assert_same_ranking(activations, labels, num_classes, "cpu", split_bottom)


@pytest.mark.gpu
def test_torch_ranking_on_cuda_equals_numpy_at_scale():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 1000, 200_000)
    activations = np.round(np.maximum(rng.normal(-1, 1, 200_000), 0) * 20, 1).astype(np.float32)
    assert torch.cuda.is_available()
    assert_same_ranking(activations, labels, 1000, "cuda")
