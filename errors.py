"""The one base class of the errors a user can act on: bad input, a missing file, a device that is not
there, training that cannot go on. Each message names the file, folder or option and the fix, so the
command line prints it as one `error:` line (exit status 2) instead of a traceback; any other exception
is a bug and is shown in full. Standard library only."""


class UserFacingError(Exception):
    """An error whose message says everything the user needs: what is wrong, where, and what to do."""
