"""The one guard of every command (main_ASLP.py, python -m evaluate, predict.py, benchmarks/real_study.py,
python -m data.convert_masks, the Dataset scripts): Ctrl-C at any moment is one line on stderr and exit status
130, never a traceback, from any of their processes; an error the user can act on (`UserFacingError`: bad
input, an unreadable checkpoint, a full disk) is one `error:` line and status 2; a closed pipe
(`... | head -1`) ends the command quietly. A command calls :func:`start_command` before its imports and
runs its body through :func:`run_command` (or :func:`command_main`).

A terminal's Ctrl-C sends SIGINT to every process of the foreground group: the command, and the worker
processes it started. Python turns SIGINT into a KeyboardInterrupt wherever the program happens to be,
which two places cannot take:

* **imports.** A KeyboardInterrupt raised inside an extension module's import surfaces as an ImportError
  (numpy: "PyCapsule_Import could not import module"), a traceback, not an interruption. While a command
  only loads its modules there is nothing to clean up, so :func:`exiting_on_interrupt` ends the process at
  once with the command's line.
* **child processes being started.** A child interrupted while it starts (a forkserver importing its
  preloaded modules, a worker before its initializer ignores SIGINT) prints its own traceback.
  :func:`sigint_held` blocks SIGINT while children start (as multiprocessing starts its resource tracker):
  they inherit the blocked signal, so none can be interrupted before it ignores SIGINT, and this process
  receives a Ctrl-C held back meanwhile as soon as the block ends, when it can stop them.

A closed pipe: the reader of the output went away (`head -1` has its line). A write then raises
BrokenPipeError, there or when Python flushes stdout at exit. Either way the command says nothing more:
stdout goes to /dev/null; a command stopped by it mid-way exits with status 141 (128 + SIGPIPE, as a C tool
killed by SIGPIPE is reported), one that had finished keeps its own status.

Standard library only: the commands call it before anything else is imported.
"""
from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

INTERRUPTED_STATUS = 130  # 128 + SIGINT, as shells report it
PIPE_CLOSED_STATUS = 141  # 128 + SIGPIPE


def _can_set_handlers() -> bool:
    # Python lets only the main thread set signal handlers.
    return threading.current_thread() is threading.main_thread()


def exit_on_interrupt(message: str) -> None:
    """From now on, Ctrl-C writes ``message`` on stderr and ends the process with status 130 at once
    (for a command's start-up, before its first own line runs: see :func:`exiting_on_interrupt`)."""

    def exit_now(signum: int, frame: object) -> None:
        # os._exit: a SystemExit raised inside an import would surface as an ImportError too. What was
        # printed before stays printed; a stream that cannot take more changes nothing.
        try:
            sys.stdout.flush()
        except (OSError, ValueError, RuntimeError):
            pass
        try:
            sys.stderr.write(f"\n{message}\n")
            sys.stderr.flush()
        except (OSError, ValueError, RuntimeError):
            pass
        os._exit(INTERRUPTED_STATUS)

    if _can_set_handlers():
        signal.signal(signal.SIGINT, exit_now)


def raise_on_interrupt() -> None:
    """From now on, Ctrl-C raises KeyboardInterrupt (Python's own handler), which the command catches
    after cleaning up (stopping worker processes, saying where a checkpoint is)."""
    if _can_set_handlers():
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextmanager
def exiting_on_interrupt(message: str) -> Iterator[None]:
    """Within the block (imports), :func:`exit_on_interrupt`; after it, the handler that was there before."""
    if not _can_set_handlers():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    exit_on_interrupt(message)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def sigint_held() -> Iterator[None]:
    """Hold Ctrl-C back within the block, raising it when the block ends (as this process's SIGINT handler,
    restored by then, does: a KeyboardInterrupt by default). SIGINT is blocked in this thread, and so in every
    process started in it, and recorded if another thread of this process receives it meanwhile (the kernel
    gives a process's signal to any thread not blocking it). Only the main thread may hold it back."""
    if not _can_set_handlers():
        yield
        return
    held: list[int] = []
    previous_handler = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    blocks = hasattr(signal, "pthread_sigmask")
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if blocks else None
    try:
        yield
    finally:
        if blocks:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)  # a SIGINT pending here is recorded now
        signal.signal(signal.SIGINT, previous_handler)
    if held:
        signal.raise_signal(signal.SIGINT)


def _silence_stdout() -> None:
    """Send what is left of stdout to /dev/null: its reader is gone."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (a test's StringIO)
        pass


def _flush_at_exit() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except (OSError, ValueError):
        pass


def start_command(interrupted: str) -> None:
    """A command's first call, before its imports: Ctrl-C while they load says `interrupted` (see
    :func:`exit_on_interrupt`), and a pipe closed before the output is flushed at exit stays quiet."""
    exit_on_interrupt(interrupted)
    atexit.register(_flush_at_exit)


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def run_command(body: Callable[[], int | None], *, prefix: str = "",
                interrupted: str | Callable[[KeyboardInterrupt], str] = "interrupted") -> int:
    """`body()` as a command: its status (0 for None); `{prefix}error: ...` and 2 for a UserFacingError;
    one line (`interrupted`, or what it makes of the interruption) and 130 for Ctrl-C; quiet and 141 when
    the reader of stdout went away."""
    from common.errors import UserFacingError  # here, not above: nothing loads before the Ctrl-C handler

    try:
        status = body()
        sys.stdout.flush()
        return status or 0
    except KeyboardInterrupt as interrupt:
        _say(f"\n{interrupted(interrupt) if callable(interrupted) else interrupted}")
        return INTERRUPTED_STATUS
    except UserFacingError as error:
        _say(f"{prefix}error: {error}")
        return 2
    except BrokenPipeError:
        _silence_stdout()
        return PIPE_CLOSED_STATUS


def command_main(cli: Callable[[], int]) -> NoReturn:
    """A script's `if __name__ == "__main__":` line, once its modules are loaded: Ctrl-C now raises
    KeyboardInterrupt (which lets training save and worker processes stop); then `cli()` (a `run_command`)
    and exit with its status."""
    raise_on_interrupt()
    sys.exit(cli())


def run_child(command: list[str], **kwargs: object) -> int:
    """Run a child command that reports Ctrl-C itself (it is in this terminal's process group and gets the
    same SIGINT) and return its status; this process ignores SIGINT meanwhile, so that the child's line is
    the only one. After it, an interrupted child's 130 stops this command without a word more."""
    # A handler that does nothing, not SIG_IGN: a child inherits an ignored SIGINT, but not a handler.
    import subprocess  # here, not above: nothing loads before the Ctrl-C handler

    previous = signal.signal(signal.SIGINT, lambda signum, frame: None) if _can_set_handlers() else None
    try:
        return subprocess.call(command, **kwargs)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
