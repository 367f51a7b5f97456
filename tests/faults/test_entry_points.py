"""The one guard of every command (common/interrupts.py): Ctrl-C during the imports and from a child, a
closed pipe, a truncated checkpoint given to --resume: one line or none, never a traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from common.interrupts import PIPE_CLOSED_STATUS, run_command
from tests.conftest import TINY, run_cli
from tests.conftest import PROJECT_ROOT as REPO
from tests.interrupting import HAS_PROC, interrupted, slow_import, visible_lines

ENTRY_POINTS = [REPO / "main_ASLP.py", REPO / "predict.py", REPO / "benchmarks" / "real_study.py"]


@pytest.mark.parametrize("script", ENTRY_POINTS, ids=lambda path: path.name)
def test_help_into_a_closed_pipe_exits_quietly(script: Path, tmp_path: Path) -> None:
    # `... --help | head -1`, made certain: the reader is gone before the command writes a byte.
    process = subprocess.Popen([sys.executable, str(script), "--help"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()
    _, stderr = process.communicate(timeout=120)
    assert stderr.decode() == "" and process.returncode in (0, PIPE_CLOSED_STATUS)


def test_a_pipe_closed_mid_run_ends_the_command_quietly_with_141(capsys: pytest.CaptureFixture[str]) -> None:
    def body() -> int:
        raise BrokenPipeError(32, "Broken pipe")

    assert run_command(body) == PIPE_CLOSED_STATUS
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("imported", ["torch", "model"])
def test_ctrl_c_while_predict_loads_its_modules_is_one_line(tmp_path: Path, imported: str) -> None:
    command = slow_import(str(REPO / "predict.py"), imported, f"--weights={tmp_path / 'w.pth'}",
                          f"--images={tmp_path}", f"--out={tmp_path / 'out'}")
    status, lines, stderr = interrupted(command, tmp_path, line=f"importing {imported}")
    assert (status, lines) == (130, ["interrupted"]), stderr


CHILD = """
import signal, sys, time
signal.signal(signal.SIGINT, lambda *_: (print("child: interrupted", file=sys.stderr), sys.exit(130)))
print("ready", flush=True)
time.sleep(60)
"""
PARENT = """
import sys
from common.interrupts import command_main, run_child, run_command
command_main(lambda: run_command(lambda: run_child([sys.executable, "-c", sys.argv[1]]), interrupted="parent: interrupted"))
"""


@pytest.mark.skipif(not HAS_PROC, reason="sends Ctrl-C to a process group")
def test_ctrl_c_while_a_child_runs_is_the_childs_line_only(tmp_path: Path) -> None:
    # benchmarks/real_study.py runs main_ASLP.py so: the terminal's Ctrl-C reaches both.
    status, lines, stderr = interrupted([sys.executable, "-c", PARENT, CHILD], tmp_path, line="ready")
    assert (status, lines) == (130, ["child: interrupted"]), stderr


def test_a_truncated_checkpoint_given_to_resume_is_one_line_naming_it(demo_root: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "experiments" / "cut"
    run_dir.mkdir(parents=True)
    (run_dir / "checkpoint.pth").write_bytes(b"PK\x03\x04" + bytes(100))  # a zip cut short
    result = run_cli(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY, "--experiment=cut", "--resume")
    lines = visible_lines(result.err)
    assert result.code == 2 and len(lines) == 1, result.err
    assert "checkpoint.pth cannot be read as a checkpoint" in lines[0] and "--resume cannot continue" in lines[0]


@pytest.mark.parametrize("options", [("--pred={d}", "--gt={d}"), ("--pred-root={d}", "--gt-root={d}", "--datasets=S"),
                                     ("--pred={d}/x/..", "--gt={d}")])
def test_maps_and_masks_from_one_folder_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    options: tuple[str, ...]) -> None:
    from evaluate.__main__ import main

    (tmp_path / "x").mkdir()
    with pytest.raises(SystemExit) as stopped:
        main([option.format(d=tmp_path) for option in options])
    lines = visible_lines(capsys.readouterr().err)
    assert stopped.value.code == 2 and len(lines) == 1 and "the maps and the masks are one folder" in lines[0]


@pytest.mark.parametrize(("entry", "imported", "line"), [
    ("data.convert_masks", "cv2", "convert_masks: interrupted"),
    (str(REPO / "benchmarks" / "real_study.py"), "main_ASLP", "interrupted"),
    (str(REPO / "predict.py"), "argparse", "interrupted"),
])
def test_ctrl_c_while_other_commands_load_their_modules_is_one_line(tmp_path: Path, entry: str, imported: str,
                                                                    line: str) -> None:
    command = slow_import(entry, imported, str(tmp_path / "a"), str(tmp_path / "b"))
    status, lines, stderr = interrupted(command, REPO, line=f"importing {imported}")
    assert (status, lines) == (130, [line]), stderr
