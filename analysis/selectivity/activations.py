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
to max(label) + 1; text attributes may be bytes (as MATLAB writes them). Where /predictions is
present, images it calls misclassified are left out when reading: the measures are defined over
correctly classified images (paper section 2).
"""

import errno
import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from experiment.files import os_error_message

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
        self._file = _open_hdf5(self.path)
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
        if not _flag(self._file, "complete", True, self.path):  # files made elsewhere: complete
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
        return _text(self._file.attrs.get("network", ""))

    @property
    def weights_sha256(self) -> str:
        """SHA-256 of the weights the network was recorded with ("" in older files)."""
        return _text(self._file.attrs.get("weights_sha256", ""))

    @property
    def reduction(self) -> str:
        return _text(self._file.attrs.get("reduction", ""))

    @property
    def class_names(self) -> list[str]:
        value = _text(self._file.attrs.get("class_names", "[]"))
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


def _open_hdf5(path: Path, mode: str = "r") -> h5py.File:
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
    reason = error if isinstance(error, str) else _first_line(error)
    return (
        f"{path} cannot be read ({reason}): the file is damaged, e.g. a recording killed in its "
        "first seconds or stopped by a full disk, or a copy cut short. Delete it and run "
        "record_activations again (it starts over), or copy the file again."
    )


def _text(value) -> str:
    """An attribute as text: bytes (as MATLAB and fixed-length HDF5 strings hold it) decoded."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()  # a one-element array, as MATLAB writes scalars
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _flag(handle: h5py.File, name: str, default: bool, path: Path) -> bool:
    """A true/false attribute, also when stored as the text "True"/"False" or as 0/1."""
    value = handle.attrs.get(name, default)
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, (bytes, str)):
        value = {"true": True, "false": False, "1": True, "0": False}.get(
            _text(value).strip().lower(), value
        )
    if isinstance(value, (bool, np.bool_, int, np.integer)) and value in (0, 1):
        return bool(value)
    raise ActivationFileError(f"{path}: the {name} attribute must be true or false, not {value!r}.")


class ActivationWriter:
    """Appends kept images to a new or partly written activation file, resumably.

    Rows are buffered and written a chunk at a time. Only once they are on disk are
    `images_seen` and `rows` saved, so a rerun after an interruption continues after the last
    image written and drops any rows written after it.

    HDF5 changes its file in place: a write that fails half-way (a full disk) leaves it
    unreadable, also the rows written before. So a file of free space is held beside it (the
    reserve, `.NAME.reserve`, as large as one write); when a write fails anyway, the reserve is
    deleted to let HDF5 finish, and ActivationFileError says what the file keeps. Given
    `images`, the source's count, a recording its disk cannot hold is refused before it begins.
    """

    def __init__(self, path: Path | str, header: RecordingHeader, *, images: int | None = None):
        self.path = Path(path)
        self.header = header
        self._row_bytes = _row_bytes(header)
        self._reserve = self.path.with_name(f".{self.path.name}.reserve")
        self._file = self._open(header, images)
        # Held open while writing: HDF5 writes a dataset's chunks when the last object of it is
        # dropped, where a failure (a full disk) would be printed and leave HDF5 unable to go on.
        self._datasets = _datasets(self._file, list(header.layers))
        self._buffer: list[tuple[np.ndarray, np.ndarray, list[str], dict[str, np.ndarray]]] = []
        self._pending_seen = self._written_seen = self.images_seen
        self._written_rows = self.rows

    @property
    def images_seen(self) -> int:
        """Images of the source already processed (kept or not)."""
        return int(self._file.attrs["images_seen"])

    @property
    def rows(self) -> int:
        return int(self._datasets[0].shape[0])

    def append(self, labels, predictions, image_ids: Sequence[str], layers, images_seen: int):
        """Buffer a batch of kept images: labels (B,), predictions (B,), layers alias -> (B, u)."""
        self._buffer.append((labels, predictions, list(image_ids), layers))
        self._pending_seen = images_seen
        if sum(len(item[0]) for item in self._buffer) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows; once they are on disk, record how far through the source
        the file is. ActivationFileError, the file closed, where the disk cannot take them."""
        try:
            if self._buffer:
                self._room_make(sum(len(item[0]) for item in self._buffer))
                self._rows_write(*_concatenate(self._buffer))
                self._buffer = []
                self._sync()  # the rows on disk before the attributes count them
            self._file.attrs.update(images_seen=self._pending_seen, rows=self.rows)
            self._sync()
        except HDF5_ERRORS as error:
            raise self._stopped(error) from None
        self._written_seen, self._written_rows = self._pending_seen, self.rows

    def close(self, *, total: int | None = None) -> tuple[int, int]:
        """Write what is buffered, mark the file complete once `total` images are seen, close.

        Returns (images seen, rows kept); after a failed write, what the file keeps."""
        if not self._file:  # closed by a failed write
            return self._written_seen, self._written_rows
        self.flush()
        seen, rows = self._written_seen, self._written_rows
        try:
            self._file.attrs["complete"] = total is not None and seen >= total
            self._file.close()
        except HDF5_ERRORS as error:
            raise self._stopped(error) from None
        self._reserve.unlink(missing_ok=True)
        return seen, rows

    def _rows_write(self, labels, predictions, ids, layers) -> None:
        """Write the rows after those written before (again, after a Ctrl-C half-way)."""
        columns = [labels, predictions, np.array(ids, dtype=object)]
        columns += [layers[alias] for alias in self.header.layers]
        start = self._written_rows
        for dataset, values in zip(self._datasets, columns, strict=True):
            dataset.resize(start + len(values), axis=0)
            dataset[start:] = values

    def _sync(self) -> None:
        """Flush HDF5's buffers, then the system's, to the disk."""
        self._file.flush()
        os.fsync(self._file.id.get_vfd_handle())

    def _flush_bytes(self, rows: int) -> int:
        """Most bytes writing `rows` rows takes: whole chunks, and HDF5's own records."""
        return (rows + CHUNK_ROWS) * self._row_bytes + METADATA_BYTES

    def _room_make(self, rows: int) -> None:
        """Hold as much free space as writing `rows` rows takes, beside as much again for the
        write itself; OSError (ENOSPC) where the disk has not that much: nothing is written."""
        needed = self._flush_bytes(rows)
        with open(self._reserve, "ab") as reserve:
            os.posix_fallocate(reserve.fileno(), 0, needed)
        if shutil.disk_usage(self._reserve.parent).free < needed:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def _space_check(self, images: int | None, seen: int) -> None:
        """ActivationFileError where the disk cannot hold the rows of the source's `images`
        not yet `seen` (as if every image were kept) and the reserve."""
        if images is None or images <= seen:
            return
        data = (images - seen) * self._row_bytes
        needed = int(data * 1.05) + 2 * self._flush_bytes(CHUNK_ROWS)
        folder = next(p for p in self.path.absolute().parents if p.exists())
        free = shutil.disk_usage(folder).free + _size_of(self._reserve)
        if free < needed:
            units = sum(units for _, units in self.header.layers.values())
            raise ActivationFileError(
                f"Not enough space for {self.path}: its disk has {_amount(free)} free, and "
                f"{images - seen} more images of {units} units need up to {_amount(needed)}: "
                f"{_amount(data)} if every image is kept (only the correctly classified ones "
                "are), and room to write them safely. Free space there, or write the file to a "
                "larger disk."
            )

    def _stopped(self, error: Exception) -> ActivationFileError:
        """Close the file after a failed write, with the reserve's space for HDF5 to finish
        what it began, and say what the file keeps."""
        self._reserve.unlink(missing_ok=True)
        stopped = f"Recording stopped: {_write_error_words(error, self.path)}."
        handle, self._file = self._file, None
        try:
            handle.close()
        except HDF5_ERRORS as failure:
            return ActivationFileError(
                f"{stopped} HDF5 reported an error as it finished the file "
                f"({_first_line(failure)}), so it may be damaged. Free space and run the same "
                f"command again: it goes on after the {self._written_rows} images written "
                f"before, or says {self.path} cannot be read; then delete it and run again (it "
                "starts over)."
            )
        try:
            with h5py.File(self.path, "r") as handle:
                self._written_seen = int(handle.attrs["images_seen"])
                self._written_rows = int(handle.attrs["rows"])
                _rows_check(handle, self._written_rows)
        except (*HDF5_ERRORS, KeyError, ActivationFileError) as failure:
            return ActivationFileError(
                f"{stopped} HDF5 left {self.path} damaged: it cannot be read back "
                f"({_first_line(failure)}). Delete it, free space and run the command again "
                "(it starts over)."
            )
        if not self._written_seen:
            return ActivationFileError(
                f"{stopped} {self.path} holds no images yet: free space and run the same "
                "command again."
            )
        return ActivationFileError(
            f"{stopped} {self.path} keeps the {self._written_rows} images kept of the first "
            f"{self._written_seen} seen, all written before: free space and run the same "
            "command again; it goes on after them."
        )

    def _open(self, header: RecordingHeader, images: int | None) -> h5py.File:
        if self.path.exists():
            handle = _open_hdf5(self.path, "r+")
            try:
                _check_resumable(handle, header, self.path)
                rows = int(handle.attrs.get("rows", 0))
                _rows_check(handle, rows)
                self._space_check(images, int(handle.attrs.get("images_seen", 0)))
                _truncate(handle, rows)
            except ActivationFileError:
                handle.close()
                raise
            except HDF5_ERRORS as error:
                handle.close()
                raise ActivationFileError(damaged_message(self.path, error)) from None
            except KeyError as error:  # no /labels, say: HDF5, but not a recording
                handle.close()
                raise ActivationFileError(
                    f"{self.path} is not a recording to resume ({error}): choose another --out "
                    "file or delete this one."
                ) from None
            return handle
        self._space_check(images, 0)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            handle = _create(self.path, header)
            handle.flush()  # a recording killed now leaves a file it can resume
        except HDF5_ERRORS as error:
            self.path.unlink(missing_ok=True)  # made just now, it holds nothing
            words = _write_error_words(error, self.path)
            raise ActivationFileError(f"The recording could not begin: {words}.") from None
        return handle


def _row_bytes(header: RecordingHeader) -> int:
    """Bytes one kept image takes in the file: its activations, label, prediction and id."""
    return 4 * sum(units for _, units in header.layers.values()) + 4 + 4 + ID_BYTES


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_blocks * 512
    except FileNotFoundError:
        return 0


def _amount(size: int) -> str:
    """Bytes as people read them: 3.2 GB, 850 MB."""
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{max(size / 1e6, 0.1):.1f} MB"


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _write_error_words(error: Exception, path: Path) -> str:
    """A failed write as words naming the file: HDF5 puts the system's errno in its text."""
    code = error.errno if isinstance(error, OSError) else None
    found = re.search(r"errno = (\d+)", str(error))
    code = code or (int(found[1]) if found else None)
    if code:
        return os_error_message(OSError(code, os.strerror(code)), path)
    return f"{path} could not be written ({_first_line(error)})"


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
        "network": _text(handle.attrs.get("network")),
        "reduction": _text(handle.attrs.get("reduction")),
        "source": _text(handle.attrs.get("source")),
        "layers": sorted(handle["layers"]) if "layers" in handle else None,
        "pre_relu": _flag(handle, "pre_relu", False, path),
        "weights_sha256": _text(handle.attrs.get("weights_sha256", "")),
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


def _datasets(handle: h5py.File, aliases: Sequence[str] = ()) -> list[h5py.Dataset]:
    """/labels, /predictions, /image_ids and the layers (`aliases`' in that order, else all)."""
    named = [handle["labels"], handle["predictions"], handle["image_ids"]]
    return named + [handle["layers"][alias] for alias in aliases or handle["layers"]]


def _rows_check(handle: h5py.File, rows: int) -> None:
    """ActivationFileError where a dataset holds fewer than the `rows` recorded; HDF5's error
    where the last of them cannot be read (a file damaged by a failed write)."""
    for dataset in _datasets(handle):
        if dataset.shape[0] < rows:
            raise ActivationFileError(
                damaged_message(
                    handle.filename,
                    f"{dataset.name} has {dataset.shape[0]} of the {rows} rows recorded",
                )
            )
        if rows:
            dataset[rows - 1]  # read: a chunk index a failed write broke raises here


def _truncate(handle: h5py.File, rows: int) -> None:
    """Cut every dataset to `rows`, dropping a half-written batch after an interruption."""
    for dataset in _datasets(handle):
        if dataset.shape[0] != rows:
            dataset.resize(rows, axis=0)


def _concatenate(buffer):
    labels = np.concatenate([item[0] for item in buffer])
    predictions = np.concatenate([item[1] for item in buffer])
    ids = [image_id for item in buffer for image_id in item[2]]
    layers = {alias: np.concatenate([item[3][alias] for item in buffer]) for alias in buffer[0][3]}
    return labels, predictions, ids, layers
