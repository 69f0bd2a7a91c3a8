"""Importing a folder of panel images: all files are checked first, then stored all at once.

Main panels: the unit index is the run of digits at the end of the file name's stem, after the
start, a separator (`_`, `-`, `.`) or the word `unit`: `fc6_0042.png`, `unit0042.jpg`, `42.png`,
`conv5-unit_7.png` give units 42, 42, 42 and 7. A stem like `fc6.png` has no unit and is refused.
When no layer is given, the part before the unit names it (`fc6_0042.png` -> layer fc6).

Practice panels (`--practice`): the file name starts with the intended answer, `yes` or `no`,
then a separator; for `yes` the rest (without a trailing `_<number>`) is the intended label:
`yes_dog.png` -> yes, "dog"; `yes-digit-3_2.png` and `yes-digit-3.png` -> yes, "digit 3";
`no_noise_1.png` -> no.
An explicit answer (`--answer yes|no`) overrides the file name.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from experiment.models import Experiment, Panel
from experiment.panel_images import PanelImageError, panel_image_open
from experiment.services import panel_register, panels_stored_together

# The unit's digits end the stem and follow its start, a separator or the word "unit".
UNIT_PATTERN = re.compile(r"^(?P<prefix>.*?)(?:^|[_.\-]|unit[_\-]?)(?P<unit>\d+)$", re.IGNORECASE)
UNIT_MAX = 2**31 - 1  # Panel.unit's column (PostgreSQL's integer)
PRACTICE_PATTERN = re.compile(r"^(?P<answer>yes|no)(?:[_\-. ](?P<rest>.*))?$", re.IGNORECASE)


class PanelImportError(ValueError):
    """Files that cannot be imported; the message names every one of them."""


@dataclass(frozen=True)
class PanelFile:
    """A checked file and what it will be stored as."""

    path: Path
    source: str
    network: str = ""
    layer: str = ""
    unit: int | None = None
    is_practice: bool = False
    intended_answer: str = ""
    intended_label: str = ""


@dataclass(frozen=True)
class ImportResult:
    imported: list[Panel]
    skipped: list[str]


def unit_from_name(stem: str) -> tuple[str, int]:
    """(layer prefix, unit index) from a file stem such as fc6_0042; ValueError if none."""
    match = UNIT_PATTERN.match(stem)
    if match is None:
        raise ValueError("no unit index at the end of the file name (e.g. fc6_0042.png)")
    unit = int(match.group("unit"))
    if unit > UNIT_MAX:
        raise ValueError(f"unit index {unit} is above the largest the database holds, {UNIT_MAX}")
    return match.group("prefix").strip("_-."), unit


def practice_from_name(stem: str, answer: str = "") -> tuple[str, str]:
    """(intended answer, intended label) of a practice file such as yes_dog or no_noise_2."""
    match = PRACTICE_PATTERN.match(stem)
    if match is None and not answer:
        raise ValueError(
            "a practice file name must start with yes or no and a separator (_, - or .), e.g. "
            "yes_dog.png or no-noise.png (or pass --answer)"
        )
    rest = (match.group("rest") or "") if match else ""  # no label guessed from other names
    answer = answer or match.group("answer").lower()
    label = re.sub(r"_\d+$", "", rest) if rest else ""
    return answer, re.sub(r"[_\-.]+", " ", label).strip() if answer == "yes" else ""


def layer_renamed_message(panels: list[Panel]) -> str:
    """A warning naming the main panels whose file name carries another layer than the one
    they were stored as (--layer overrides the name: fc6_0003.png as fc7 is likely a slip, as
    alexnet_fc6_0003.png as fc6 is not); '' when none. A name's prefix counts as a layer when
    it holds a digit, as layer names do (conv5, fc6, inception4e), and img_0003 does not."""
    renamed = []
    for panel in panels:
        name = Path(panel.source).name
        prefix = "" if panel.is_practice else unit_from_name(Path(name).stem)[0].lower()
        if any(c.isdigit() for c in prefix) and not prefix.endswith(panel.layer.lower()):
            renamed.append(f"{name} as {panel.layer}")
    if not renamed:
        return ""
    shown = ", ".join(renamed[:5]) + (", ..." if len(renamed) > 5 else "")
    return (
        f"{len(renamed)} files are named for another layer than --layer stored them as "
        f"({shown}). If that is a slip, delete those panels in the admin before anyone enters "
        "and import them again without --layer."
    )


def panel_file_describe(
    path: Path, *, network: str, layer: str, practice: bool, answer: str
) -> PanelFile:
    """What a file will be stored as; ValueError saying why its name cannot be used."""
    try:
        path.name.encode()
    except UnicodeEncodeError:  # bytes Python kept as they were (surrogateescape)
        raise ValueError(
            "the file name is not UTF-8 text (from a zip made on another system, say): rename "
            "the file"
        ) from None
    if practice:
        intended_answer, label = practice_from_name(path.stem, answer)
        field_fits(label, "intended_label", "the intended label taken from the file name")
        source = f"import/practice/{path.name}"
        return PanelFile(path, source, network, layer, None, True, intended_answer, label)
    prefix, unit = unit_from_name(path.stem)
    layer = layer or prefix
    if not layer:
        raise ValueError("no layer: pass --layer or name the file like fc6_0042.png")
    field_fits(layer, "layer", "the layer taken from the file name")
    return PanelFile(path, f"import/{network}/{layer}/{path.name}", network, layer, unit)


def field_fits(text: str, field: str, what: str) -> None:
    """ValueError when `text` is longer than Panel's `field` holds (`what`: the text, in words)."""
    limit = Panel._meta.get_field(field).max_length
    if len(text) > limit:
        raise ValueError(f"{what} has {len(text)} characters; at most {limit} are kept")


def generated_folder_advice(directory: Path) -> str:
    """What to run instead when `directory` is generate_panels' output (a layer folder, or one
    unit's), whose panels register_panels registers with their settings; '' otherwise. The
    file names are generator/am/outputs.py's, looked for without importing the generator."""
    if generated_layer_folder(directory):
        return (
            f"{directory} was written by generate_panels: register its panels with "
            f"`manage.py register_panels {directory} --experiment SLUG`, which keeps their "
            "settings and activations."
        )
    if (directory / "panel.png").is_file() and (directory / "activations.json").is_file():
        return (
            f"{directory} is one unit's folder of generate_panels: register the layer folder "
            f"above it with `manage.py register_panels {directory.parent} --experiment SLUG`."
        )
    layers = [d.name for d in sorted(directory.iterdir()) if generated_layer_folder(d)]
    if layers:
        return (
            f"{directory} holds layer folders of generate_panels ({', '.join(layers)}): register "
            f"each with `manage.py register_panels {directory / layers[0]} --experiment SLUG`, "
            "which keeps their settings and activations."
        )
    return ""


def generated_layer_folder(directory: Path) -> bool:
    """Whether `directory` is a layer folder of generate_panels (its plan, or a unit's panel)."""
    return (directory / "planned_units.json").is_file() or any(directory.glob("unit_*/panel.png"))


def panel_files_check(
    directory: Path, *, network: str = "", layer: str = "", practice: bool = False, answer: str = ""
) -> list[PanelFile]:
    """Check every file of `directory`; PanelImportError naming all files that cannot be used."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PanelImportError(f"{directory} is not a folder.")
    generated = generated_folder_advice(directory)
    if generated:
        raise PanelImportError(generated)
    if not practice and not network:
        raise PanelImportError("Main panels need a network name (--network, e.g. alexnet).")
    if answer not in {"", "yes", "no"}:
        raise PanelImportError(f"The intended answer must be yes or no, not {answer!r}.")
    try:
        field_fits(network, "network", "The network name (--network)")
        field_fits(layer, "layer", "The layer name (--layer)")
    except ValueError as error:
        raise PanelImportError(f"{error}.") from None
    paths = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    if not paths:
        folders = sorted(p.name for p in directory.iterdir() if p.is_dir())
        inside = f" (only folders: {', '.join(folders)}; import each on its own)" if folders else ""
        raise PanelImportError(f"{directory} holds no files to import{inside}.")
    checked, problems = [], []
    for path in tqdm(paths, desc="checking panels", unit="file", leave=False):
        try:
            checked.append(
                panel_file_describe(
                    path, network=network, layer=layer, practice=practice, answer=answer
                )
            )
            panel_image_open(path)
        except (ValueError, PanelImageError) as error:
            name = path.name.encode(errors="backslashreplace").decode()  # printable, as it is
            problems.append(f"{name}: {error}")
    if problems:
        raise PanelImportError(
            f"{len(problems)} of {len(paths)} files cannot be imported; nothing was stored:\n"
            + "\n".join(problems)
        )
    return checked


def panels_import_dir(
    *,
    experiment: Experiment,
    directory: Path,
    network: str = "",
    layer: str = "",
    practice: bool = False,
    answer: str = "",
) -> ImportResult:
    """Import every image of `directory` as panels, or none of them (PanelImportError).

    Files whose source is already imported are skipped. Stored in one transaction; the image
    files of a failed import are deleted again.
    """
    checked = panel_files_check(
        directory, network=network, layer=layer, practice=practice, answer=answer
    )
    problems = unit_conflicts(experiment=experiment, checked=checked)
    if problems:
        raise PanelImportError(
            f"{len(problems)} files would give a unit a second panel or a second spelling; "
            "nothing was stored:\n" + "\n".join(problems)
        )
    skipped: list[str] = []
    with panels_stored_together() as imported:
        for panel_file in tqdm(checked, desc="importing panels", unit="panel"):
            # The panel joins `imported` before its files are written: Ctrl-C leaves none.
            if panel_file_store(experiment=experiment, panel_file=panel_file, stored_in=imported):
                continue
            skipped.append(panel_file.path.name)
    return ImportResult(imported=imported, skipped=skipped)


def unit_conflicts(*, experiment: Experiment, checked: list[PanelFile]) -> list[str]:
    """Why files would break "one main panel per unit" (the analysis pools a unit's ratings),
    or split a layer by spelling ("FC6" beside "fc6" would be a stratum of its own)."""
    main = [f for f in checked if not f.is_practice]
    stored = Panel.objects.filter(experiment=experiment, is_practice=False)
    owners = {(p.network, p.layer, p.unit): p.source for p in stored}
    in_folder = {}  # the unit's first file of this folder (file name)
    # A network is spelled one way in the experiment, and each of its layers one way.
    networks = {p.network.lower(): p.network for p in stored}
    layers = {(p.network.lower(), p.layer.lower()): p.layer for p in stored}
    problems = []
    for panel_file in main:
        key = (panel_file.network, panel_file.layer, panel_file.unit)
        owner = owners.get(key)
        first = in_folder.setdefault(key, panel_file.path.name)
        known = (
            networks.setdefault(key[0].lower(), key[0]),
            layers.setdefault((key[0].lower(), key[1].lower()), key[1]),
        )
        if owner is not None and owner != panel_file.source:
            problems.append(
                f"{panel_file.path.name}: unit {key[2]} of {key[0]} {key[1]} "
                f"already has a panel ({owner})"
            )
        elif first != panel_file.path.name:
            problems.append(
                f"{panel_file.path.name}: unit {key[2]} of {key[0]} {key[1]} is also "
                f"{first} in this folder (one panel per unit)"
            )
        elif known != key[:2]:
            problems.append(
                f"{panel_file.path.name}: {key[0]} {key[1]} is spelled "
                f"{known[0]} {known[1]} in this experiment"
            )
    return problems


def panel_file_store(
    *, experiment: Experiment, panel_file: PanelFile, stored_in: list[Panel] | None = None
) -> Panel | None:
    """Register one checked file (None when its source is already imported); `stored_in` as
    panel_register's."""
    return panel_register(
        experiment=experiment,
        image_path=panel_file.path,
        source=panel_file.source,
        network=panel_file.network,
        layer=panel_file.layer,
        unit=panel_file.unit,
        is_practice=panel_file.is_practice,
        intended_answer=panel_file.intended_answer,
        intended_label=panel_file.intended_label,
        stored_in=stored_in,
    )
