"""Errors users can act on.

Every mistake a user can make (an unknown name, an impossible size, a missing dataset)
raises a subclass of :class:`DreamlibError` whose message names the culprit and the fix.
The command line prints that one line and exits non-zero; ``--debug`` shows the traceback.
The same holds for the operating-system errors a user fixes rather than a programmer (a
full disk, a folder without write permission, a read-only mount, any error on a path the user
gave): see :func:`write_error_message`.
"""

import errno


class DreamlibError(Exception):
    """Base class of every error caused by user input rather than by a bug."""


class ConfigError(DreamlibError, ValueError):
    """A model/run configuration that cannot be built (unknown name, bad size, ...)."""


def choice_error(what: str, value, choices) -> ConfigError:
    """The one message shape for 'value is not one of the allowed names'."""
    allowed = ", ".join(str(c) for c in choices)
    return ConfigError(f"unknown {what} {value!r}; choose one of: {allowed}")


# errno -> (what went wrong, what to do); the errors a user fixes on their side of the disk
WRITE_ERRORS = {
    errno.ENOSPC: ("no space left on the device",
                   "free space there or choose another output folder"),
    errno.EDQUOT: ("disk quota exceeded", "free space there or choose another output folder"),
    errno.EACCES: ("permission denied", "make that folder writable for this user or choose another "
                                        "output folder"),
    errno.EPERM: ("operation not permitted", "make that folder writable for this user or choose "
                                             "another output folder"),
    errno.EROFS: ("read-only file system", "choose an output folder on a writable disk"),
}


# errno -> (what went wrong, what to do) for the other errors on a path the user gave
PATH_ERRORS = {
    errno.ENOENT: ("no such file or folder, and it cannot be created there",
                   "check the path, or choose a folder in a location that exists and is writable"),
    errno.ENOTDIR: ("a part of that path is a file, not a folder",
                    "choose a path whose parent folders are folders"),
    errno.EISDIR: ("it is a folder where a file was expected", "choose another path"),
    errno.EEXIST: ("something else already exists there", "choose another path"),
    errno.ENAMETOOLONG: ("the name is too long", "choose a shorter path"),
    errno.ELOOP: ("too many symbolic links", "choose a path without a symbolic-link loop"),
    errno.ENOTEMPTY: ("the folder is not empty", "choose another path"),
    errno.EMFILE: ("too many open files", "raise the open-file limit (ulimit -n) and rerun"),
}


def write_error_message(exc: OSError) -> str | None:
    """One line for an OSError a user can fix, naming the path, or None for any other OSError
    (a bug, shown with its traceback).

    A user fixes every OSError that names a path (a full disk, no permission, a read-only
    mount, a path under a regular file, ``/proc/...``) and the disk errors that name none (a
    failing ``write()``); an OSError without a path and outside those is a bug.

    Every file dreamlib writes goes through an atomic writer (temp file + rename), so such a
    failure leaves the earlier files as they were; the message says so, because that is what
    a researcher needs to know before freeing space and rerunning.
    """
    unchanged = ("then rerun (files written before are unchanged and finished runs are "
                 "reused)")
    if exc.errno in WRITE_ERRORS:
        problem, fix = WRITE_ERRORS[exc.errno]
        where = exc.filename if exc.filename is not None else "the output folder"
        return f"cannot write {where}: {problem}; {fix}, {unchanged}"
    if exc.filename is None:
        return None
    strerror = (exc.strerror or type(exc).__name__).lower()
    problem, fix = PATH_ERRORS.get(exc.errno, (strerror, "check that path or choose another"))
    return f"cannot use {exc.filename}: {problem}; {fix}, {unchanged}"
