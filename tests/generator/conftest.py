"""Fixtures of the generator tests: the demo network and generator, trained once per session."""

import pytest
import torch

from generator.am.demo import DemoTraining, load_demo, train_demo

# Small enough to train in seconds, good enough for the behaviour the tests check.
TEST_TRAINING = DemoTraining(net_epochs=10, generator_epochs=12)


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory):
    """Folder holding a freshly trained demo_net.pt and demo_generator.pt, and the report."""
    folder = tmp_path_factory.mktemp("demo_models")
    report = train_demo(folder, TEST_TRAINING)
    return folder, report


@pytest.fixture(scope="session")
def demo_pair(demo_models):
    """(TargetNetwork, DemoGenerator) loaded from the trained files, on the CPU."""
    torch.manual_seed(0)
    return load_demo(demo_models[0])


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread(one_torch_thread):
    """Every generator test runs on one torch thread (tests/conftest.py says why)."""
