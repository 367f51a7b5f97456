"""The command lines of main_ASLP.py and python -m evaluate, generated from their real options with values
valid, invalid, empty, of the wrong type or odd: each exits 0, or 2 with one line naming the problem, never
with a traceback. And Ctrl-C anywhere before training is one line and status 130.

No generated line trains or starts worker processes (each would take seconds): main_ASLP.py's are checked
by its configuration stage, which imports no torch, and a few run whole with --stages=eval and a missing
dataset; python -m evaluate scores two maps of a few pixels with one worker. What is left out, and why, is
said where the values are drawn.
"""
from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import evaluate.__main__ as evaluate_cli
import main_ASLP
from common.configurator import ConfigError
from tests.conftest import PROJECT_ROOT, run_cli, write_pairs
from tests.interrupting import HAS_PROC, interrupted, slow_import, visible_lines

MAIN = PROJECT_ROOT / "main_ASLP.py"
FAST = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
ODD = ["", " ", "-", "--", "x", "ü ß", "a=b", "1e3", "None", "true"]  # odd strings for any option


@contextlib.contextmanager
def scoring_folders() -> Iterator[Path]:
    """A working folder holding one set of two tiny maps and masks (S/pred, S/GT), laid out for --pred/--gt and
    for --pred-root (P/S)/--gt-root (G/S/GT), and a file (a_file)."""
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        rng = np.random.default_rng(0)
        gt = np.zeros((5, 7), np.uint8)
        gt[1:4, 2:5] = 255
        pairs = [(rng.integers(0, 256, gt.shape, dtype=np.uint8), gt) for _ in range(2)]
        for maps, masks in (("S/pred", "S/GT"), ("P/S", "G/S/GT")):
            write_pairs(root / maps, root / masks, pairs)
        (root / "a_file").write_text("")
        yield root


PATHS = ["S/pred", "S/GT", "P", "G", "out", "missing", "a_file", "a_file/below", *ODD]
NUMBERS = ["1", "0", "-1", "2.5", "256", "257", "1000000", "10**9", " 3", *ODD]
EVALUATE_VALUES = {
    "--pred": PATHS, "--gt": PATHS, "--probabilities": PATHS, "--pred-root": PATHS, "--gt-root": PATHS,
    "--probabilities-root": PATHS, "--out": PATHS, "--name": ["S", "a/b", "..", *ODD],
    "--datasets": ["S", "S,S", "S,T", ",", "T", *ODD], "--protocol": ["paper", "calibrated", "PAPER", *ODD],
    # Worker counts above 1 are left out: each starts worker processes (the scorer's properties start them).
    "--workers": ["1", "0", "-1", "2.5", "10**9", *ODD], "--bins": NUMBERS, "--boundary-width": NUMBERS,
}


def _evaluate_options() -> list[str]:
    """Every long option of python -m evaluate, as its parser knows them."""
    return [option for action in evaluate_cli._parser()._actions for option in action.option_strings
            if option.startswith("--")]


def _argument(option: str, value: str | None, form: str) -> list[str]:
    if value is None or form == "bare":
        return [option]
    return [f"{option}={value}"] if form == "joined" else [option, value]


@st.composite
def evaluate_lines(draw: st.DrawFn) -> list[str]:
    """A command line: a good one (one set, or several) changed by a few arguments, or arguments alone."""
    good = draw(st.sampled_from([["--pred=S/pred", "--gt=S/GT", "--out=out"],
                                 ["--pred-root=P", "--gt-root=G", "--datasets=S", "--out=out"], []]))
    changes = []
    for _ in range(draw(st.integers(0, 3))):
        option = draw(st.sampled_from([*_evaluate_options(), "--bogus", "-x", "x"]))
        values = EVALUATE_VALUES.get(option, ODD)
        # The option's own values first, so that most lines get past the parser to the scoring.
        value = draw(st.sampled_from(values[:-len(ODD)] * 2 + ODD if values is not ODD else ODD))
        value = value if option.startswith("--") else None
        changes += _argument(option, value, draw(st.sampled_from(["joined"] * 4 + ["split", "bare"])))
    return [*good, "--workers=1", *changes] if good else changes


def run_evaluate(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """python -m evaluate's main() in this process, run from `cwd`: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = evaluate_cli.main(argv)
        except SystemExit as exit_:  # argparse: --help, and usage errors
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


@settings(FAST, max_examples=30)
@given(argv=evaluate_lines())
@example(argv=["--pred=S/pred", "--gt=S/GT", "--out=out", "--workers=1", "--pred=--"])  # argparse: an empty list
def test_any_evaluate_command_line_exits_0_or_2_with_one_line(argv: list[str]) -> None:
    with scoring_folders() as root:
        status, out, err = run_evaluate(argv, root)
    lines = visible_lines(err)
    event(f"status {status}")
    assert status in (0, 2), (status, err)
    if status == 2:
        assert len(lines) == 1 and lines[0].startswith("evaluate: error: "), err
    else:
        assert not lines or "--help" in argv or "-h" in argv, err


# main_ASLP.py: values by the type of the constant's default, (of the type, of another type or odd).
MAIN_VALUES = {
    bool: (["true", "false", "1", "off", "TRUE"], ["maybe", "2", *ODD]),
    int: (["1", "5", "32", "0", "-1", "257", "99999999999999999999"], ["3.5", "1e3", "10**9", *ODD]),
    float: (["0.5", "2e-5", "0", "-1", "nan", "inf", "1e400"], ["x", "", "1,5", "0.5.1"]),
    str: (["paper", "calibrated", "ASLP", "BCE,TS", "eval", "test,eval", "cpu", "cuda", "cuda:1", "xyz", "imagenet",
           "a,b", *ODD], []),
    tuple: (["S", "S,T", "S,S", ",", *ODD], []),
}
# Left out of the whole runs: --demo (it writes a synthetic dataset, seconds) and --weights naming a file that
# exists (it builds the network first, whose size --feat_channel sets). The configuration stage sees both.
NOT_RUN = ("DEMO", "WEIGHTS")


@st.composite
def main_lines(draw: st.DrawFn, run: bool = False) -> list[str]:
    """A command line of main_ASLP.py: options named as the constants are, in any case and with - or _, with
    values by the constant's type; now and then an unknown option, a bare word or a bare option."""
    names = [name for name in main_ASLP.CONSTANTS if not (run and name in NOT_RUN)]
    argv = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["constant"] * 6 + ([] if run else ["unknown", "word", "bare"])))
        if kind == "unknown":
            argv.append(draw(st.sampled_from(["--epoch=3", "--foo", "--=1", "---x=1", "--help=1"])))
            continue
        if kind == "word":
            argv.append(draw(st.sampled_from(["x", "-e=1", "epochs=3", ""])))
            continue
        name = draw(st.sampled_from(names))
        spelled = draw(st.sampled_from([name.lower(), name, name.lower().replace("_", "-")]))
        if kind == "bare":
            argv.append(f"--{spelled}")
            continue
        typed, other = MAIN_VALUES[type(main_ASLP.CONSTANTS[name])]
        # Whole runs draw values of the option's type, so that most get past the configuration stage.
        value = draw(st.sampled_from(typed if run else typed + other))
        argv.append(f"--{spelled}={value}")
    return argv


@settings(FAST, max_examples=300)
@given(argv=main_lines())
def test_any_main_aslp_command_line_is_configured_or_refused_in_one_line(argv: list[str]) -> None:
    # The configuration stage, which every run passes before torch is imported.
    try:
        main_ASLP.configure(argv, announce=False)
    except ConfigError as error:
        message = str(error)
        assert message and "\n" not in message, message
        event("refused")


@settings(FAST, max_examples=6)
@given(argv=main_lines(run=True))
@example(argv=["--device=xyz"])  # torch's RuntimeError, a traceback after torch was imported
def test_any_main_aslp_command_line_stops_before_training_with_one_line(argv: list[str]) -> None:
    # Whole runs, in this process: --stages=eval and a missing dataset, given last, win over the drawn ones, so
    # no line trains; each exits 2 with one line (a wrong option, or the missing dataset).
    with tempfile.TemporaryDirectory() as name:
        result = run_cli(Path(name), *argv, "--stages=eval", f"--dataset_root={Path(name) / 'missing'}")
    lines = visible_lines(result.err)
    assert result.code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.err


@pytest.mark.parametrize("imported", ["common.configurator", "pipeline"])
def test_ctrl_c_while_the_modules_load_is_one_line_and_status_130(tmp_path: Path, imported: str) -> None:
    # The script's own imports, and torch's with the pipeline (a KeyboardInterrupt inside an extension's import
    # surfaces as an ImportError traceback). Were the Ctrl-C missed, the missing data would stop the run at once.
    command = slow_import(str(MAIN), imported, "--stages=eval", f"--dataset_root={tmp_path / 'missing'}")
    status, lines, stderr = interrupted(command, tmp_path, line=f"importing {imported}")
    assert (status, lines) == (130, ["interrupted"]), stderr


@pytest.mark.skipif(not HAS_PROC, reason="finds the forkserver in /proc")
def test_ctrl_c_while_the_eval_stage_starts_its_workers_is_one_line_and_status_130(tmp_path: Path) -> None:
    # As `python -m evaluate` (tests/evaluate/test_cli.py): sent while the scoring's forkserver imports its modules.
    rng = np.random.default_rng(0)
    gt = np.zeros((24, 32), np.uint8)
    gt[6:18, 8:24] = 255
    write_pairs(tmp_path / "experiments" / "e" / "predictions" / "S", tmp_path / "data" / "Test" / "S" / "GT",
                [(rng.integers(0, 256, gt.shape, dtype=np.uint8), gt) for _ in range(40)])
    command = [sys.executable, str(MAIN), "--stages=eval", f"--dataset_root={tmp_path / 'data'}", "--test_datasets=S",
               "--experiment=e", "--eval_workers=2"]
    status, lines, stderr = interrupted(command, tmp_path, forkserver_loaded="cv2")
    assert (status, lines) == (130, ["interrupted"]), stderr
    assert not (tmp_path / "experiments" / "e" / "results.json").exists()
