"""Faults injected in-process for the tests of tests/faults/: a full disk (ENOSPC) or Ctrl-C (KeyboardInterrupt,
as Python raises it for SIGINT) at one write of the one writer every output goes through (`os.replace` in
common/atomic.py), and the check that what a faulted run left is whole."""
from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from common import atomic

FULL_DISK = "full disk"
CTRL_C = "Ctrl-C"


def faulted_at(monkeypatch: pytest.MonkeyPatch, at: int | str, kind: str, nth: int = 1) -> list[str]:
    """From now on the `at`-th file moved into place (counting from 1), or the `nth` one named `at`, fails with
    `kind`; returns the files' paths as they come, the failing one last once it came."""
    real, targets = atomic.os.replace, []

    def replace(source: str, target: str) -> None:
        targets.append(str(target))
        named = isinstance(at, str) and sum(Path(path).name == at for path in targets) == nth
        if len(targets) == at or named and Path(target).name == at:
            raise OSError(errno.ENOSPC, "No space left on device") if kind == FULL_DISK else KeyboardInterrupt
        real(source, target)

    monkeypatch.setattr(atomic.os, "replace", replace)
    return targets


def assert_whole(folder: Path) -> None:
    """No temporary left behind in `folder`, and every JSON file there parses, every PNG decodes and every
    checkpoint loads."""
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert not [path.name for path in files if atomic.is_temporary(path.name)]
    for path in files:
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".png":
            with Image.open(path) as image:
                image.load()
        elif path.suffix == ".pth":
            torch.load(path, map_location="cpu", weights_only=False)
