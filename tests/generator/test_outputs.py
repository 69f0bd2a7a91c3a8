"""Output folders of generate_panels: atomic units, resume, sharding and quality reports."""

import errno
import json
import os
import shutil
import socket
import time

import pytest
import torch
from PIL import Image

from generator.am import distributed, layer_folder, outputs, unit_check
from generator.am.chains import chain_seed


def make_result(unit=3, count=4, predicted=None):
    return outputs.UnitResult(
        unit=unit,
        images=torch.rand(count, 3, 6, 6),
        seeds=[chain_seed(0, unit, index) for index in range(count)],
        start_activations=[0.0] * count,
        activations=[float(index) for index in range(count)],
        predicted_classes=predicted,
    )


def write(root, result, rows=2, cols=2, settings=None):
    report = outputs.quality_report(result, reference_max=1.5, output_layer=False)
    return outputs.unit_write(
        root,
        result,
        settings=settings or {"iterations": 5},
        quality=report.as_dict(),
        rows=rows,
        cols=cols,
    )


def test_unit_write_stores_panels_images_activations_seeds_and_settings(tmp_path):
    folder = write(tmp_path, make_result())
    assert folder == tmp_path / "unit_00003"
    assert Image.open(folder / "panel.png").size == (2 * 6 + 2, 2 * 6 + 2)
    assert Image.open(folder / "panel_web.jpg").format == "JPEG"
    assert sorted(path.name for path in (folder / "images").iterdir()) == [
        "000.png",
        "001.png",
        "002.png",
        "003.png",
    ]
    stored = outputs.unit_read(tmp_path, 3)
    assert [image["seed"] for image in stored["images"]] == [chain_seed(0, 3, k) for k in range(4)]
    assert [image["activation"] for image in stored["images"]] == [0.0, 1.0, 2.0, 3.0]
    assert stored["settings"] == {"iterations": 5}
    assert stored["quality"]["share_above_reference"] == 0.5


def test_interrupted_write_leaves_no_unit_folder_and_the_next_run_cleans_up(tmp_path):
    bad = make_result()
    bad = outputs.UnitResult(**{**bad.__dict__, "images": torch.rand(3, 3, 6, 6)})
    with pytest.raises(ValueError):
        write(tmp_path, bad)  # three images cannot fill the 2x2 grid: fails half-way
    assert not outputs.is_done(tmp_path, 3)
    assert outputs.pending_units(tmp_path, [3]) == [3]
    (partial,) = layer_folder.clean_partials(tmp_path, [3])
    assert partial.name.startswith(".partial-unit_00003.")
    assert list(tmp_path.iterdir()) == []


def test_every_file_and_folder_of_a_unit_is_flushed_before_its_rename(tmp_path, monkeypatch):
    flushed, fsync = [], outputs._fsync

    def recorded(path):
        fsync(path)
        flushed.append((path, outputs.is_done(tmp_path, 3)))

    monkeypatch.setattr(outputs, "_fsync", recorded)
    folder = write(tmp_path, make_result())
    (partial,) = {path for path, done in flushed if path.name.startswith(".partial-unit_00003.")}
    before_rename = {path.relative_to(partial) for path, done in flushed if not done}
    assert before_rename == {
        path.relative_to(folder) for path in [*folder.rglob("*"), folder]
    }  # 4 images, their folder, 2 panels, 3 JSON files, the unit's folder
    assert flushed[-1] == (tmp_path, True)  # then the rename itself


def test_a_failed_flush_leaves_no_unit_folder(tmp_path, monkeypatch):
    def failing(path):
        if path.name == "002.png":
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(outputs, "_fsync", failing)
    with pytest.raises(OSError, match="Input/output error"):
        write(tmp_path, make_result())
    assert not outputs.is_done(tmp_path, 3)
    assert not list(tmp_path.iterdir())  # nor its half-written partial folder


def test_done_units_are_skipped_on_resume(tmp_path):
    write(tmp_path, make_result(unit=1))
    write(tmp_path, make_result(unit=4))
    assert outputs.pending_units(tmp_path, [0, 1, 2, 4]) == [0, 2]
    assert outputs.done_units(tmp_path, [0, 1, 2, 4]) == [1, 4]


@pytest.mark.parametrize("world_size", [1, 2, 3, 8])
def test_shards_cover_every_unit_once(world_size):
    units = list(range(10, 33))
    shards = [distributed.shard_units(units, rank, world_size) for rank in range(world_size)]
    assert sorted(unit for shard in shards for unit in shard) == units


def test_distributed_rank_reads_torchrun_environment():
    assert distributed.distributed_rank({}) == (0, 1, 0)
    rendezvous = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    environ = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", **rendezvous}
    assert distributed.distributed_rank(environ) == (3, 4, 1)
    # A WORLD_SIZE left over in a shell: found before any work, not by the final barrier.
    with pytest.raises(ValueError, match="MASTER_ADDR and MASTER_PORT is not set.*torchrun"):
        distributed.distributed_rank({"RANK": "0", "WORLD_SIZE": "2"})
    with pytest.raises(ValueError, match="rank 4 is not within a world of size 4"):
        distributed.distributed_rank({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(ValueError, match="must be integers"):
        distributed.distributed_rank({"RANK": "a"})


def test_ranks_connect_at_the_start_and_wait_for_each_other_at_the_end(monkeypatch):
    """A world of one, through the same gloo calls: connection with its short timeout first,
    the long wait for the slowest rank last."""
    import torch.distributed as dist

    with socket.socket() as probe:  # a free port for the rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": "0"}
    for name, value in (environ | {"WORLD_SIZE": "1"}).items():
        monkeypatch.setenv(name, value)
    timeouts = []
    barrier = dist.monitored_barrier
    monkeypatch.setattr(
        dist,
        "monitored_barrier",
        lambda timeout: timeouts.append(timeout) or barrier(timeout=timeout),
    )
    try:
        distributed.ranks_connect()
        distributed.wait_for_all_ranks()
    finally:
        dist.destroy_process_group()
    assert timeouts == [distributed.FINISH_TIMEOUT]


def test_settings_claim_refuses_a_folder_made_with_other_settings(tmp_path):
    layer_folder.settings_claim(tmp_path, {"iterations": 200, "images": 100})
    outputs.unit_dir(tmp_path, 0).mkdir()  # a finished unit
    layer_folder.settings_claim(tmp_path, {"iterations": 200, "images": 100})  # same: resumes
    with pytest.raises(layer_folder.OutputMismatchError, match="differing: iterations"):
        layer_folder.settings_claim(tmp_path, {"iterations": 50, "images": 100})
    assert json.loads((tmp_path / "settings.json").read_text())["iterations"] == 200


def test_a_folder_without_finished_units_takes_the_new_settings(tmp_path):
    layer_folder.settings_claim(tmp_path, {"iterations": 9, "weights": "mistyped.pt"})
    layer_folder.settings_claim(tmp_path, {"iterations": 9, "weights": "right.pt"})
    assert json.loads((tmp_path / "settings.json").read_text())["weights"] == "right.pt"
    (tmp_path / f"{outputs.PARTIAL_PREFIX}unit_00000").mkdir()  # another run is writing
    with pytest.raises(
        layer_folder.OutputMismatchError, match=r"or being made.*differing: weights"
    ):
        layer_folder.settings_claim(tmp_path, {"iterations": 9, "weights": "other.pt"})


@pytest.mark.parametrize("text", ['{"theme": "dark"}', "[1, 2]", "not json"])
def test_another_tools_settings_file_is_not_overwritten(tmp_path, text):
    (tmp_path / "settings.json").write_text(text)
    with pytest.raises(layer_folder.OutputMismatchError, match="not written by generate_panels"):
        layer_folder.settings_claim(tmp_path, {"iterations": 9})
    assert (tmp_path / "settings.json").read_text() == text


def test_a_recording_made_before_a_setting_existed_resumes_with_its_default(tmp_path):
    layer_folder.settings_claim(tmp_path, {"iterations": 200})
    outputs.unit_dir(tmp_path, 0).mkdir()
    rules = layer_folder.SettingsRules(defaults={"iterations": 200, "encoder_weights": None})
    layer_folder.settings_claim(tmp_path, {"iterations": 200, "encoder_weights": None}, rules)
    with pytest.raises(layer_folder.OutputMismatchError, match="differing: encoder_weights"):
        layer_folder.settings_claim(tmp_path, {"iterations": 200, "encoder_weights": "e.pt"}, rules)


def test_quality_report_counts_class_hits_only_for_output_layers():
    result = make_result(unit=3, predicted=[3, 3, 1, 3])
    hidden = outputs.quality_report(result, reference_max=None, output_layer=False)
    assert hidden.class_hit_rate is None and hidden.share_above_reference is None
    output = outputs.quality_report(result, reference_max=2.5, output_layer=True)
    assert output.class_hit_rate == 0.75
    assert output.share_above_reference == 0.25
    assert (output.mean_activation, output.max_activation) == (1.5, 3.0)


def test_quality_summary_reports_units_above_natural_maximum_and_class_hits():
    reports = [
        outputs.quality_report(
            make_result(unit=3, predicted=[3] * 4), reference_max=2.5, output_layer=True
        ).as_dict(),
        outputs.quality_report(
            make_result(unit=1, predicted=[0] * 4), reference_max=9.0, output_layer=True
        ).as_dict(),
    ]
    summary = outputs.quality_summary(reports)
    assert "Quality over 2 units" in summary
    assert "1/2 units: best AM image above the natural-image maximum" in summary
    assert "50.0% of AM images classified as the target class" in summary


def test_the_summary_warns_only_of_units_whose_every_chain_ended_where_it_started(tmp_path):
    moved = make_result(unit=3)  # from 0 to 0, 1, 2, 3: one image unmoved, three moved
    unmoved = outputs.UnitResult(**{**make_result(unit=5).__dict__, "activations": [0.0] * 4})
    reports = [
        outputs.quality_report(result, reference_max=None, output_layer=False).as_dict()
        for result in (moved, unmoved)
    ]
    assert [report["share_unmoved"] for report in reports] == [0.25, 1.0]
    assert "no chain moved the target for 1 unit(s) (5)" in outputs.quality_summary(reports)
    assert "Warning" not in outputs.quality_summary(reports[:1])
    # a report written before share_unmoved was recorded is read, and warns of nothing
    folder = write(tmp_path, unmoved)
    quality = json.loads((folder / "quality.json").read_text())
    del quality["share_unmoved"]
    (folder / "quality.json").write_text(json.dumps(quality))
    old = outputs.unit_read(tmp_path, 5)["quality"]
    assert "Warning" not in outputs.quality_summary([old])


def test_a_folder_that_lost_its_settings_file_is_checked_against_its_units(tmp_path):
    layer_folder.settings_claim(tmp_path, {"iterations": 5})
    write(tmp_path, make_result(unit=1))
    (tmp_path / "settings.json").unlink()
    with pytest.raises(layer_folder.OutputMismatchError, match="differing: iterations"):
        layer_folder.settings_claim(tmp_path, {"iterations": 6})


def test_a_folder_made_by_another_generator_version_says_so(tmp_path):
    layer_folder.settings_claim(tmp_path, {"iterations": 5, "version": 1})
    outputs.unit_dir(tmp_path, 0).mkdir()
    with pytest.raises(layer_folder.OutputMismatchError, match="another version of the generator"):
        layer_folder.settings_claim(tmp_path, {"iterations": 5, "version": 2})


def test_json_is_written_readable_and_leaves_no_temporary_file(tmp_path):
    outputs.json_write_atomic(tmp_path / "a.json", {"x": 1})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644


def test_json_that_cannot_be_written_leaves_the_earlier_file_and_no_temporary_one(
    tmp_path, monkeypatch
):
    """Each failure on a full disk (every report-page view on one) left one more file."""
    outputs.json_write_atomic(tmp_path / "a.json", {"x": 1})

    def disk_full(_descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    for _ in range(3):
        with pytest.raises(OSError, match="No space left on device"):
            outputs.json_write_atomic(tmp_path / "a.json", {"x": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}


def test_a_unit_written_by_two_runs_at_once_is_the_first_ones(tmp_path, monkeypatch):
    """Each writer has its own partial folder; the second rename finds the unit done."""
    first = write(tmp_path, make_result())
    before = (first / "panel.png").read_bytes()
    second = outputs.UnitResult(**{**make_result().__dict__, "images": torch.zeros(4, 3, 6, 6)})
    assert write(tmp_path, second) == first
    assert (first / "panel.png").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unit_00003"]


def test_runs_writing_into_one_folder_at_once_must_share_their_settings(tmp_path):
    """A second run into a folder whose first run has not finished a unit yet must not take it
    over with other settings, nor remove the first run's half-written units."""
    live_partial = tmp_path / ".partial-unit_00001.live"
    with layer_folder.folder_claim(tmp_path, {"iterations": 5}, planned=[1]) as alone:
        assert alone
        live_partial.mkdir()
        other = layer_folder.folder_claim(tmp_path, {"iterations": 6}, planned=[2])
        with pytest.raises(layer_folder.OutputMismatchError, match="differing: iterations"), other:
            pass
        with layer_folder.folder_claim(tmp_path, {"iterations": 5}, planned=[2]) as second_alone:
            assert not second_alone and live_partial.is_dir()
        assert layer_folder.planned_units(tmp_path) == [1, 2]
    # Alone again: the partial folder is an interrupted run's, and no unit is finished. Another
    # unit's is removed once an hour old (where locks are not shared, a rank on another machine
    # could be writing it).
    with layer_folder.folder_claim(tmp_path, {"iterations": 5}, units=[2]) as alone:
        assert alone and live_partial.exists()
    hour_ago = time.time() - 3601
    os.utime(live_partial, (hour_ago, hour_ago))
    with layer_folder.folder_claim(tmp_path, {"iterations": 6}, units=[2]) as alone:
        assert alone and not live_partial.exists()
    assert json.loads((tmp_path / "settings.json").read_text()) == {"iterations": 6}


@pytest.mark.parametrize("content", ["[1, 2]", '{"iterations": 5', "7"])
def test_a_damaged_settings_file_is_named(tmp_path, content):
    write(tmp_path, make_result())
    (tmp_path / "settings.json").write_text(content)
    with pytest.raises(ValueError, match="settings.json cannot be read as settings"):
        layer_folder.settings_claim(tmp_path, {"iterations": 5})


@pytest.mark.parametrize("content", ['{"units": 5}', '{"units": [1, "2"]}', "[]", "{"])
def test_a_damaged_planned_units_file_is_named(tmp_path, content):
    (tmp_path / "planned_units.json").write_text(content)
    with pytest.raises(ValueError, match="planned_units.json"):
        layer_folder.planned_units(tmp_path)


SETTINGS = {"iterations": 5, "images_per_unit": 4}


def finished_layer(root, units=(1, 2)):
    """A layer folder as a run leaves it: its settings, its plan and finished units."""
    with layer_folder.folder_claim(root, SETTINGS, units=units, planned=units):
        for unit in units:
            result = make_result(unit)
            report = outputs.quality_report(result, reference_max=1.5, output_layer=False)
            outputs.unit_write(
                root, result, settings=SETTINGS, quality=report.as_dict(), rows=2, cols=2
            )
    return root


def test_a_folder_settings_file_unlike_its_units_is_not_trusted(tmp_path):
    """Edited (or copied in): a run asking for new units only went on with it, and the folder
    then held units made with two settings."""
    finished_layer(tmp_path, units=(1, 2))
    json_edited(tmp_path / "settings.json", iterations=50)
    with pytest.raises(layer_folder.OutputMismatchError) as refused:
        layer_folder.settings_claim(tmp_path, {**SETTINGS, "iterations": 50})
    message = str(refused.value)
    assert "unit_00001/settings.json record other settings (differing: iterations)" in message
    assert "move out the units made otherwise (or put back the folder's own file)" in message
    assert json.loads((tmp_path / "settings.json").read_text())["iterations"] == 50  # untouched
    (tmp_path / "unit_00001" / "settings.json").write_text("")  # cut short: the next unit tells
    with pytest.raises(layer_folder.OutputMismatchError, match="unit_00002/settings.json record"):
        layer_folder.settings_claim(tmp_path, {**SETTINGS, "iterations": 50})


def listing(root):
    return sorted(
        (str(path.relative_to(root)), path.stat().st_mtime_ns) for path in root.rglob("*")
    )


@pytest.mark.parametrize("out", ["unit_00001", "unit_00001/images", "unit_00001/new", "unit_00099"])
def test_a_unit_folder_given_as_the_output_folder_is_refused_before_anything_is_written(
    tmp_path, out
):
    """A unit's folder (or one inside it, or a unit not made yet) is no layer folder: a run
    there would replace the unit's settings and write units inside it."""
    layer = finished_layer(tmp_path / "fc8")
    before = listing(layer)
    claim = layer_folder.folder_claim(layer / out, {"iterations": 9}, units=[2], planned=[2])
    with pytest.raises(layer_folder.OutputMismatchError) as refused, claim:
        pass
    assert f"Give the output folder itself (--out {layer})" in str(refused.value)
    assert "would damage that unit" in str(refused.value)
    assert listing(layer) == before
    with pytest.raises(layer_folder.OutputMismatchError, match="would damage that unit"):
        layer_folder.settings_claim(layer / out, SETTINGS)
    assert listing(layer) == before
    assert unit_check.unit_problem(layer, 1, SETTINGS) is None


def test_a_folder_named_like_a_unit_elsewhere_is_an_output_folder(tmp_path):
    with layer_folder.folder_claim(tmp_path / "unit_tests", SETTINGS, planned=[1]):
        pass
    assert layer_folder.planned_units(tmp_path / "unit_tests") == [1]
    # Only the writer's own names count: a project folder unit_selectivity with images/, or a
    # run folder beside a settings.json of something else, is no unit's folder.
    (tmp_path / "unit_selectivity" / "images").mkdir(parents=True)
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "settings.json").write_text("{}")
    for out in (tmp_path / "unit_selectivity" / "am" / "fc6", tmp_path / "proj" / "unit_run"):
        with layer_folder.folder_claim(out, SETTINGS, planned=[1]):
            pass
        assert layer_folder.planned_units(out) == [1]


@pytest.mark.parametrize("activation", [float("nan"), float("inf")])
def test_a_unit_with_non_finite_activations_is_refused_and_nothing_of_it_kept(tmp_path, activation):
    result = make_result(unit=3)
    result = outputs.UnitResult(**{**result.__dict__, "activations": [1.0, activation, 2.0, 3.0]})
    message = r"unit 3: the network gave NaN or infinite values \(the activations of images 1\)"
    with pytest.raises(ValueError, match=message + ".*check the network's weights"):
        write(tmp_path, result)
    assert list(tmp_path.iterdir()) == []  # no unit folder, no partial folder


def test_a_quality_report_with_nan_is_refused_and_json_never_holds_nan(tmp_path):
    result = make_result(unit=3)
    report = outputs.quality_report(result, reference_max=float("nan"), output_layer=False)
    with pytest.raises(ValueError, match="unit 3: .*its quality report's reference_max"):
        outputs.unit_write(
            tmp_path, result, settings=SETTINGS, quality=report.as_dict(), rows=2, cols=2
        )
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        outputs.json_write_atomic(tmp_path / "a.json", {"x": float("nan")})
    assert list(tmp_path.iterdir()) == []  # not even a temporary file


def json_edited(path, **changes):
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def activation_edited(unit, value):
    records = json.loads((unit / "activations.json").read_text())
    records["images"][2]["activation"] = value
    (unit / "activations.json").write_text(json.dumps(records))  # Python writes NaN, Infinity


def seed_edited(unit, image, seed):
    records = json.loads((unit / "activations.json").read_text())
    records["images"][image]["seed"] = seed
    (unit / "activations.json").write_text(json.dumps(records))


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda unit: seed_edited(unit, 2, 7), "image record 2 (index 2, seed 7) is not image 2"),
        (lambda unit: json_edited(unit / "settings.json", base_seed=1), "from base seed 1 "),
        (lambda unit: json_edited(unit / "settings.json", base_seed="0"), "must be whole numbers"),
    ],
)
def test_a_unit_whose_seeds_are_not_its_own_is_damaged(tmp_path, edit, problem):
    """Regeneration would repeat another picture than the stored one, unnoticed."""
    finished_layer(tmp_path)
    edit(outputs.unit_dir(tmp_path, 1))
    assert problem in unit_check.unit_problem(tmp_path, 1, SETTINGS)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            lambda unit: activation_edited(unit, float("nan")),
            "activations.json: image record 2 is damaged (NaN or infinite activation)",
        ),
        (
            lambda unit: activation_edited(unit, float("-inf")),
            "activations.json: image record 2 is damaged (NaN or infinite activation)",
        ),
        (
            lambda unit: json_edited(unit / "quality.json", max_activation=float("inf")),
            "quality.json: damaged (max_activation not a finite number)",
        ),
    ],
)
def test_a_unit_whose_files_hold_non_finite_numbers_is_damaged(tmp_path, edit, problem):
    finished_layer(tmp_path)
    edit(outputs.unit_dir(tmp_path, 1))
    assert unit_check.unit_problem(tmp_path, 1, SETTINGS) == problem
    with pytest.raises(layer_folder.OutputMismatchError) as refused:
        unit_check.done_units_check(tmp_path, [1, 2], SETTINGS)
    assert f"unit_00001: {problem}" in str(refused.value)


def test_a_run_into_a_folder_without_units_replaces_the_plan_of_one_that_failed(tmp_path):
    """A run asked for units 0-9 that stopped before its first unit (bad weights) does not
    leave them planned once a corrected run is asked for 0-2."""
    with layer_folder.folder_claim(tmp_path, {"iterations": 5}, units=range(10), planned=range(10)):
        pass  # stopped before any unit
    with layer_folder.folder_claim(tmp_path, {"iterations": 6}, units=[0, 1, 2], planned=[0, 1, 2]):
        assert layer_folder.planned_units(tmp_path) == [0, 1, 2]
        write(tmp_path, make_result(unit=0), settings={"iterations": 6})
    with layer_folder.folder_claim(tmp_path, {"iterations": 6}, units=[7], planned=[7]):
        pass  # a unit is finished there: the plan grows
    assert layer_folder.planned_units(tmp_path) == [0, 1, 2, 7]


def test_unit_folders_named_otherwise_than_the_writer_names_them_are_named(tmp_path):
    """A folder renamed by hand is neither dropped without a word nor counted twice."""
    finished_layer(tmp_path, units=(1, 2, 3))
    (tmp_path / "unit_00003").rename(tmp_path / "unit_000003")
    shutil.copytree(tmp_path / "unit_00002", tmp_path / "unit_2")
    shutil.copytree(tmp_path / "unit_00001", tmp_path / "unit_00001 copy")
    (tmp_path / "unit_00001.zip").write_bytes(b"")  # a file, not a folder: no unit
    for check in (
        lambda: layer_folder.finished_units(tmp_path),
        lambda: unit_check.done_units_check(tmp_path, [1, 2, 3], SETTINGS),
    ):
        with pytest.raises(layer_folder.OutputMismatchError) as refused:
            check()
        message = str(refused.value)
        assert "3 folder(s) named like units, but not as generate_panels names them" in message
        assert "unit_000003: unit 3's folder is named unit_00003\n" in message
        assert "unit_2: unit 2's folder is named unit_00002 (which is there too" in message
        assert "unit_00001 copy: not the name of a unit folder" in message
    for name in ("unit_000003", "unit_2", "unit_00001 copy"):
        shutil.rmtree(tmp_path / name)
    assert layer_folder.finished_units(tmp_path) == [1, 2]


def cut_short(path):
    path.write_bytes(path.read_bytes()[:-20])


NOT_PNG = "cut short or damaged (it does not end as a PNG file does)"
QUALITY_FIELDS = (
    "class_hit_rate, max_activation, mean_activation, mean_start_activation, reference_max, "
    "share_above_reference, unit"
)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda unit: cut_short(unit / "images" / "001.png"), f"images/001.png: {NOT_PNG}"),
        (lambda unit: cut_short(unit / "panel.png"), f"panel.png: {NOT_PNG}"),
        (
            lambda unit: cut_short(unit / "panel_web.jpg"),
            "panel_web.jpg: cut short or damaged (it does not end as a JPEG file does)",
        ),
        (lambda unit: (unit / "panel_web.jpg").write_bytes(b""), "panel_web.jpg: empty"),
        (lambda unit: (unit / "images" / "003.png").write_bytes(b""), "images/003.png: empty"),
        (lambda unit: (unit / "panel.png").unlink(), "panel.png: missing"),
        (
            lambda unit: (unit / "quality.json").write_text("{}"),
            f"quality.json: not a whole quality report (no {QUALITY_FIELDS})",
        ),
        (
            lambda unit: (unit / "quality.json").write_text("[]"),
            "quality.json: not a quality report (no JSON object)",
        ),
    ],
)
def test_a_damaged_picture_or_quality_report_is_named_on_resume(tmp_path, damage, problem):
    finished_layer(tmp_path)
    assert unit_check.unit_problem(tmp_path, 1, SETTINGS) is None
    damage(outputs.unit_dir(tmp_path, 1))
    assert unit_check.unit_problem(tmp_path, 1, SETTINGS) == problem
    with pytest.raises(layer_folder.OutputMismatchError) as refused:
        unit_check.done_units_check(tmp_path, [1, 2], SETTINGS)
    assert f"unit_00001: {problem}" in str(refused.value)
    assert "unit_00002" not in str(refused.value)
