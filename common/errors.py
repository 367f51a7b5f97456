"""The one base class of the errors a user can act on: bad input, a missing file, a device that is not
there, training that cannot go on. Each message names the file, folder or option and the fix, so the
command line prints it as one `error:` line (exit status 2) instead of a traceback; any other exception
is a bug and is shown in full. Standard library only."""
from __future__ import annotations

import argparse
from typing import NoReturn


class UserFacingError(Exception):
    """An error whose message says everything the user needs: what is wrong, where, and what to do."""


class OneLineParser(argparse.ArgumentParser):
    """argparse for this project's commands: a usage error is one line, `error_format` filled with the
    message (exit status 2), not the usage block; and `--option=--`, which Python's argparse takes as an
    empty list instead of a value, is refused like a missing value."""

    def __init__(self, *args, error_format: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.error_format = error_format

    def error(self, message: str) -> NoReturn:
        self.exit(2, self.error_format.format(message) + "\n")

    def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201 (argparse's signature)
        parsed, rest = super().parse_known_args(args, namespace)
        for action in self._actions:
            if action.nargs is None and action.option_strings and getattr(parsed, action.dest, None) == []:
                self.error(f"argument {'/'.join(action.option_strings)}: expected one argument")
        return parsed, rest
