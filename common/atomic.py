"""Files that a later step or run reads are written whole or not at all.

Each is written to a temporary name in its own folder and renamed over its final name (`os.replace`, atomic
on one file system), so that a full disk, a quota, a read-only folder, a file-size limit or a kill mid-write
leaves the previous version or nothing, never half a file that a later run trusts. A write that fails is
one WriteError naming the file and the cause (the commands print it as one `error:` line). Logs that grow
by a row (`appending`) are cut back to their previous length when a row cannot be written whole.
Standard library only.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from common.errors import UserFacingError

# torch.save reports a full disk as a RuntimeError ("file write failed"): taken as a write error too.
_WRITE_ERRORS = (OSError, RuntimeError)


# `.<stem>.<pid>.tmp<suffix>`: the temporary name of a file being written; one left by a killed process is
# never taken for the file itself (`is_temporary`).
_TEMPORARY = re.compile(r"\..+\.\d+\.tmp(\.[^.]*)?")


def is_temporary(name: str) -> bool:
    """Whether the file name `name` is a temporary one of `replacing` (left by a process killed mid-write)."""
    return _TEMPORARY.fullmatch(name) is not None


class WriteError(UserFacingError, OSError):
    """A file could not be written (full disk, quota, read-only folder, file-size limit, permission)."""


def _cause(error: BaseException) -> str:
    """The reason in a few words: 'No space left on device (ENOSPC)' for an OSError."""
    found = error if isinstance(error, OSError) else error.__cause__ or error.__context__
    if isinstance(found, OSError) and found.errno:
        return f"{os.strerror(found.errno)} ({errno.errorcode.get(found.errno, found.errno)})"
    return " ".join(str(error).split()) or type(error).__name__


def _write_error(path: Path, error: BaseException, kept: bool) -> WriteError:
    left = "the previous version is intact" if kept else "no earlier version exists"
    return WriteError(f"could not write {path}: {_cause(error)}; {left}. Free space or fix the folder's "
                      "permissions, then run the same command again")


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextmanager
def replacing(path: str | Path, sync: bool = True) -> Iterator[Path]:
    """A temporary path beside `path` (same suffix, so that writers choosing a format by it, as matplotlib
    does, still can) to write with any writer that takes a path; renamed over `path` when the block ends
    normally, removed otherwise. `sync`: flush it to disk first (skip for many small files, such as maps)."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield temporary
        if sync:
            _fsync(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, _WRITE_ERRORS) and not isinstance(error, WriteError):
            raise _write_error(path, error, path.exists()) from error
        raise


@contextmanager
def opened(path: str | Path, mode: str = "w", **kwargs: object) -> Iterator[IO]:
    """`open(path, mode)` for a file written whole (see `replacing`): e.g. a CSV writer's handle."""
    with replacing(path) as temporary, open(temporary, mode, **kwargs) as handle:
        yield handle


def write_text(path: str | Path, text: str) -> None:
    """`path.write_text(text)` in UTF-8, whole or not at all."""
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_bytes(path: str | Path, data: bytes, sync: bool = True) -> None:
    """`path.write_bytes(data)`, whole or not at all."""
    with replacing(path, sync) as temporary:
        temporary.write_bytes(data)


@contextmanager
def appending(path: str | Path, **kwargs: object) -> Iterator[IO]:
    """`open(path, "a")` for a log that grows by rows: a row that cannot be written whole (full disk, a
    kill between two writes aside) is cut off again, leaving the log as it was."""
    path = Path(path)
    size = path.stat().st_size if path.exists() else None
    try:
        with open(path, "a", **kwargs) as handle:
            yield handle
    except OSError as error:
        if size is None:
            path.unlink(missing_ok=True)
        else:
            os.truncate(path, size)
        raise _write_error(path, error, size is not None) from error


@contextmanager
def folder(path: str | Path) -> Iterator[Path]:
    """A folder written whole or not at all: filled under the hidden name `.<name>.partial` beside `path`
    (one left by a stopped run is removed first) and renamed to `path` when the block ends without error;
    a folder under its final name is therefore always complete."""
    path = Path(path)
    partial = path.parent / f".{path.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    yield partial
    partial.rename(path)
