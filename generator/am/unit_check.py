"""Whether finished units count as done: whole files, the right unit's images, the same settings.

A run resuming (`done_units_check`) and registration (`unit_problem`) check each finished unit
folder before counting it, so a damaged copy or one made otherwise is named, not skipped as done.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from generator.am.layer_folder import OutputMismatchError, SettingsRules, listed, misnamed_refuse
from generator.am.outputs import done_units, unit_dirname, unit_read

# How the files a writer makes end: a truncated copy lacks its end. Reading a file's last bytes
# costs no decode, so resuming thousands of units stays fast.
FILE_ENDS = {
    "PNG": b"\x00\x00\x00\x00IEND\xaeB`\x82",  # the IEND chunk: no data, then its CRC
    "JPEG": b"\xff\xd9",  # the end-of-image marker
}

# Threads checking finished units on resume: each opens its unit's 100 pictures to read their
# last bytes, which waits for the disk where it is not cached (on a network disk, a round trip
# a file). With the files cached: 3.6-4.4 ms a unit on the 2-core sandbox (0.5-0.9 ms without
# reading the ends), 12-15 s for the paper's 3,299 units (bench/resume_check.py).
_CHECKERS = ThreadPoolExecutor(16, thread_name_prefix="unit-check")


def unit_problem(
    root: Path, unit: int, settings: dict, rules: SettingsRules | None = None
) -> str | None:
    """What keeps a finished unit's folder from counting as a unit made with `settings`, or
    None: a file missing or not the JSON it should be, the images of another unit (a folder
    copied under the wrong name), or other settings (one copied in from another run).

    Reads the JSON files, and the last bytes of each picture: a file cut short (a copy that
    stopped half way) lacks the end every PNG or JPEG file has. Decodes no picture.
    """
    try:
        stored = unit_read(root, unit)
    except ValueError as error:
        return str(error)
    for name, kind in (("panel.png", "PNG"), ("panel_web.jpg", "JPEG")):
        if problem := _file_end_problem(os.path.join(stored["folder"], name), kind):
            return f"{name}: {problem}"
    expected = stored["settings"].get("images_per_unit")
    if len(stored["images"]) != expected:
        return f"activations.json: {len(stored['images'])} image records, not {expected}"
    if problem := _pictures_problem(stored["folder"] / "images", expected):
        return problem
    if stored["recorded_unit"] != unit:
        return f"activations.json holds the images of unit {stored['recorded_unit']}"
    differing = (rules or SettingsRules()).differences(settings, stored["settings"])
    if differing:
        return f"made with other settings (differing: {', '.join(differing)})"
    return None


def _pictures_problem(images: Path, count: int) -> str | None:
    """The first of a unit's `count` pictures in `images` that is missing, empty or cut short,
    and what is wrong with it; None when nothing is seen wrong."""
    try:  # one listing, not a look-up per picture: resuming reads thousands of units
        present = set(os.listdir(images))
    except OSError:
        return "images/: missing"
    names = [f"{index:03d}.png" for index in range(count)]
    missing = [name for name in names if name not in present]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        return f"images/{missing[0]}: missing{more}"
    folder = str(images)  # (string paths: a Path per picture took as long as reading it)
    for name in names:
        if problem := _file_end_problem(os.path.join(folder, name), "PNG"):
            return f"images/{name}: {problem}"
    return None


def _file_end_problem(path: str, kind: str) -> str | None:
    """What is wrong with a `kind` ("PNG", "JPEG") file that does not end as such files end:
    missing, empty or cut short; None when nothing is seen wrong."""
    end = FILE_ENDS[kind]
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return "missing"
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    try:
        size = os.fstat(descriptor).st_size
        if size == 0:
            return "empty"
        if os.pread(descriptor, len(end), max(size - len(end), 0)) != end:
            return f"cut short or damaged (it does not end as a {kind} file does)"
    except OSError as error:  # a folder by that name, an I/O error
        return f"cannot be read ({error.strerror})"
    finally:
        os.close(descriptor)
    return None


def done_units_check(
    root: Path, units: list[int], settings: dict, rules: SettingsRules | None = None
) -> None:
    """OutputMismatchError naming every finished unit of `units` in root that is damaged or was
    made otherwise than `settings` (see unit_problem): a run would skip it as done; and the
    folders in root named like units otherwise than the writer names them (misnamed_refuse)."""
    misnamed_refuse(root)
    done = done_units(root, units)
    found = _CHECKERS.map(lambda unit: unit_problem(root, unit, settings, rules), done)
    problems = [
        f"{unit_dirname(unit)}: {problem}"
        for unit, problem in zip(done, found, strict=True)
        if problem
    ]
    if problems:
        raise OutputMismatchError(
            f"{len(problems)} unit folder(s) in {root} are damaged or were not made by this "
            "run's settings, so they cannot count as done:\n"
            + listed(problems)
            + f"\nMove them out of {root} (or copy them again from where they were made), "
            "then run again: the units moved out are made again."
        )
