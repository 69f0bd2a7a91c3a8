"""Files that researchers keep (exports, tables, reports): replaced whole or not at all, moved
in without a stop half-way, where a folder for them cannot be made, and an OSError as words."""

import errno
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO


@contextmanager
def replaced_whole(
    path: Path, *, mode: int = 0o644, binary: bool = False
) -> Iterator[TextIO | BinaryIO]:
    """A text stream (UTF-8, newlines as written), or a binary one (for an image, say), that
    becomes `path` when the block ends without an error.

    It is written under another name in the same folder, flushed to disk and renamed into
    place, so a write that fails half-way (a full disk, Ctrl-C, bad input found late) leaves an
    earlier file of that name as it was, and readers never see half a file. The new file gets
    `mode`, also when it replaces one with another mode.
    """
    path = Path(path)
    descriptor, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # 0600
    try:
        text = {} if binary else {"newline": "", "encoding": "utf-8"}
        with os.fdopen(descriptor, "wb" if binary else "w", **text) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(partial, mode)
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)


@contextmanager
def stops_deferred() -> Iterator[None]:
    """Ctrl-C (SIGINT), SIGTERM or SIGHUP during the block stops the program only after it, as a
    KeyboardInterrupt: for moves that must be done whole (a report's files into place). Only
    the main thread handles signals; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    kept = [stop for stop in stops if signal.getsignal(stop) not in (signal.SIG_IGN, None)]
    previous = {stop: signal.signal(stop, lambda signum, _: came.append(signum)) for stop in kept}
    try:
        yield
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
    if came:
        raise KeyboardInterrupt(signal.Signals(came[0]).name)


def file_in_the_way(folder: Path) -> Path | None:
    """The first of `folder` and the folders above it that is a file, not a folder: where
    `folder` cannot be made (None when it can, or is there)."""
    folder = Path(folder)
    return next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)


# What to do about the storage errors a user can mend (others say enough by themselves).
_REMEDIES = {
    errno.ENOSPC: "free space on that disk",
    errno.EDQUOT: "free space within your disk quota",
    errno.EROFS: "the file system is read-only: choose another place, or mount it writable",
}


def os_error_message(error: OSError, path: Path | str | None = None) -> str:
    """An OSError as words for a message instead of a traceback: the file it is about (the
    error's own, else `path`), the system's words (strerror), and what to do where that is
    clear, e.g. "/srv/media/panels/a.png: No space left on device (free space on that disk)".
    An OSError made with a message of its own (no strerror) is that message."""
    if error.strerror is None:
        return str(error)
    where = error.filename if error.filename is not None else path
    text = f"{where}: {error.strerror}" if where is not None else error.strerror
    remedy = _REMEDIES.get(error.errno)
    return f"{text} ({remedy})" if remedy else text
