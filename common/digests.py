"""The digest of a file's bytes, as the record of a folder of maps (maps.json) keeps it for each map, so that
the scoring can tell maps changed after they were written from those the test stage wrote. BLAKE2b, 128 bits:
fast, and no accidental collision. Standard library only."""
from __future__ import annotations

import hashlib
from pathlib import Path

DIGEST = "blake2b-128"  # named in the record, so that another digest could be told apart


def file_digest(path: Path) -> str:
    """The hex digest of the bytes of `path`."""
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()
