"""One writer per experiment folder: a run holds `<folder>/.lock` (an OS file lock, `filelock`) from its
checks to its end, and a second run into the same folder stops at once naming the first.

Beside the lock, `.lock.owner` says who holds it (PID and command), so that the refusal can name the
first run. The OS releases the lock of a process that dies (kill -9, power cut), so a lock left by a
killed run is taken over by the next one; its owner file, still naming a PID that is no longer alive,
is reported in a note.
"""
from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from common import atomic
from common.errors import UserFacingError

LOCK_NAME = ".lock"
OWNER_NAME = ".lock.owner"  # "PID command line": who holds the lock


class FolderBusy(UserFacingError, RuntimeError):
    """Another run is writing into the folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _owner(folder: Path) -> tuple[int, str] | None:
    """(PID, command) from the owner file, or None when there is none or it cannot be read."""
    try:
        pid, _, command = (folder / OWNER_NAME).read_text().partition(" ")
        return int(pid), command.strip()
    except (OSError, ValueError):
        return None


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold `folder`'s lock within the block; FolderBusy at once if another live run holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_NAME, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        owner = _owner(folder)
        who = f"PID {owner[0]}: {owner[1]}" if owner else "another process"
        raise FolderBusy(f"{folder} is being written by another run ({who}); wait for it to end, or write "
                         "elsewhere with --experiment=NEW_NAME") from None
    try:
        left = _owner(folder)
        if left and left[0] != os.getpid() and not _alive(left[0]):
            print(f"Note: {folder} was locked by PID {left[0]} ({left[1]}), which is no longer running (killed?): "
                  "taking the lock over")
        command = shlex.join([sys.executable, *sys.argv])
        atomic.write_text(folder / OWNER_NAME, f"{os.getpid()} {command}\n")
        yield
    finally:
        (folder / OWNER_NAME).unlink(missing_ok=True)
        lock.release()
