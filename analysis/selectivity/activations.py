"""The HDF5 activation file: its schema and reading blocks of units (activation_writer writes
and resumes it).

Schema (version 1; docs/measures.md, "Activation files"):

    /                    attrs: schema="am-rating-activations", schema_version=1, network,
                         reduction ("max" or "mean": how conv maps become one value per channel),
                         num_classes, class_names (JSON list), source, complete, and for
                         resuming images_seen (source images processed) and rows (rows written)
    /labels              (N,) int32   true class index of each kept image
    /predictions         (N,) int32   the network's top-1 class (equal to labels when only
                                      correctly classified images are kept)
    /image_ids           (N,) UTF-8 strings, the image's path relative to the folder, or "demo:i"
    /layers/<alias>      (N, units) float32, chunked (rows, unit block) so a block of units is
                         read without the rest; attrs: kind ("conv" or "fc"), reduction

Only /labels and /layers/<alias> are required of files produced elsewhere; num_classes defaults
to max(label) + 1; text attributes may be bytes (as MATLAB writes them). Where /predictions is
present, images it calls misclassified are left out when reading: the measures are defined over
correctly classified images (paper section 2).
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

SCHEMA = "am-rating-activations"
SCHEMA_VERSION = 1
CHUNK_ROWS = 1024
CHUNK_UNITS = 128
REDUCTIONS = ("max", "mean")
ID_BYTES = 96  # an image id in the file: its reference and its text (n01440764/....JPEG)
METADATA_BYTES = 1 << 20  # HDF5's records of a write (chunk indexes, heaps): at most this


# What HDF5 raises where a file is damaged (a recording cut short, a half copy) or a write fails.
HDF5_ERRORS = (OSError, RuntimeError)


class ActivationFileError(ValueError):
    """An activation file that is missing, not HDF5, damaged, or does not follow the schema;
    or a recording that could not be written."""


@dataclass(frozen=True)
class RecordingHeader:
    """What a recording is of; a resumed recording must match it exactly."""

    network: str
    layers: dict[str, tuple[str, int]]  # alias -> (kind, units)
    reduction: str
    num_classes: int
    class_names: tuple[str, ...]
    source: str
    pre_relu: bool = False
    weights_sha256: str = ""  # of the network's weights file: the panels' settings record it too


class ActivationFile:
    """Read access to an activation file's correctly classified images, a block of units at a time.

    `labels` and every block hold only the images whose /predictions equal their /labels (all
    images when the file has no /predictions); `misclassified` counts the others left out.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._file = hdf5_open(self.path)
        try:
            self._read()
        except HDF5_ERRORS as error:
            self.close()
            raise ActivationFileError(damaged_message(self.path, error)) from None
        except ActivationFileError:
            self.close()
            raise

    def _read(self) -> None:
        if "labels" not in self._file or "layers" not in self._file:
            self.close()
            raise ActivationFileError(
                f"{self.path} is HDF5 but not an activation file: it needs /labels and /layers "
                "(see the schema in docs/measures.md)."
            )
        # Files made elsewhere count as complete.
        if not flag_attribute(self._file, "complete", True, self.path):
            seen = self._file.attrs.get("images_seen", "some")
            self.close()
            raise ActivationFileError(
                f"{self.path} is an unfinished recording (record_activations stopped after "
                f"{seen} images): its scores would cover only part of the images, so the "
                "classes met first. Run record_activations again with the same arguments: it "
                "goes on where it stopped."
            )
        stored = self._read_labels()  # (rows,) every image in the file
        self.rows = int(stored.shape[0])
        self.num_classes = self._read_num_classes(stored)
        self._correct = self._read_correct(stored)  # (rows,) bool, or None: keep every row
        self.labels = stored if self._correct is None else stored[self._correct]  # (N,)
        self.misclassified = self.rows - int(self.labels.shape[0])

    def _read_num_classes(self, labels: np.ndarray) -> int:
        """The num_classes attribute, else one more than the highest label."""
        value = self._file.attrs.get("num_classes", labels.max() + 1)
        try:
            number = int(value)
            whole = number == value and number > 0
        except (TypeError, ValueError):
            whole = False
        if not whole:
            self.close()
            raise ActivationFileError(
                f"{self.path}: the num_classes attribute must be a positive whole number, "
                f"not {value!r}."
            )
        return number

    def _read_labels(self) -> np.ndarray:
        """/labels as int64, refusing what would be silently misread."""
        labels = self._file["labels"]
        problem = None
        if not isinstance(labels, h5py.Dataset) or labels.ndim != 1:
            problem = "must be a one-dimensional dataset of class indices"
        elif labels.dtype.kind not in "iu":
            problem = f"must hold integers, not {labels.dtype}"
        elif labels.shape[0] == 0:
            problem = "is empty: there are no images"
        if problem:
            self.close()
            raise ActivationFileError(f"/labels of {self.path} {problem}.")
        return labels[()].astype(np.int64)

    def _read_correct(self, labels: np.ndarray) -> np.ndarray | None:
        """(rows,) whether each image's /predictions equals its label; None when all do or the
        file has no /predictions (record_activations keeps correct images only)."""
        if "predictions" not in self._file:
            return None
        predictions = self._file["predictions"]
        problem = self._predictions_problem(predictions, labels)
        if problem:
            self.close()
            raise ActivationFileError(
                f"/predictions of {self.path} {problem}; it must hold one integer class per "
                "image (or be absent when the file holds correctly classified images only)."
            )
        correct = predictions[()] == labels
        if not correct.any():
            self.close()
            raise ActivationFileError(
                f"None of the {labels.shape[0]} images of {self.path} is correctly classified "
                "(/predictions never equals /labels); selectivity is measured on correct images."
            )
        return None if correct.all() else correct

    @staticmethod
    def _predictions_problem(predictions, labels: np.ndarray) -> str:
        """What is wrong with /predictions beside these labels, '' when nothing."""
        if not isinstance(predictions, h5py.Dataset):
            return "is not a dataset"
        if predictions.shape != labels.shape:
            return f"has shape {predictions.shape} but there are {labels.shape[0]} labels"
        if predictions.dtype.kind not in "iu":
            return f"holds {predictions.dtype}, not integers"
        return ""

    def __enter__(self) -> "ActivationFile":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    @property
    def network(self) -> str:
        return text_attribute(self._file.attrs.get("network", ""))

    @property
    def weights_sha256(self) -> str:
        """SHA-256 of the weights the network was recorded with ("" in older files)."""
        return text_attribute(self._file.attrs.get("weights_sha256", ""))

    @property
    def reduction(self) -> str:
        return text_attribute(self._file.attrs.get("reduction", ""))

    @property
    def pre_relu(self) -> bool | None:
        """Whether the values were taken before the ReLU; None where the file does not say."""
        if "pre_relu" not in self._file.attrs:
            return None
        return flag_attribute(self._file, "pre_relu", False, self.path)

    def layer_reduction(self, layer: str) -> str:
        """How a conv layer's maps became one value per channel ("max" or "mean"); "" for an fc
        layer, or where the file does not say."""
        reduction = text_attribute(self._dataset(layer).attrs.get("reduction", ""))
        return reduction if reduction in REDUCTIONS else ""

    @property
    def class_names(self) -> list[str]:
        value = text_attribute(self._file.attrs.get("class_names", "[]"))
        try:
            names = json.loads(value)
        except ValueError:
            names = None
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ActivationFileError(
                f"{self.path}: the class_names attribute must be a JSON list of names, e.g. "
                f'["tench", "goldfish"], not {value[:60]!r}; correct it or delete it.'
            )
        return names

    def layer_names(self) -> list[str]:
        return list(self._file["layers"])

    def n_units(self, layer: str) -> int:
        return int(self._dataset(layer).shape[1])

    def unit_block(self, layer: str, start: int, stop: int) -> np.ndarray:
        """(N, stop - start) float32 activations of units start..stop-1, NaN-checked."""
        dataset = self._dataset(layer)
        try:
            block = dataset[:, start:stop].astype(np.float32, copy=False)
        except HDF5_ERRORS as error:
            raise ActivationFileError(damaged_message(self.path, error)) from None
        if self._correct is not None:
            block = block[self._correct]  # (N, b): the misclassified rows left out
        bad = ~np.isfinite(block).all(axis=0)
        if bad.any():
            unit = start + int(np.flatnonzero(bad)[0])
            raise ActivationFileError(
                f"Layer {layer!r} unit {unit} of {self.path} has NaN or infinite activations."
            )
        return block

    def unit_blocks(
        self, layer: str, size: int = CHUNK_UNITS, units: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """(first unit, (N, b) block) for blocks of at most `size` of the first `units` units."""
        count = self.n_units(layer) if units is None else min(units, self.n_units(layer))
        for start in range(0, count, size):
            yield start, self.unit_block(layer, start, min(start + size, count))

    def unit(self, layer: str, unit: int) -> np.ndarray:
        """(N,) activations of one unit."""
        if not 0 <= unit < self.n_units(layer):
            raise ActivationFileError(
                f"Layer {layer!r} has units 0-{self.n_units(layer) - 1}; there is no unit {unit}."
            )
        return self.unit_block(layer, unit, unit + 1)[:, 0]

    def _dataset(self, layer: str) -> h5py.Dataset:
        if layer not in self._file["layers"]:
            known = ", ".join(self.layer_names()) or "none"
            raise ActivationFileError(
                f"Layer {layer!r} is not in {self.path}; layers there: {known}."
            )
        dataset = self._file["layers"][layer]
        if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "iuf":
            raise ActivationFileError(
                f"Layer {layer!r} of {self.path} must be a numeric (images, units) dataset."
            )
        if dataset.ndim != 2 or dataset.shape[0] != self.rows:
            raise ActivationFileError(
                f"Layer {layer!r} of {self.path} has shape {dataset.shape} but there are "
                f"{self.rows} labels; it must be (images, units)."
            )
        return dataset


def hdf5_open(path: Path, mode: str = "r") -> h5py.File:
    if path.is_dir():
        raise ActivationFileError(f"Activation file {path} is a directory: name the file in it.")
    if not path.is_file():
        raise ActivationFileError(f"Activation file {path} does not exist.")
    if path.stat().st_size == 0:
        raise ActivationFileError(damaged_message(path, "it is empty"))
    if not h5py.is_hdf5(path):
        raise ActivationFileError(f"{path} is not an HDF5 file.")
    try:
        return h5py.File(path, mode)
    except OSError as error:  # cut short: a recording killed as it began, a half copy
        raise ActivationFileError(damaged_message(path, error)) from None


def damaged_message(path: Path, error: Exception | str) -> str:
    """Why `path` cannot be read, and what to do: HDF5 files are changed in place, so one cut
    short by a crash, a full disk or a half copy cannot be mended."""
    reason = error if isinstance(error, str) else first_line(error)
    return (
        f"{path} cannot be read ({reason}): the file is damaged, e.g. a recording killed in its "
        "first seconds or stopped by a full disk, or a copy cut short. Delete it and run "
        "record_activations again (it starts over), or copy the file again."
    )


def text_attribute(value) -> str:
    """An attribute as text: bytes (as MATLAB and fixed-length HDF5 strings hold it) decoded."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()  # a one-element array, as MATLAB writes scalars
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def flag_attribute(handle: h5py.File, name: str, default: bool, path: Path) -> bool:
    """A true/false attribute, also when stored as the text "True"/"False" or as 0/1."""
    value = handle.attrs.get(name, default)
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, (bytes, str)):
        value = {"true": True, "false": False, "1": True, "0": False}.get(
            text_attribute(value).strip().lower(), value
        )
    if isinstance(value, (bool, np.bool_, int, np.integer)) and value in (0, 1):
        return bool(value)
    raise ActivationFileError(f"{path}: the {name} attribute must be true or false, not {value!r}.")


def first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
