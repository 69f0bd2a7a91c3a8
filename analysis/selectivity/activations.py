"""The HDF5 activation file: its schema, reading blocks of units, writing and resuming.

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
to max(label) + 1. Where /predictions is present, images it calls misclassified are left out
when reading: the measures are defined over correctly classified images (paper section 2).
"""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

SCHEMA = "am-rating-activations"
SCHEMA_VERSION = 1
CHUNK_ROWS = 1024
CHUNK_UNITS = 128
REDUCTIONS = ("max", "mean")


class ActivationFileError(ValueError):
    """An activation file that is missing, not HDF5, or does not follow the schema."""


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
        self._file = _open_hdf5(self.path)
        if "labels" not in self._file or "layers" not in self._file:
            self.close()
            raise ActivationFileError(
                f"{self.path} is HDF5 but not an activation file: it needs /labels and /layers "
                "(see the schema in docs/measures.md)."
            )
        if not bool(self._file.attrs.get("complete", True)):  # files made elsewhere: complete
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
        return str(self._file.attrs.get("network", ""))

    @property
    def weights_sha256(self) -> str:
        """SHA-256 of the weights the network was recorded with ("" in older files)."""
        return str(self._file.attrs.get("weights_sha256", ""))

    @property
    def reduction(self) -> str:
        return str(self._file.attrs.get("reduction", ""))

    @property
    def class_names(self) -> list[str]:
        return json.loads(self._file.attrs.get("class_names", "[]"))

    def layer_names(self) -> list[str]:
        return list(self._file["layers"])

    def n_units(self, layer: str) -> int:
        return int(self._dataset(layer).shape[1])

    def unit_block(self, layer: str, start: int, stop: int) -> np.ndarray:
        """(N, stop - start) float32 activations of units start..stop-1, NaN-checked."""
        block = self._dataset(layer)[:, start:stop].astype(np.float32, copy=False)
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


def _open_hdf5(path: Path, mode: str = "r") -> h5py.File:
    if not path.is_file():
        raise ActivationFileError(f"Activation file {path} does not exist.")
    if not h5py.is_hdf5(path):
        raise ActivationFileError(f"{path} is not an HDF5 file.")
    return h5py.File(path, mode)


class ActivationWriter:
    """Appends kept images to a new or partly written activation file, resumably.

    Rows are buffered and written a chunk at a time; `images_seen` is saved with each write,
    so a rerun after an interruption continues after the last image written.
    """

    def __init__(self, path: Path | str, header: RecordingHeader):
        self.path = Path(path)
        self.header = header
        self._file = self._open(header)
        self._buffer: list[tuple[np.ndarray, np.ndarray, list[str], dict[str, np.ndarray]]] = []
        self._pending_seen = self.images_seen

    @property
    def images_seen(self) -> int:
        """Images of the source already processed (kept or not)."""
        return int(self._file.attrs["images_seen"])

    @property
    def rows(self) -> int:
        return int(self._file["labels"].shape[0])

    def append(self, labels, predictions, image_ids: Sequence[str], layers, images_seen: int):
        """Buffer a batch of kept images: labels (B,), predictions (B,), layers alias -> (B, u)."""
        self._buffer.append((labels, predictions, list(image_ids), layers))
        self._pending_seen = images_seen
        if sum(len(item[0]) for item in self._buffer) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows, then record how far through the source the file is."""
        if self._buffer:
            labels, predictions, ids, layers = _concatenate(self._buffer)
            _append_rows(self._file["labels"], labels)
            _append_rows(self._file["predictions"], predictions)
            _append_rows(self._file["image_ids"], np.array(ids, dtype=object))
            for alias, values in layers.items():
                _append_rows(self._file["layers"][alias], values)
            self._buffer = []
        self._file.attrs.update(images_seen=self._pending_seen, rows=self.rows)
        self._file.flush()

    def close(self, *, total: int | None = None) -> tuple[int, int]:
        """Write what is buffered, mark the file complete once `total` images are seen, close.

        Returns (images seen, rows kept)."""
        self.flush()
        seen, rows = self.images_seen, self.rows
        self._file.attrs["complete"] = total is not None and seen >= total
        self._file.close()
        return seen, rows

    def _open(self, header: RecordingHeader) -> h5py.File:
        if self.path.exists():
            handle = _open_hdf5(self.path, "r+")
            _check_resumable(handle, header, self.path)
            _truncate(handle, int(handle.attrs.get("rows", 0)))
            return handle
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return _create(self.path, header)


def _create(path: Path, header: RecordingHeader) -> h5py.File:
    handle = h5py.File(path, "w")
    attrs = handle.attrs
    attrs.update(schema=SCHEMA, schema_version=SCHEMA_VERSION, network=header.network)
    attrs.update(reduction=header.reduction, num_classes=header.num_classes)
    attrs.update(pre_relu=header.pre_relu, weights_sha256=header.weights_sha256)
    attrs.update(class_names=json.dumps(list(header.class_names)), source=header.source)
    attrs.update(images_seen=0, rows=0, complete=False)
    handle.create_dataset("labels", (0,), "int32", maxshape=(None,), chunks=(CHUNK_ROWS,))
    handle.create_dataset("predictions", (0,), "int32", maxshape=(None,), chunks=(CHUNK_ROWS,))
    text = h5py.string_dtype("utf-8")
    handle.create_dataset("image_ids", (0,), text, maxshape=(None,), chunks=(CHUNK_ROWS,))
    group = handle.create_group("layers")
    for alias, (kind, units) in header.layers.items():
        chunks = (CHUNK_ROWS, min(units, CHUNK_UNITS))
        dataset = group.create_dataset(
            alias, (0, units), "float32", maxshape=(None, units), chunks=chunks
        )
        dataset.attrs.update(kind=kind, reduction=header.reduction if kind == "conv" else "none")
    return handle


def _check_resumable(handle: h5py.File, header: RecordingHeader, path: Path) -> None:
    """Refuse to append to a file recorded with another network, weights, layers or reduction
    (a file recorded before weights were recorded resumes only with an empty digest)."""
    found = {
        "network": str(handle.attrs.get("network")),
        "reduction": str(handle.attrs.get("reduction")),
        "source": str(handle.attrs.get("source")),
        "layers": sorted(handle["layers"]) if "layers" in handle else None,
        "pre_relu": bool(handle.attrs.get("pre_relu", False)),
        "weights_sha256": str(handle.attrs.get("weights_sha256", "")),
    }
    wanted = {
        "network": header.network,
        "reduction": header.reduction,
        "source": header.source,
        "layers": sorted(header.layers),
        "pre_relu": header.pre_relu,
        "weights_sha256": header.weights_sha256,
    }
    for key, value in wanted.items():
        if found[key] != value:
            raise ActivationFileError(
                f"{path} exists with {key} {found[key]!r}, not {value!r}: cannot resume it. "
                "Choose another --out file or delete this one."
            )


def _truncate(handle: h5py.File, rows: int) -> None:
    """Cut every dataset to `rows`, dropping a half-written batch after an interruption."""
    datasets = [handle["labels"], handle["predictions"], handle["image_ids"]]
    datasets += list(handle["layers"].values())
    for dataset in datasets:
        if dataset.shape[0] != rows:
            dataset.resize(rows, axis=0)


def _append_rows(dataset: h5py.Dataset, values: np.ndarray) -> None:
    start = dataset.shape[0]
    dataset.resize(start + len(values), axis=0)
    dataset[start:] = values


def _concatenate(buffer):
    labels = np.concatenate([item[0] for item in buffer])
    predictions = np.concatenate([item[1] for item in buffer])
    ids = [image_id for item in buffer for image_id in item[2]]
    layers = {alias: np.concatenate([item[3][alias] for item in buffer]) for alias in buffer[0][3]}
    return labels, predictions, ids, layers
