"""Ctrl-C as the commands report it: one line on stderr and exit status 130, never a traceback, from any
of their processes.

A terminal's Ctrl-C sends SIGINT to every process of the foreground group: the command, and the worker
processes it started. Python turns SIGINT into a KeyboardInterrupt wherever the program happens to be,
which child processes being started cannot take: a child interrupted while it starts (a forkserver importing its
  preloaded modules, a worker before its initializer ignores SIGINT) prints its own traceback.
  :func:`sigint_held` blocks SIGINT while children start (as multiprocessing starts its resource tracker):
  they inherit the blocked signal, so none can be interrupted before it ignores SIGINT, and this process
  receives a Ctrl-C held back meanwhile as soon as the block ends, when it can stop them.

Standard library only.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _can_set_handlers() -> bool:
    # Python lets only the main thread set signal handlers.
    return threading.current_thread() is threading.main_thread()


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
