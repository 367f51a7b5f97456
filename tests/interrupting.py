"""Ctrl-C at a terminal, as the tests send it: SIGINT to the command's whole process group (the command
and every process it started), at a point the command reliably reaches, never after a fixed sleep: a
line it prints, or the start of its workers' forkserver. Then what the terminal shows of stderr."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import PROJECT_ROOT

HAS_PROC = Path("/proc/self/stat").is_file()  # Linux: child processes are found in /proc

# Runs a module (-m) or script as __main__, first announcing on stdout, then holding for a minute, the import of
# one module (`python -c SLOW_IMPORT MODULE_OR_SCRIPT IMPORTED ARGS...`): a Ctrl-C then lands during that import,
# whose KeyboardInterrupt becomes an ImportError there, as in an extension module's import (numpy's).
SLOW_IMPORT = """
import builtins, runpy, sys, time
entry, imported = sys.argv[1:3]
sys.argv = [entry, *sys.argv[3:]]
load = builtins.__import__
def held(name, *args, **kwargs):
    if name == imported:
        builtins.__import__ = load
        try:
            print(f"importing {name}", flush=True)
            time.sleep(60)
        except KeyboardInterrupt:
            raise ImportError(f"{name} could not be imported") from None
    return load(name, *args, **kwargs)
builtins.__import__ = held
if entry.endswith(".py"):
    runpy.run_path(entry, run_name="__main__")
else:
    runpy.run_module(entry, run_name="__main__", alter_sys=True)
"""


def visible_lines(stderr: str) -> list[str]:
    """The lines a terminal is left showing: progress bars (redrawn over with \\r, then cleared) and blank
    lines dropped."""
    return [line.strip() for line in stderr.replace("\r", "\n").splitlines() if line.strip() and "%|" not in line]


def _forkserver_of(pid: int) -> int | None:
    """The forkserver the process `pid` started (a child process running it), if any."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):  # the process ended meanwhile
            continue
        if parent == pid and b"multiprocessing.forkserver" in command:
            return int(entry.name)
    return None


def _has_loaded(pid: int | None, library: str) -> bool:
    """Whether the process `pid` has mapped a file whose path holds `library` (it imported that extension)."""
    try:
        return pid is not None and library in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def interrupted(command: list[str], cwd: Path, *, line: str | None = None, forkserver_loaded: str | None = None,
                timeout: float = 120) -> tuple[int, list[str], str]:
    """Run `command` in a session of its own, send SIGINT to its process group once it printed `line` on
    stdout, or once the forkserver it starts has loaded the extension `forkserver_loaded` (the forkserver
    is then importing the modules its workers need), and return (exit status, the stderr lines left
    visible, the whole stderr)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        if line is not None:
            while (printed := process.stdout.readline()) and line.encode() not in printed:
                pass
        server = None
        while forkserver_loaded and not _has_loaded(server, forkserver_loaded) and process.poll() is None:
            assert time.monotonic() < deadline, f"no forkserver loaded {forkserver_loaded}"
            server = server or _forkserver_of(process.pid)
            time.sleep(0.002)  # polling for the forkserver's progress, not timing anything
        try:
            os.killpg(process.pid, signal.SIGINT)
        except ProcessLookupError:  # it ended first: its status says how
            pass
        _, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    text = stderr.decode(errors="replace")
    return process.returncode, visible_lines(text), text


def slow_import(entry: str, imported: str, *args: str) -> list[str]:
    """The command that runs `entry` (a module or a .py file) with `args`, holding the import of `imported`."""
    return [sys.executable, "-c", SLOW_IMPORT, entry, imported, *args]
