"""plot_unit draws figure 3 of a unit as a PNG."""

import errno

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from matplotlib.figure import Figure
from PIL import Image

from analysis.selectivity.plots import draw_unit_figure, unit_figure
from tests.analysis.activation_files import random_units, write_activation_file


def test_figure_marks_the_top_class_and_both_thresholds():
    labels, values = random_units(n_images=500)
    figure = unit_figure(
        values[:, 0], labels, num_classes=5, class_names=list("abcde"), title="t", top_k=60
    )
    assert figure.class_name == "c" and figure.in_class.sum() == 100
    assert figure.top_k_threshold == np.sort(values[:, 0])[-60]
    assert figure.informedness_threshold > 0


@pytest.mark.django_db
def test_plot_unit_writes_a_png(tmp_path):
    labels, values = random_units(n_images=500)
    acts = write_activation_file(tmp_path / "a.h5", {"fc6": values}, labels)
    out = tmp_path / "unit.png"
    call_command(
        "plot_unit", "--activations", str(acts), "--layer", "fc6", "--unit", "0", "--out", str(out)
    )
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 800


@pytest.mark.django_db
def test_plot_unit_rejects_a_unit_out_of_range(tmp_path):
    labels, values = random_units()
    acts = write_activation_file(tmp_path / "a.h5", {"fc6": values}, labels)
    with pytest.raises(CommandError, match="units 0-5; there is no unit 9"):
        call_command(
            "plot_unit",
            "--activations",
            str(acts),
            "--layer",
            "fc6",
            "--unit",
            "9",
            "--out",
            str(tmp_path / "u.png"),
        )


def test_figure_of_a_dead_unit_shows_no_class_nor_thresholds(tmp_path):
    """Not the class of whichever image came first among equal activations."""
    labels = np.arange(100) % 4
    figure = unit_figure(np.zeros(100), labels, num_classes=4, class_names=[], title="fc6.0")
    assert figure.is_dead and figure.class_name == "" and not figure.in_class.any()
    assert np.isnan(figure.informedness_threshold) and np.isnan(figure.top_k_threshold)
    assert figure.title == "fc6.0: dead (every activation 0)"
    assert draw_unit_figure(figure, tmp_path / "dead.png").stat().st_size > 0


@pytest.mark.django_db
def test_plot_unit_says_a_unit_is_dead(tmp_path, capsys):
    labels, values = random_units(n_images=500)
    values[:, 2] = 0.0
    acts = write_activation_file(tmp_path / "a.h5", {"fc6": values}, labels)
    out = tmp_path / "unit.png"
    call_command(
        "plot_unit", "--activations", str(acts), "--layer", "fc6", "--unit", "2", "--out", str(out)
    )
    assert "the unit is dead, so the figure shows no class" in capsys.readouterr().out
    assert out.stat().st_size > 0


@pytest.mark.django_db
def test_a_figure_that_cannot_be_written_keeps_the_earlier_one(tmp_path, monkeypatch):
    """Written beside and renamed into place: a full disk leaves the earlier figure whole."""
    labels, values = random_units(n_images=500)
    acts = write_activation_file(tmp_path / "a.h5", {"fc6": values}, labels)
    out = tmp_path / "unit.png"
    args = ["--activations", str(acts), "--layer", "fc6", "--unit", "0", "--out", str(out)]
    call_command("plot_unit", *args)
    earlier = out.read_bytes()
    real = Figure.savefig

    def half_then_full(figure, stream, *more, **options):
        real(figure, stream, *more, **options)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", half_then_full)
    with pytest.raises(CommandError) as refused:
        call_command("plot_unit", *[*args[:5], "1", *args[6:]])
    assert str(refused.value) == (
        f"Cannot write {out}: No space left on device (free space on that disk). The earlier "
        "unit.png is kept as it was."
    )
    assert out.read_bytes() == earlier and sorted(p.name for p in tmp_path.iterdir()) == [
        "a.h5",
        "unit.png",
    ]
