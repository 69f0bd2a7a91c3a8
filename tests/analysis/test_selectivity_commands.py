"""compute_selectivity, import_selectivity and selectivity_report: stored rows, CSV, reports,
clear errors, nothing partial."""

import csv
from io import StringIO

import h5py
import numpy as np
import pytest
from django.core.management import CommandError, call_command

from analysis.models import SelectivityScore
from analysis.selectivity.measures import MeasureSettings, unit_scores
from analysis.services import scores_export_csv
from tests.analysis.activation_files import random_units, write_activation_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def acts(tmp_path):
    """A small file of "toy", a network the generator does not register: taken as it says."""
    labels, values = random_units()
    layers = {"fc6": values, "fc7": values[:, :3] * 2}
    path = write_activation_file(tmp_path / "acts.h5", layers, labels, network="toy")
    return path, labels, values


@pytest.fixture
def demo_acts(tmp_path):
    """A file shaped as the demo network registers it: fc6 of 128 units, fc7 of 64."""
    labels, values = random_units(n_units=128)
    layers = {"fc6": values, "fc7": values[:, :64] * 2}
    return write_activation_file(tmp_path / "demo.h5", layers, labels, network="demo")


def compute(path, *extra, stdout=None):
    call_command(
        "compute_selectivity", "--activations", str(path), "--network", "toy", *extra,
        stdout=stdout or StringIO(),
    )  # fmt: skip


def test_compute_stores_one_row_per_unit_equal_to_the_core(acts):
    path, labels, values = acts
    compute(path)
    assert SelectivityScore.objects.filter(layer="fc6").count() == 6
    assert SelectivityScore.objects.filter(layer="fc7").count() == 3
    stored = SelectivityScore.objects.get(network="toy", layer="fc6", unit=0)
    expected = unit_scores(values[:, 0], labels, num_classes=5)
    assert stored.max_informedness == pytest.approx(expected.max_informedness)
    assert stored.ccmas_class == expected.ccmas_class == 2
    assert stored.source == str(path) and stored.compat == ""


def test_scores_keep_how_their_activations_were_recorded(tmp_path):
    """Before or after the ReLU, and a conv map's reduction: across a CSV and back too."""
    labels, values = random_units()
    path = write_activation_file(
        tmp_path / "acts.h5", {"fc6": values}, labels, network="toy", pre_relu=True
    )
    compute(path, "--csv", str(tmp_path / "out.csv"))
    stored = SelectivityScore.objects.get(layer="fc6", unit=0)
    assert (stored.pre_relu, stored.reduction) == (True, "")  # an fc layer has no map
    SelectivityScore.objects.all().delete()
    call_command("import_selectivity", str(tmp_path / "out.csv"))
    assert SelectivityScore.objects.get(layer="fc6", unit=0).pre_relu is True


def test_a_layer_with_no_relu_after_it_is_the_same_before_and_after_one(tmp_path):
    """demo's fc8 (logits): recorded with --pre-relu or not, its values do not differ, so its
    scores say neither and no report calls it recorded otherwise than the hidden layers."""
    labels, values = random_units(n_units=10, num_classes=10)
    layers = {"fc8": values, "fc7": np.repeat(values, 7, axis=1)[:, :64]}
    path = write_activation_file(tmp_path / "demo.h5", layers, labels, pre_relu=True)
    call_command("compute_selectivity", "--activations", str(path), "--network", "demo")
    stored = dict(SelectivityScore.objects.filter(unit=0).values_list("layer", "pre_relu"))
    assert stored == {"fc7": True, "fc8": None}


def test_compute_measures_correct_images_only_and_says_how_many_were_left_out(tmp_path):
    labels, values = random_units()
    predictions = np.where(np.arange(len(labels)) % 4 == 0, (labels + 1) % 5, labels)
    path = tmp_path / "all.h5"
    with h5py.File(path, "w") as handle:
        handle["labels"], handle["predictions"] = labels, predictions
        handle["layers/fc6"] = values
    output = StringIO()
    call_command(
        "compute_selectivity", "--activations", str(path), "--network", "toy", stdout=output
    )
    assert "Left out 75 of 300 images" in output.getvalue()
    correct = predictions == labels
    stored = SelectivityScore.objects.get(layer="fc6", unit=0)
    expected = unit_scores(values[correct, 0], labels[correct], num_classes=5)
    assert stored.n_images == 225
    assert stored.max_informedness == pytest.approx(expected.max_informedness)
    assert stored.ccmas == pytest.approx(expected.ccmas)


def test_compute_exports_csv_and_settings(acts, tmp_path):
    path, _, _ = acts
    out = tmp_path / "new" / "folder" / "out.csv"  # folders made as needed
    compute(path, "--layers", "fc7", "--csv", str(out))
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["unit"]) for r in rows] == [0, 1, 2]
    assert '"precision_k": 60' in out.with_suffix(".settings.json").read_text()


def test_an_export_that_fails_half_way_leaves_the_earlier_csv_and_settings(acts, tmp_path):
    path, _, _ = acts
    out = tmp_path / "out.csv"
    compute(path, "--layers", "fc7", "--csv", str(out))
    before = out.read_text(), out.with_suffix(".settings.json").read_text()
    first = next(iter(csv.DictReader(out.open())))

    def records():
        yield first
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        scores_export_csv(path=out, records=records(), settings=MeasureSettings(precision_k=5))
    assert (out.read_text(), out.with_suffix(".settings.json").read_text()) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_csv_path_naming_the_activation_file_is_refused_before_any_work(acts):
    """A slip of --csv acts.h5 destroyed the recording after the scores were stored."""
    path, _, _ = acts
    with pytest.raises(CommandError, match="would replace the activation file .*Nothing was"):
        compute(path, "--csv", str(path))
    assert h5py.is_hdf5(path) and not SelectivityScore.objects.exists()


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        ("unit notes\n", "exists and is not a score CSV \\(its first line does not start with "
         "network,layer,unit\\), so it is not replaced: give --csv another path"),
        ("folder", "is a folder: give --csv a file's path"),
        ("under a file", "cannot be written: .*notes.txt is a file, not a folder"),
    ],
)  # fmt: skip
def test_a_csv_path_holding_something_else_is_refused_before_any_work(
    acts, tmp_path, existing, message
):
    path, _, _ = acts
    (tmp_path / "notes.txt").write_text("unit notes\n")
    target = {"unit notes\n": tmp_path / "notes.txt", "folder": tmp_path,
              "under a file": tmp_path / "notes.txt" / "out.csv"}[existing]  # fmt: skip
    with pytest.raises(CommandError, match=message):
        compute(path, "--csv", str(target))
    assert (tmp_path / "notes.txt").read_text() == "unit notes\n"
    assert not SelectivityScore.objects.exists()


def test_an_earlier_score_csv_is_replaced(acts, tmp_path):
    path, _, _ = acts
    out = tmp_path / "scores.csv"
    compute(path, "--csv", str(out))
    compute(path, "--layers", "fc7", "--csv", str(out))
    assert len(list(csv.DictReader(out.open()))) == 3


@pytest.mark.parametrize(
    ("layers", "message"),
    [({}, "No layers in .*: its /layers group is empty"),
     ({"fc6": np.zeros((300, 0), "f4")}, "No units in layer\\(s\\) fc6 of ")],
)  # fmt: skip
def test_a_file_without_layers_or_units_is_refused_and_writes_nothing(tmp_path, layers, message):
    """It was a success that replaced the earlier CSV by a header."""
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as handle:
        handle["labels"] = np.arange(300) % 5
        group = handle.create_group("layers")
        for name, values in layers.items():
            group[name] = values
    earlier = tmp_path / "empty.selectivity.csv"
    earlier.write_text("network,layer,unit,n_images\ntoy,fc6,0,300\n")
    with pytest.raises(CommandError, match=f"{message}.*No scores were stored"):
        compute(path)
    assert earlier.read_text() == "network,layer,unit,n_images\ntoy,fc6,0,300\n"


def test_gale2020_compat_reports_threshold_as_rank(acts):
    path, _, _ = acts
    compute(path, "--compat", "gale2020", "--layers", "fc6")
    row = SelectivityScore.objects.get(layer="fc6", unit=0)
    assert row.compat == "gale2020" and row.max_informedness_threshold.is_integer()


def test_torch_path_stores_the_same_scores(acts):
    path, _, _ = acts
    compute(path, "--layers", "fc6")
    numpy_rows = list(
        SelectivityScore.objects.values_list("max_informedness", "ccmas", "precision")
    )
    compute(path, "--layers", "fc6", "--device", "cpu")
    torch_rows = list(
        SelectivityScore.objects.values_list("max_informedness", "ccmas", "precision")
    )
    assert torch_rows == numpy_rows


def test_rerun_replaces_the_layer_scores_and_says_what_it_replaced(acts, tmp_path):
    path, _, _ = acts
    compute(path, "--csv", str(tmp_path / "first.csv"))
    SelectivityScore.objects.filter(layer="fc6", unit=5).update(source="older.csv")
    output = StringIO()
    compute(path, "--layers", "fc6", stdout=output)
    assert SelectivityScore.objects.count() == 9
    assert f"Replaced 6 stored scores of toy fc6 (5 from {path}, 1 from older.csv)." in (
        output.getvalue()
    )
    assert "fc7" not in output.getvalue()


def test_import_says_which_stored_scores_it_replaced(acts, tmp_path):
    path, _, _ = acts
    compute(path, "--layers", "fc7", "--csv", str(tmp_path / "out.csv"))
    output = StringIO()
    call_command("import_selectivity", str(tmp_path / "out.csv"), stdout=output)
    assert f"Replaced 3 stored scores of toy fc7 (3 from {path})." in output.getvalue()
    assert "now have none" not in output.getvalue()
    # A CSV of one unit replaces the layer whole: the others' loss is said.
    one = tmp_path / "one.csv"
    one.write_text("network,layer,unit,n_images,precision\ntoy,fc7,0,100,0.5\n")
    output = StringIO()
    call_command("import_selectivity", str(one), stdout=output)
    assert "2 units of toy fc7 had scores and are not in the new ones, so now have none " in (
        output.getvalue()
    )
    assert "(e.g. 1, 2)" in output.getvalue()


def test_missing_layer_is_a_clear_error_and_stores_nothing(acts):
    path, _, _ = acts
    with pytest.raises(CommandError, match="conv5 not in .*layers there: fc6, fc7"):
        compute(path, "--layers", "fc6,conv5")
    assert not SelectivityScore.objects.exists()


def test_nan_in_a_late_unit_leaves_no_partial_score_set(acts):
    path, _, _ = acts
    compute(path)
    with h5py.File(path, "r+") as handle:
        handle["layers/fc7"][10, 2] = np.nan
    with pytest.raises(CommandError, match="'fc7' unit 2 .* NaN"):
        compute(path)
    assert SelectivityScore.objects.filter(layer="fc6").count() == 6  # earlier set intact
    assert SelectivityScore.objects.count() == 9


def test_mismatched_label_count_is_a_clear_error(acts):
    path, _, _ = acts
    with h5py.File(path, "r+") as handle:
        del handle["labels"]
        handle["labels"] = np.zeros(299, dtype=np.int32)
    with pytest.raises(CommandError, match="shape \\(300,\\) but there are 299 labels"):
        compute(path)  # /predictions is checked first
    with h5py.File(path, "r+") as handle:
        del handle["predictions"]
    with pytest.raises(CommandError, match="shape \\(300, 6\\) but there are 299 labels"):
        compute(path)
    assert not SelectivityScore.objects.exists()


def test_non_hdf5_file_is_a_clear_error(tmp_path):
    path = tmp_path / "acts.h5"
    path.write_text("not hdf5")
    with pytest.raises(CommandError, match="is not an HDF5 file"):
        compute(path)


def test_wrong_network_name_is_refused(acts):
    path, _, _ = acts
    with pytest.raises(CommandError, match="recorded from network 'toy', not 'alexnet'"):
        call_command("compute_selectivity", "--activations", str(path), "--network", "alexnet")


def test_a_file_that_fits_the_registered_network_is_stored(demo_acts):
    call_command(
        "compute_selectivity", "--activations", str(demo_acts), "--network", "demo",
        stdout=StringIO(),
    )  # fmt: skip
    assert SelectivityScore.objects.filter(network="demo", layer="fc6").count() == 128


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # 1-based labels (MATLAB, Caffe tools) or TF-slim's background class 0: one class off
        ("one-based", "label 10 is not a class of demo, whose classes are 0-9 \\(labels are "
         "0-based class indices: subtract 1 from 1-based ones"),
        ("num_classes", "num_classes is 11, but demo has 10 classes"),
        ("units", "layer fc7 has 7 units, but demo's fc7 has 64"),
        ("alias", "layer classifier.4 is not a layer of demo, whose layers are conv5, fc6, "
         "fc7, fc8"),
    ],
)  # fmt: skip
def test_a_file_that_does_not_fit_the_registered_network_is_refused_before_storing(
    demo_acts, change, message
):
    """Its class indices would be read as the network's, and its units matched by number."""
    SelectivityScore.objects.create(network="demo", layer="fc7", unit=1, n_images=5)
    with h5py.File(demo_acts, "r+") as handle:
        if change == "one-based":
            labels = handle["labels"][()] + 6  # 6..10
            del handle["labels"], handle["predictions"]
            handle["labels"] = labels
        elif change == "num_classes":
            handle.attrs["num_classes"] = 11
        elif change == "units":
            seven = handle["layers/fc7"][:, :7]
            del handle["layers/fc7"]
            handle["layers/fc7"] = seven
        else:
            handle["layers/classifier.4"] = handle["layers/fc7"][()]
    with pytest.raises(CommandError, match=f"does not fit network demo: {message}.*No scores"):
        call_command(
            "compute_selectivity", "--activations", str(demo_acts), "--network", "demo",
            stdout=StringIO(),
        )  # fmt: skip
    assert list(SelectivityScore.objects.values_list("layer", "unit")) == [("fc7", 1)]


def test_import_round_trips_an_exported_csv(acts, tmp_path):
    path, _, _ = acts
    compute(path, "--csv", str(tmp_path / "out.csv"))
    before = list(SelectivityScore.objects.values_list("unit", "max_informedness", "ccmas"))
    SelectivityScore.objects.all().delete()
    call_command("import_selectivity", str(tmp_path / "out.csv"))
    after = list(SelectivityScore.objects.values_list("unit", "max_informedness", "ccmas"))
    assert after == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("network,layer,unit\nalexnet,fc6,1\n", "missing columns: n_images"),
        ("network,layer,unit,n_images,colour\n", "unknown columns: colour"),
        ("network,layer,unit,n_images,precision\nalexnet,fc6,1,10,1.3\n", "outside \\[0, 1\\]"),
        ("network,layer,unit,n_images\nalexnet,fc6,x,10\n", "line 2, column 'unit'"),
        (
            "network,layer,unit,n_images,reduction\nalexnet,conv5,1,10,median\n",
            "column 'reduction': 'median' is not one of max, mean",
        ),
        ("network,layer,unit,n_images,pre_relu\nalexnet,fc6,1,10,maybe\n", "not true/false"),
        ("network,layer,unit,n_images\nalexnet,fc6,1,10\nalexnet,fc6,1,10\n", "appears twice"),
        ("network,layer,unit,n_images\nalexnet,fc6,1,10,0.5\n", "line 2: 1 more cell"),
        ("network,layer,unit,n_images\nvgg16/places,fc6,1,10\n", "letters, digits"),
        ("network,layer,unit,n_images\nalexnet,fc6,10000000000000000000,10\n", "above the max"),
        (
            "network,layer,unit,n_images,most_active_class\nalexnet,fc6,1,10,1000\n",
            "column 'most_active_class': 1000 is not a class of alexnet, whose classes are 0-999",
        ),
        (
            "network,layer,unit,n_images,ccmas_class\ndemo,fc6,1,10,10\n",
            "10 is not a class of demo, whose classes are 0-9",
        ),
        # 1-based units would put every unit's scores on the next one's panel
        (
            "network,layer,unit,n_images\nalexnet,fc8,1000,10\n",
            "line 2: unit 1000 is not a unit of alexnet fc8, whose units are 0-999",
        ),
        (
            "network,layer,unit,n_images\nalexnet-places365,fc9,1,10\n",
            "line 2: alexnet-places365 has no layer fc9 \\(its layers: conv5, fc6, fc7, fc8\\)",
        ),
        ("", "CSV is empty"),
        (
            "network,layer,unit,n_images,ccmas\nalexnet,fc6,1,10,NaN\n",
            "column 'ccmas': 'NaN' is not a number: leave an undefined measure empty",
        ),
        (
            "network,layer,unit,n_images,is_dead,precision,ccmas,most_active_class,is_localist\n"
            "vgg16,fc6,0,100,true,0,0,0,false\n",
            "line 2: unit 0 is_dead but has precision 0.0, ccmas 0.0, most_active_class 0: a "
            "dead unit's measures and classes must be empty",
        ),
    ],
)
def test_import_rejects_bad_csv_and_keeps_stored_scores(tmp_path, content, message):
    SelectivityScore.objects.create(network="alexnet", layer="fc6", unit=1, n_images=5)
    path = tmp_path / "scores.csv"
    path.write_text(content)
    with pytest.raises(CommandError, match=message):
        call_command("import_selectivity", str(path))
    assert SelectivityScore.objects.get().n_images == 5


def test_a_dead_unit_with_empty_measures_is_imported(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text(
        "network,layer,unit,n_images,is_dead,precision,precision_k,is_localist\n"
        "vgg16,fc6,0,100,true,,60,false\nvgg16,fc6,1,100,false,0.5,60,false\n"
    )
    call_command("import_selectivity", str(path), stdout=StringIO())
    dead = SelectivityScore.objects.get(unit=0)
    assert dead.is_dead and dead.precision is None


def test_a_spreadsheets_utf8_csv_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("network,layer,unit,n_images\nalexnet,fc6,1,10\n", encoding="utf-8-sig")
    call_command("import_selectivity", str(path))
    assert SelectivityScore.objects.get().network == "alexnet"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--network", "vgg16/places"], "letters, digits"),
        (["--workers", "-2"], "--workers must be at least 1"),
        (["--device", "bogus"], "--device 'bogus': use cuda, cuda:N or cpu"),
    ],
)
def test_compute_refuses_bad_arguments_before_any_work(tmp_path, extra, message):
    args = ["--activations", str(tmp_path / "none.h5"), "--network", "demo", *extra]
    with pytest.raises(CommandError, match=message):
        call_command("compute_selectivity", *args)


def test_selectivity_report_summarises_stored_layers_in_the_networks_order(
    demo_acts, settings, tmp_path
):
    for layer in ("fc7", "fc6"):  # fc6 stored after fc7, still reported first
        call_command(
            "compute_selectivity", "--activations", str(demo_acts), "--network", "demo",
            "--layers", layer, stdout=StringIO(),
        )  # fmt: skip
    settings.VAR_DIR = tmp_path / "var"
    output = StringIO()
    call_command("selectivity_report", "--network", "demo", "--top", "2", stdout=output)
    folder = tmp_path / "var" / "analysis" / "selectivity-demo"
    assert f"Wrote 7 files to {folder}" in output.getvalue()
    counts = list(csv.DictReader((folder / "counts.csv").open()))
    assert [(row["layer"], row["units"]) for row in counts] == [("fc6", "128"), ("fc7", "64")]
    top = list(csv.DictReader((folder / "top_units.csv").open()))
    best = next(row for row in top if row["layer"] == "fc6" and row["ranked_by"] == "ccmas")
    assert (best["unit"], best["ccmas_class"]) == ("0", "two")  # prefers class 2, named
    assert len(top) == 2 * 2 + 2 * 2


def test_selectivity_report_of_chosen_layers_only(acts, tmp_path):
    compute(acts[0])
    call_command(
        "selectivity_report", "--network", "toy", "--layers", "fc7", "--out", str(tmp_path / "r"),
        stdout=StringIO(),
    )  # fmt: skip
    assert {row["layer"] for row in csv.DictReader((tmp_path / "r" / "counts.csv").open())} == {
        "fc7"
    }


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--network", "alexnet"], r"No selectivity scores are stored for network 'alexnet' "
         r"\(stored: toy\); run compute_selectivity"),
        (["--network", "toy", "--layers", "fc6,conv9"],
         "No selectivity scores are stored for toy conv9; stored layers: fc6, fc7."),
        (["--network", "toy", "--top", "0"], "--top must be at least 1"),
    ],
)  # fmt: skip
def test_selectivity_report_bad_arguments_are_clear_errors(acts, tmp_path, arguments, message):
    compute(acts[0])
    with pytest.raises(CommandError, match=message):
        call_command("selectivity_report", *arguments, "--out", str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("command", "extra", "message"),
    [
        ("plot_unit", ["--top-k", "0"], "--top-k must be at least 1"),
        ("plot_unit", ["--out", "{tmp}"], "--out must name a PNG file"),
        ("plot_unit", ["--out", "{tmp}/figure.jpgx"], "--out must name a PNG file"),
        ("plot_unit", ["--out", "{tmp}/a_file/figure.png"], "a_file is a file"),
        ("record_activations", ["--batch-size", "0"], "--batch-size must be at least 1"),
        ("record_activations", ["--device", "bogus"], "--device 'bogus': use cuda, cuda:N or cpu"),
        ("record_activations", ["--out", "{tmp}/a_file/x.h5"], "not a folder"),
        ("record_activations", ["--layers", " , "], "--layers ' , ' names no layer"),
    ],
)
def test_bad_arguments_of_the_file_commands_are_clear_errors(tmp_path, command, extra, message):
    (tmp_path / "a_file").write_text("")
    base = {
        "plot_unit": ["--activations", str(tmp_path / "none.h5"), "--layer", "fc6", "--unit", "0",
                      "--out", str(tmp_path / "figure.png")],
        "record_activations": ["--network", "demo", "--dataset", "demo",
                               "--out", str(tmp_path / "acts.h5")],
    }[command]  # fmt: skip
    args = base + [item.format(tmp=tmp_path) for item in extra]
    with pytest.raises(CommandError, match=message):
        call_command(command, *args)


def test_simulate_refuses_a_negative_seed(db):
    from experiment.models import Experiment

    Experiment.objects.create(slug="sim", title="Sim")
    with pytest.raises(CommandError, match="--seed must be 0 or more"):
        call_command(
            "simulate_responses", "--experiment", "sim", "--participants", "2", "--seed", "-1"
        )
