"""Ctrl-C as the commands report it: one line on stderr and exit status 130, never a traceback, from any
of their processes.

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

Standard library only: the commands call it before anything else is imported.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

INTERRUPTED_STATUS = 130  # 128 + SIGINT, as shells report it


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
