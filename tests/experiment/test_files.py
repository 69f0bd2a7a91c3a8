"""Files replaced whole, and an OSError as words for a message."""

import errno

import pytest

from experiment.files import os_error_message, replaced_whole


def test_a_binary_file_is_replaced_whole_or_not_at_all(tmp_path):
    path = tmp_path / "panel.png"
    with replaced_whole(path, binary=True) as stream:
        stream.write(b"\x89PNG first")
    with pytest.raises(OSError), replaced_whole(path, binary=True) as stream:
        stream.write(b"\x89PNG sec")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert path.read_bytes() == b"\x89PNG first"
    assert [p.name for p in tmp_path.iterdir()] == ["panel.png"]  # no temporary file left


def test_an_os_error_names_its_file_says_what_happened_and_what_to_do(tmp_path):
    full = OSError(errno.ENOSPC, "No space left on device")
    assert os_error_message(full, tmp_path / "a.csv") == (
        f"{tmp_path / 'a.csv'}: No space left on device (free space on that disk)"
    )
    named = OSError(errno.EROFS, "Read-only file system", "/srv/media/x.png")
    assert os_error_message(named, tmp_path).startswith("/srv/media/x.png: Read-only file system")
    assert os_error_message(OSError(errno.EIO, "Input/output error")) == "Input/output error"
    assert os_error_message(OSError("weights.pt is missing: train it")) == (
        "weights.pt is missing: train it"
    )
