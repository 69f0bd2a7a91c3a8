"""Files that researchers keep (exports, tables, reports): replaced whole or not at all, moved
in without a stop half-way, and where a folder for them cannot be made."""

import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def replaced_whole(path: Path, *, mode: int = 0o644) -> Iterator[TextIO]:
    """A text stream (UTF-8, newlines as written) that becomes `path` when the block ends
    without an error.

    It is written under another name in the same folder, flushed to disk and renamed into
    place, so a write that fails half-way (a full disk, Ctrl-C, bad input found late) leaves an
    earlier file of that name as it was, and readers never see half a file. The new file gets
    `mode`, also when it replaces one with another mode.
    """
    path = Path(path)
    descriptor, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # 0600
    try:
        with os.fdopen(descriptor, "w", newline="", encoding="utf-8") as stream:
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
