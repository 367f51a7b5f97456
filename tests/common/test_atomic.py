"""common/atomic.py: a file written whole or not at all, and a write error as one message naming the file
and its cause."""
from __future__ import annotations

import errno
from pathlib import Path

import pytest

from common import atomic
from common.atomic import WriteError


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EFBIG])
def test_a_failed_write_keeps_the_previous_version_and_names_the_file_and_cause(tmp_path: Path, code: int) -> None:
    path = tmp_path / "results.json"
    atomic.write_text(path, "old\n")
    with pytest.raises(WriteError) as raised, atomic.replacing(path) as temporary:
        temporary.write_text("half")
        raise OSError(code, "injected")
    message = str(raised.value)
    assert str(path) in message and errno.errorcode[code] in message and "previous version is intact" in message
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary left


def test_a_failed_first_write_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "plot.png"
    with pytest.raises(WriteError, match="no earlier version exists"), atomic.replacing(path) as temporary:
        assert temporary.suffix == ".png"  # matplotlib picks the format from it
        raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_a_row_that_cannot_be_appended_whole_is_cut_off_again(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss\n1,0.5\n")
    with pytest.raises(WriteError, match="log.csv"), atomic.appending(path) as handle:
        handle.write("2,0.")
        handle.flush()
        raise OSError(errno.ENOSPC, "No space left on device")
    assert path.read_text() == "epoch,loss\n1,0.5\n"


def test_other_errors_pass_unchanged(tmp_path: Path) -> None:
    with pytest.raises(KeyError), atomic.replacing(tmp_path / "a.json"):
        raise KeyError("a bug, not a write error")
    assert list(tmp_path.iterdir()) == []
