"""Writing the HDF5 activation file (analysis.selectivity.activations has its schema):
appending kept images, resumably, and surviving a full disk."""

import errno
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from analysis.selectivity.activations import (
    CHUNK_ROWS,
    CHUNK_UNITS,
    HDF5_ERRORS,
    ID_BYTES,
    METADATA_BYTES,
    SCHEMA,
    SCHEMA_VERSION,
    ActivationFileError,
    RecordingHeader,
    damaged_message,
    first_line,
    flag_attribute,
    hdf5_open,
    text_attribute,
)
from experiment.files import os_error_message


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
            _space_held(reserve, needed)
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
                f"({first_line(failure)}), so it may be damaged. Free space and run the same "
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
                f"({first_line(failure)}). Delete it, free space and run the command again "
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
            handle = hdf5_open(self.path, "r+")
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


def _space_held(reserve, size: int) -> None:
    """Give the open file `reserve` `size` bytes of disk. Where the system cannot (macOS has no
    posix_fallocate; some file systems refuse it) the file stays as it is, and only the free
    space is checked before each write."""
    if not hasattr(os, "posix_fallocate"):
        return
    try:
        os.posix_fallocate(reserve.fileno(), 0, size)
    except OSError as error:
        if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise


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


def _write_error_words(error: Exception, path: Path) -> str:
    """A failed write as words naming the file: HDF5 puts the system's errno in its text."""
    code = error.errno if isinstance(error, OSError) else None
    found = re.search(r"errno = (\d+)", str(error))
    code = code or (int(found[1]) if found else None)
    if code:
        return os_error_message(OSError(code, os.strerror(code)), path)
    return f"{path} could not be written ({first_line(error)})"


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
        "network": text_attribute(handle.attrs.get("network")),
        "reduction": text_attribute(handle.attrs.get("reduction")),
        "source": text_attribute(handle.attrs.get("source")),
        "layers": sorted(handle["layers"]) if "layers" in handle else None,
        "pre_relu": flag_attribute(handle, "pre_relu", False, path),
        "weights_sha256": text_attribute(handle.attrs.get("weights_sha256", "")),
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
