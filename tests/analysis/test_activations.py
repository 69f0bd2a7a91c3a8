"""The HDF5 activation file: schema, block reads, recording a real network, resuming."""

import errno
import shutil

import h5py
import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command
from PIL import Image

from analysis.selectivity import activation_writer
from analysis.selectivity.activation_writer import ActivationWriter
from analysis.selectivity.activations import (
    CHUNK_ROWS,
    ActivationFile,
    ActivationFileError,
    RecordingHeader,
)
from analysis.selectivity.recording import LayerRecorder, folder_source, record, tensor_source
from generator.am.demo import DemoNet, digits_dataset
from generator.am.networks import load_network
from generator.am.provenance import file_sha256
from tests.analysis.activation_files import random_units, write_activation_file


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """The recording tests run the tiny demo net on one torch thread."""


@pytest.fixture(scope="module")
def demo_weights(tmp_path_factory):
    """A real demo network with fixed random weights (training is the generator's concern)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "demo_net.pt"
    torch.save(DemoNet().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def demo_recorder(demo_weights):
    network = load_network("demo", weights=demo_weights)
    return LayerRecorder(network, ["conv5", "fc6"], reduction="max", pre_relu=False)


def digits_source(count=300):
    images, labels = digits_dataset()
    return tensor_source("digits", images[:count], labels[:count])


def test_file_round_trips_and_is_chunked_by_unit_blocks(tmp_path):
    labels, values = random_units(n_images=2000, n_units=300)
    path = write_activation_file(tmp_path / "a.h5", {"fc6": values}, labels)
    with ActivationFile(path) as acts:
        assert acts.layer_names() == ["fc6"] and acts.num_classes == 5
        np.testing.assert_array_equal(acts.unit_block("fc6", 128, 256), values[:, 128:256])
        assert [start for start, _ in acts.unit_blocks("fc6")] == [0, 128, 256]
    with h5py.File(path) as handle:
        assert handle["layers/fc6"].chunks == (1024, 128)
        assert handle["layers/fc6"].dtype == np.float32


def test_recording_keeps_only_correct_images_with_conv_reduced_per_channel(tmp_path, demo_recorder):
    source = digits_source()
    seen, kept = record(demo_recorder, source, tmp_path / "a.h5", batch_size=50)
    predictions, values = demo_recorder(source.load(range(300)))
    correct = predictions.numpy() == source.labels
    assert (seen, kept) == (300, int(correct.sum())) and kept > 0
    with h5py.File(tmp_path / "a.h5") as handle:
        np.testing.assert_array_equal(handle["labels"][()], source.labels[correct])
        np.testing.assert_array_equal(handle["predictions"][()], handle["labels"][()])
        np.testing.assert_allclose(handle["layers/conv5"][()], values["conv5"][correct], rtol=1e-5)
        assert handle["layers/conv5"].shape[1] == 32 and handle.attrs["reduction"] == "max"
        assert handle["layers/conv5"].attrs["reduction"] == "max" and handle.attrs["complete"]


def test_interrupted_recording_resumes_to_the_same_file(tmp_path, demo_recorder):
    source = digits_source()
    record(demo_recorder, source, tmp_path / "whole.h5", batch_size=20)
    calls = []

    def failing_load(indices):
        calls.append(indices)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return source.load(indices)

    broken = type(source)(source.name, source.image_ids, source.labels, failing_load)
    with pytest.raises(KeyboardInterrupt):
        record(demo_recorder, broken, tmp_path / "part.h5", batch_size=20)
    with h5py.File(tmp_path / "part.h5") as handle:
        assert handle.attrs["images_seen"] == 60 and not handle.attrs["complete"]
    record(demo_recorder, source, tmp_path / "part.h5", batch_size=20)
    with h5py.File(tmp_path / "whole.h5") as whole, h5py.File(tmp_path / "part.h5") as part:
        np.testing.assert_array_equal(whole["layers/fc6"][()], part["layers/fc6"][()])
        assert list(whole["image_ids"].asstr()) == list(part["image_ids"].asstr())


def test_resuming_with_other_settings_is_refused(tmp_path, demo_recorder, demo_weights):
    record(demo_recorder, digits_source(40), tmp_path / "a.h5")
    other = LayerRecorder(demo_recorder.network, ["conv5", "fc6"], reduction="mean", pre_relu=False)
    with pytest.raises(ActivationFileError, match="reduction 'max', not 'mean'"):
        record(other, digits_source(40), tmp_path / "a.h5")


def test_folder_source_orders_classes_by_the_class_index(tmp_path):
    for wnid in ["n02", "n01"]:
        (tmp_path / wnid).mkdir()
        for i in range(2):
            Image.new("RGB", (40, 30), (i * 100, 0, 0)).save(tmp_path / wnid / f"{i}.png")
    source = folder_source(tmp_path, ["n01", "n02", "n03"], size=16)
    assert source.image_ids == ["n01/0.png", "n01/1.png", "n02/0.png", "n02/1.png"]
    assert list(source.labels) == [0, 0, 1, 1]
    assert source.load([3]).shape == (1, 3, 16, 16)
    (tmp_path / "cats").mkdir()
    with pytest.raises(ActivationFileError, match="unknown folder names: cats"):
        folder_source(tmp_path, ["n01", "n02"], size=16)


def test_folder_source_reads_class_folders_that_are_links(tmp_path):
    """A training set made of links to ImageNet's class folders is read whole."""
    (tmp_path / "imagenet" / "n02").mkdir(parents=True)
    Image.new("RGB", (40, 30)).save(tmp_path / "imagenet" / "n02" / "0.png")
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "n02").symlink_to(tmp_path / "imagenet" / "n02", target_is_directory=True)
    assert folder_source(tmp_path / "set", ["n01", "n02"], size=16).image_ids == ["n02/0.png"]


@pytest.mark.django_db
def test_record_activations_command_on_the_demo_digits(tmp_path, demo_weights):
    out = tmp_path / "demo.h5"
    args = ["--network", "demo", "--dataset", "demo", "--out", str(out)]
    call_command("record_activations", *args, "--weights", str(demo_weights), "--layers", "fc7")
    with ActivationFile(out) as acts:
        assert acts.layer_names() == ["fc7"] and acts.network == "demo"
        assert acts.class_names[3] == "three" and 0 < len(acts.labels) < 1797
        assert acts.weights_sha256 == file_sha256(demo_weights)


def test_a_recording_that_keeps_no_image_says_so_and_leaves_no_file(tmp_path, demo_recorder):
    """Labels the network never predicts, as wrong weights give: compute_selectivity would
    fail on the file later, far from the cause."""
    source = digits_source(40)
    predictions, _ = demo_recorder(source.load(range(40)))
    wrong = tensor_source("digits", source.load(range(40)), (predictions + 1) % 10)
    with pytest.raises(ActivationFileError) as refused:
        record(demo_recorder, wrong, tmp_path / "a.h5", batch_size=16)
    assert "No image was classified correctly by demo: 40 images of digits seen" in str(
        refused.value
    )
    assert "Check the weights" in str(refused.value) and "class folder" in str(refused.value)
    assert list(tmp_path.iterdir()) == []  # neither the file nor its reserve


@pytest.mark.django_db
def test_record_activations_with_weights_that_classify_no_image_stops(tmp_path, monkeypatch):
    """Weights that call every digit a 9, over digits other than 9: a clear error, no file."""
    import generator.am.demo

    net = DemoNet()
    torch.nn.init.zeros_(net.fc8.weight)
    with torch.no_grad():
        net.fc8.bias.copy_(torch.arange(10.0))  # class 9 wins whatever the image
    torch.save(net.state_dict(), tmp_path / "wrong.pt")
    images, labels = digits_dataset()
    not_nines = (labels != 9).nonzero().squeeze(1)[:50]
    monkeypatch.setattr(
        generator.am.demo, "digits_dataset", lambda size: (images[not_nines], labels[not_nines])
    )
    out = tmp_path / "acts.h5"
    args = ["--network", "demo", "--dataset", "demo", "--out", str(out), "--layers", "fc7"]
    with pytest.raises(CommandError, match="No image was classified correctly by demo: 50 images"):
        call_command("record_activations", *args, "--weights", str(tmp_path / "wrong.pt"))
    assert not out.exists()


@pytest.mark.django_db
def test_record_activations_refuses_images_for_a_network_without_wordnet_ids(tmp_path):
    """Places-365 classes have no WordNet ids to name class folders; the message says what to
    do instead, before any weights are looked for."""
    args = ["--network", "alexnet-places365", "--images", str(tmp_path)]
    with pytest.raises(CommandError) as refused:
        call_command("record_activations", *args, "--out", str(tmp_path / "acts.h5"))
    assert str(refused.value).startswith("--images needs a network whose classes have WordNet")
    assert "alexnet-places365 has none: record its activations elsewhere" in str(refused.value)
    assert "HDF5 layout of docs/measures.md" in str(refused.value)


def test_resuming_with_other_weights_is_refused(tmp_path, demo_recorder):
    """Activations of two weight sets in one file would be measured as one network."""
    record(demo_recorder, digits_source(40), tmp_path / "a.h5", weights_sha256="a" * 64)
    with pytest.raises(ActivationFileError, match="weights_sha256 'aaaa"):
        record(demo_recorder, digits_source(40), tmp_path / "a.h5", weights_sha256="b" * 64)


@pytest.mark.django_db
def test_record_activations_reports_an_unknown_layer(tmp_path, demo_weights):
    with pytest.raises(CommandError, match="Unknown layer 'fc9'"):
        call_command(
            "record_activations",
            "--network",
            "demo",
            "--dataset",
            "demo",
            "--out",
            str(tmp_path / "x.h5"),
            "--weights",
            str(demo_weights),
            "--layers",
            "fc9",
        )


def test_a_minimal_file_made_elsewhere_is_readable(tmp_path):
    """Only /labels and /layers/<alias> are required (docs/measures.md)."""
    labels, values = random_units()
    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle["labels"] = labels
        handle["layers/pool5"] = values
    with ActivationFile(tmp_path / "other.h5") as acts:
        assert acts.num_classes == 5 and acts.network == "" and acts.class_names == []
        np.testing.assert_array_equal(acts.unit("pool5", 2), values[:, 2])


def test_an_unfinished_recording_is_not_measured(tmp_path):
    """Stopped half-way over a folder sorted by class, it holds the first classes only."""
    labels, values = random_units()
    with h5py.File(tmp_path / "partial.h5", "w") as handle:
        handle["labels"] = labels
        handle["layers/fc6"] = values
        handle.attrs.update(complete=False, images_seen=200)
    with pytest.raises(ActivationFileError, match="unfinished recording .* after 200 images"):
        ActivationFile(tmp_path / "partial.h5")


@pytest.mark.parametrize("value", ["five", 2.5, 0])
def test_a_num_classes_that_is_no_count_is_a_clear_error(tmp_path, value):
    labels, values = random_units()
    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle["labels"] = labels
        handle["layers/pool5"] = values
        handle.attrs["num_classes"] = value
    with pytest.raises(ActivationFileError, match="num_classes attribute must be a positive"):
        ActivationFile(tmp_path / "other.h5")


def test_images_a_file_says_were_misclassified_are_left_out_when_read(tmp_path):
    """A file made elsewhere may keep every image; the measures use the correct ones only."""
    labels, values = random_units()
    predictions = labels.copy()
    predictions[::10] = (labels[::10] + 1) % 5  # 30 of 300 misclassified
    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle["labels"], handle["predictions"] = labels, predictions
        handle["layers/pool5"] = values
    correct = predictions == labels
    with ActivationFile(tmp_path / "other.h5") as acts:
        assert (acts.rows, acts.misclassified) == (300, 30)
        np.testing.assert_array_equal(acts.labels, labels[correct])
        np.testing.assert_array_equal(acts.unit("pool5", 2), values[correct, 2])
        np.testing.assert_array_equal(acts.unit_block("pool5", 0, 6), values[correct])


def test_a_file_without_a_correctly_classified_image_is_refused(tmp_path):
    labels, values = random_units()
    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle["labels"], handle["predictions"] = labels, (labels + 1) % 5
        handle["layers/pool5"] = values
    with pytest.raises(ActivationFileError, match="None of the 300 images .* correctly classified"):
        ActivationFile(tmp_path / "other.h5")


def test_predictions_that_are_not_class_indices_are_refused_as_such(tmp_path):
    labels, values = random_units()
    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle["labels"], handle["predictions"] = labels, labels.astype(np.float32)
        handle["layers/pool5"] = values
    with pytest.raises(ActivationFileError, match="/predictions of .* holds float32, not integers"):
        ActivationFile(tmp_path / "other.h5")


def test_hdf5_without_the_schema_is_a_clear_error(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle["something"] = [1, 2, 3]
    with pytest.raises(ActivationFileError, match="needs /labels and /layers"):
        ActivationFile(tmp_path / "other.h5")


def test_files_that_would_be_misread_are_refused_by_name(tmp_path):
    """Float labels, empty labels and a non-numeric layer: clear errors, not a traceback."""
    import h5py
    import numpy as np

    from analysis.selectivity.activations import ActivationFile, ActivationFileError

    def make(name, labels, layer):
        path = tmp_path / name
        with h5py.File(path, "w") as handle:
            handle["labels"] = labels
            handle.create_group("layers")["fc"] = layer
        return path

    floats = make("floats.h5", np.array([0.7, 1.0]), np.zeros((2, 3), "f4"))
    with pytest.raises(ActivationFileError, match="must hold integers"):
        ActivationFile(floats)
    empty = make("empty.h5", np.zeros(0, "i4"), np.zeros((0, 3), "f4"))
    with pytest.raises(ActivationFileError, match="is empty"):
        ActivationFile(empty)
    text = make("text.h5", np.array([0, 1]), np.array([["a"] * 3] * 2, dtype="S1"))
    with ActivationFile(text) as source, pytest.raises(ActivationFileError, match="numeric"):
        source.unit_block("fc", 0, 3)


HEADER = RecordingHeader(
    network="demo",
    layers={"fc6": ("fc", 8)},
    reduction="max",
    num_classes=10,
    class_names=tuple("abcdefghij"),
    source="synthetic",
)


def append_batch(writer, batch):
    """CHUNK_ROWS images of batch `batch`: each row's activations are batch + 1."""
    n = CHUNK_ROWS
    ids = [f"img{batch}_{i}" for i in range(n)]
    layers = {"fc6": np.full((n, 8), batch + 1, "float32")}
    labels = np.full(n, batch % 10, "int32")
    writer.append(labels, labels, ids, layers, images_seen=(batch + 1) * n)


HDF5_DISK_FULL = RuntimeError(
    "Unable to synchronously flush file (file write failed: time = Fri Nov 27 09:18:56 2026\n"
    ", filename = 'a.h5', file descriptor = 3, errno = 28, error message = 'No space left on "
    "device', buf = 0x55a8a1c5fd80, total write size = 29552)"
)


def test_a_write_the_disk_refuses_keeps_the_rows_written_before_and_resumes(tmp_path, monkeypatch):
    """The row count is saved only once the rows are on disk: the batch that failed is not
    counted, and the rerun writes it again. (A real full disk damages an HDF5 file in place:
    the failure is made at h5py's flush, where HDF5 writes.)"""
    path, real_flush = tmp_path / "a.h5", h5py.File.flush

    def disk_full_once(handle):
        if handle["labels"].shape[0] > CHUNK_ROWS and not failed:
            failed.append(True)
            raise HDF5_DISK_FULL
        real_flush(handle)

    failed = []
    monkeypatch.setattr(h5py.File, "flush", disk_full_once)
    writer = ActivationWriter(path, HEADER, images=3 * CHUNK_ROWS)
    append_batch(writer, 0)
    with pytest.raises(ActivationFileError) as stopped:
        append_batch(writer, 1)
    assert str(stopped.value) == (
        f"Recording stopped: {path}: No space left on device (free space on that disk). "
        f"{path} keeps the 1024 images kept of the first 1024 seen, all written before: free "
        "space and run the same command again; it goes on after them."
    )
    assert writer.close(total=3 * CHUNK_ROWS) == (1024, 1024)
    assert [p.name for p in tmp_path.iterdir()] == ["a.h5"]  # no reserve of space left
    with h5py.File(path) as handle:
        assert (handle.attrs["images_seen"], handle.attrs["rows"]) == (1024, 1024)
    writer = ActivationWriter(path, HEADER, images=3 * CHUNK_ROWS)
    assert writer.images_seen == CHUNK_ROWS
    append_batch(writer, 1)
    append_batch(writer, 2)
    writer.close(total=3 * CHUNK_ROWS)
    with ActivationFile(path) as acts, h5py.File(path) as handle:
        np.testing.assert_array_equal(acts.unit("fc6", 0), np.repeat([1, 2, 3], CHUNK_ROWS))
        assert list(handle["image_ids"].asstr()) == [
            f"img{b}_{i}" for b in range(3) for i in range(CHUNK_ROWS)
        ]


@pytest.mark.parametrize("system", ["no posix_fallocate (macOS)", "a file system refusing it"])
def test_a_recording_goes_on_where_space_cannot_be_reserved(tmp_path, monkeypatch, system):
    if system.startswith("no"):
        monkeypatch.delattr(activation_writer.os, "posix_fallocate")
    else:

        def refused(*_args):
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")

        monkeypatch.setattr(activation_writer.os, "posix_fallocate", refused)
    writer = ActivationWriter(tmp_path / "a.h5", HEADER, images=2 * CHUNK_ROWS)
    append_batch(writer, 0)
    append_batch(writer, 1)
    assert writer.close(total=2 * CHUNK_ROWS) == (2 * CHUNK_ROWS, 2 * CHUNK_ROWS)


def test_a_recording_whose_file_cannot_be_made_leaves_none(tmp_path, monkeypatch):
    """Else the next run would find a file of 96 bytes that HDF5 cannot read."""

    def disk_full(_handle):
        raise HDF5_DISK_FULL

    monkeypatch.setattr(h5py.File, "flush", disk_full)
    with pytest.raises(ActivationFileError) as refused:
        ActivationWriter(tmp_path / "a.h5", HEADER)
    assert str(refused.value) == (
        f"The recording could not begin: {tmp_path / 'a.h5'}: No space left on device (free "
        "space on that disk)."
    )
    assert not any(tmp_path.iterdir())


def test_a_recording_its_disk_cannot_hold_is_refused_before_it_begins(tmp_path, monkeypatch):
    monkeypatch.setattr(
        activation_writer.shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10**9, 0, 10**6)
    )
    with pytest.raises(ActivationFileError) as refused:
        ActivationWriter(tmp_path / "a.h5", HEADER, images=50_000)
    assert str(refused.value).startswith(
        f"Not enough space for {tmp_path / 'a.h5'}: its disk has 1.0 MB free, and 50000 more "
        "images of 8 units need up to "
    )
    assert "Free space there, or write the file to a larger disk." in str(refused.value)
    assert not any(tmp_path.iterdir())


def test_a_recording_stops_before_a_write_its_disk_cannot_take(tmp_path, monkeypatch):
    """The space a write takes is checked before it: the file is left as it was."""
    writer = ActivationWriter(tmp_path / "a.h5", HEADER, images=3 * CHUNK_ROWS)
    append_batch(writer, 0)
    monkeypatch.setattr(
        activation_writer.shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10**9, 0, 1000)
    )
    with pytest.raises(ActivationFileError, match="No space left on device .* keeps the 1024"):
        append_batch(writer, 1)
    with h5py.File(tmp_path / "a.h5") as handle:
        assert handle.attrs["rows"] == handle["labels"].shape[0] == CHUNK_ROWS


@pytest.mark.django_db
@pytest.mark.parametrize("keep", [96, 0.5], ids=["killed-as-it-began", "half-copied"])
def test_a_file_cut_short_is_refused_by_every_command_saying_to_delete_it(tmp_path, keep):
    """A kill in a recording's first seconds leaves 96 bytes; a copy cut short, half a file."""
    labels, values = random_units(n_images=3000, n_units=200)
    path = write_activation_file(tmp_path / "a.h5", {"fc6": values}, labels)
    data = path.read_bytes()
    path.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])
    damaged = f"{path} cannot be read .*: the file is damaged.* Delete it and run"
    with pytest.raises(ActivationFileError, match=damaged):
        ActivationFile(path).unit_block("fc6", 0, 200)
    with pytest.raises(ActivationFileError, match=damaged):
        ActivationWriter(path, HEADER)
    with pytest.raises(CommandError, match=damaged):
        call_command("compute_selectivity", "--activations", str(path), "--network", "demo")
    out = str(tmp_path / "u.png")
    with pytest.raises(CommandError, match=damaged):
        call_command("plot_unit", "--activations", str(path), "--layer", "fc6", "--unit", "0",
                     "--out", out)  # fmt: skip


def test_a_folder_given_as_the_activation_file_is_named_as_one(tmp_path):
    with pytest.raises(ActivationFileError, match=f"{tmp_path} is a directory"):
        ActivationFile(tmp_path)


def test_text_attributes_stored_as_bytes_are_read_as_text_and_resume(tmp_path):
    """MATLAB, and HDF5's fixed-length strings, give bytes: b'demo' is the network 'demo'."""
    path = tmp_path / "a.h5"
    writer = ActivationWriter(path, HEADER)
    append_batch(writer, 0)
    writer.close()
    with h5py.File(path, "r+") as handle:
        for name in ["network", "reduction", "source", "weights_sha256", "class_names"]:
            handle.attrs[name] = np.bytes_(handle.attrs[name].encode())
        handle.attrs["pre_relu"] = np.bytes_(b"False")
        handle.attrs["complete"] = "True"  # to read it below; "False" resumes as well
    with ActivationFile(path) as acts:
        assert (acts.network, acts.reduction, acts.weights_sha256) == ("demo", "max", "")
        assert acts.class_names == list("abcdefghij")
    writer = ActivationWriter(path, HEADER)  # the same header: it resumes
    assert writer.images_seen == CHUNK_ROWS
    writer.close()


@pytest.mark.parametrize(
    "value, message",
    [
        ("False", "unfinished recording"),
        (np.bytes_(b"false"), "unfinished recording"),
        ("maybe", "the complete attribute must be true or false, not 'maybe'"),
    ],
)
def test_complete_stored_as_text_is_read_as_such(tmp_path, value, message):
    """The text "False" is no finished recording (bool("False") would say it is)."""
    labels, values = random_units()
    path = write_activation_file(tmp_path / "a.h5", {"fc6": values}, labels)
    with h5py.File(path, "r+") as handle:
        handle.attrs["complete"] = value
    with pytest.raises(ActivationFileError, match=message):
        ActivationFile(path)


def test_class_names_that_are_not_json_are_a_clear_error(tmp_path):
    labels, values = random_units()
    path = write_activation_file(tmp_path / "a.h5", {"fc6": values}, labels)
    with h5py.File(path, "r+") as handle:
        handle.attrs["class_names"] = "tench, goldfish"
    with ActivationFile(path) as acts, pytest.raises(ActivationFileError) as refused:
        _ = acts.class_names
    assert str(refused.value) == (
        f"{path}: the class_names attribute must be a JSON list of names, e.g. "
        '["tench", "goldfish"], not \'tench, goldfish\'; correct it or delete it.'
    )


@pytest.mark.django_db
def test_record_activations_refuses_at_once_an_out_below_a_file(tmp_path, monkeypatch):
    """Before loading the network and images, not with a traceback when the file is made."""
    (tmp_path / "afile").write_text("")
    out = tmp_path / "afile" / "sub" / "acts.h5"
    monkeypatch.setattr("analysis.management.commands.record_activations.load_network", pytest.fail)
    with pytest.raises(CommandError, match=f"{tmp_path / 'afile'} is a file, not a folder"):
        call_command("record_activations", "--network", "demo", "--dataset", "demo",
                     "--out", str(out))  # fmt: skip


@pytest.mark.django_db
def test_record_activations_on_a_full_disk_says_so_without_a_traceback(
    tmp_path, demo_weights, monkeypatch
):
    monkeypatch.setattr(
        activation_writer.shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10**9, 0, 1000)
    )
    with pytest.raises(CommandError, match="Not enough space for .*demo.h5: its disk has"):
        call_command(
            "record_activations",
            "--network",
            "demo",
            "--dataset",
            "demo",
            "--out",
            str(tmp_path / "demo.h5"),
            "--weights",
            str(demo_weights),
        )
