"""Whether a folder's maps are still the ones its record (maps.json) describes.

The test stage records the digest of every map it writes (`predict.write_maps_record`). Maps changed since
(copied over, edited, converted) are no longer what the record says: if any changed, the whole folder is
scored as maps as given, and a note says how many changed. A record of stretched maps (the paper
protocol's per-image min-max maps, each reaching 0 and 255 unless constant) whose maps do not reach both
ends is no record of those maps either: the same rule, its own note. Records written before digests were
kept cannot be checked so: they are trusted as before (the maps are scored as recorded, a note says the
record predates digests), since nothing says their maps changed; only the stretch check applies to them
(maps with digests that match are the test stage's own, stretched by it).
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from common.digests import DIGEST, file_digest
from common.layout import MAPS_RECORD
from common.text import counted
from protocol import STRETCHED_MAPS


@dataclass(frozen=True)
class CheckedRecord:
    """The record to score the folder by (None: score its maps as given) and the notes saying why."""

    record: dict | None
    notes: list[str] = field(default_factory=list)


def _not_stretched(path: Path) -> bool:
    levels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if levels is None or levels.ndim != 2:  # not a grey map: the reader will say what it is
        return False
    low, high = int(levels.min()), int(levels.max())
    return low != high and (low, high) != (0, 255)


def check_record(folder: Path, record: dict | None, maps: dict[str, Path]) -> CheckedRecord:
    """`record` (folder's maps.json) checked against the maps of `folder` (stem -> path)."""
    if record is None:
        return CheckedRecord(None)
    where = f"{folder / MAPS_RECORD}"
    digests = record.get("digests")
    if digests is not None and record.get("digest") == DIGEST:
        changed = [path.name for path in maps.values() if digests.get(path.name) != file_digest(path)]
        if changed:
            return CheckedRecord(None, [f"{counted(len(changed), 'map')} of {folder} changed after {where} was "
                                        f"written (or were not written with it): scored as maps as given"])
        return CheckedRecord(record)  # the maps the test stage wrote, stretched ones stretched by it
    notes = [f"{where} predates map digests: its maps are scored as recorded, unchecked but for the stretch"]
    if record.get("maps") == STRETCHED_MAPS.word:
        flat = [path.name for path in maps.values() if _not_stretched(path)]
        if flat:
            return CheckedRecord(None, notes + [
                f"{counted(len(flat), 'map')} of {folder} recorded as stretched (min-max per image) reach not both "
                f"0 and 255, so are not stretched: scored as maps as given"])
    return CheckedRecord(record, notes)


# The options a command that writes another protocol's maps from the same network sets anew.
_RESET = ("stages", "protocol", "resume")


def rewrite_command(record: dict, protocol: str) -> str:
    """The command that writes `protocol`'s maps from the network `record` names: the recorded command of
    the run that wrote them (every option kept, so the same experiment, data and network), with the test and
    eval stages and `protocol`; without one, main_ASLP.py with the recorded weights."""
    command = record.get("command")
    if not isinstance(command, list) or len(command) < 2:
        command = ["python", "main_ASLP.py", f"--weights={record.get('network') or 'WEIGHTS'}"]
    kept = [a for a in command if a.lstrip("-").partition("=")[0].replace("-", "_").lower() not in _RESET]
    return shlex.join([*kept, "--stages=test,eval", f"--protocol={protocol}"])
