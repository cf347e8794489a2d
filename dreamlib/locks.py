"""One worker per run: a lock file inside the run folder.

Researchers run a grid as an array job: several processes over one run store. Before a run
is trained its folder gets a lock file, ``lock.json``, created with ``O_CREAT | O_EXCL`` (the
one file operation that exactly one process can win, also on NFS v3+). It records the host,
the pid, the start time and a random token; while the run trains, a daemon thread of the
holder touches the file every :data:`HEARTBEAT_SECONDS`, and the holder removes it when the
run ends, whether it finished or failed.

A lock is **stale** (its holder is gone) and may be taken over when

* it was written on this host by a pid that is no longer alive (or is a zombie), or by this
  very pid without this process holding it (a pid reused after a restart of the container);
* or its heartbeat (the file's mtime) is older than :data:`STALE_SECONDS`, whatever the host.
  This is the only rule across hosts (a pid on another host cannot be checked); it is
  generous (30 min against a 1 min heartbeat) so a busy but live worker is never robbed,
  and it assumes the hosts' clocks agree to within minutes.

Taking over is serialised by a second ``O_EXCL`` file, ``.lock.json.recover``: the recoverer
re-reads the lock while holding it and removes the lock only if it is still the same stale
one (same token and inode); it then competes for the lock with ``O_EXCL`` like any newcomer.
So two recoverers cannot both win. A recoverer killed inside that window (a few file
operations) leaves a guard that the same staleness rules clear.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .errors import DreamlibError
from .runs import check_folder

LOCK_FILE = "lock.json"
GUARD_FILE = ".lock.json.recover"
HEARTBEAT_SECONDS = 60.0
STALE_SECONDS = 30 * 60.0
ATTEMPTS = 50  # create/recover rounds before giving up on a lock that keeps changing hands
HOST = socket.gethostname()
_HELD: dict[str, str] = {}  # lock path -> token, for the locks this process holds


class LockHeld(DreamlibError):
    """Another live process holds the run's lock (it is training that run now)."""


@dataclass(frozen=True)
class Holder:
    """What a lock file says about its holder, and how long ago it last beat."""

    host: str | None
    pid: int | None
    started: str | None
    token: str | None
    inode: int
    age: float  # seconds since the last heartbeat (the file's mtime)

    def describe(self) -> str:
        who = f"pid {self.pid} on host {self.host}" if self.pid else "a process still writing it"
        return f"{who} (started {self.started or '?'}, last heartbeat {self.age:.0f}s ago)"


def main_process() -> bool:
    """Whether this is the process that writes run folders (rank 0 of ``accelerate launch``)."""
    return os.environ.get("RANK", "0") == "0"


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs on this host; a zombie (killed, not yet reaped) counts as dead."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def read_holder(path: Path) -> Holder | None:
    """The holder recorded in lock file ``path``, or None when there is no such file.

    A file another process has just created but not yet written reads as a holder with
    unknown fields: it is judged by its age alone.
    """
    try:
        stat = path.stat()
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
        fields = {k: record.get(k) for k in ("host", "pid", "started", "token")}
    except (json.JSONDecodeError, AttributeError):
        fields = dict.fromkeys(("host", "pid", "started", "token"))
    return Holder(**fields, inode=stat.st_ino, age=max(0.0, time.time() - stat.st_mtime))


def is_stale(holder: Holder, path: Path) -> bool:
    """The staleness rules of the module docstring."""
    if holder.host == HOST and isinstance(holder.pid, int):
        if holder.pid == os.getpid():
            return _HELD.get(str(path)) != holder.token
        if not pid_alive(holder.pid):
            return True
    return holder.age > STALE_SECONDS


def _record() -> dict:
    return {"host": HOST, "pid": os.getpid(), "token": uuid.uuid4().hex,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _create(path: Path, record: dict) -> bool:
    """Create ``path`` holding ``record`` if it does not exist; False when it already does."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)  # an empty lock would block others for STALE_SECONDS
        raise
    return True


def _recover(path: Path, stale: Holder) -> None:
    """Remove the stale lock ``stale`` at ``path``, unless someone else is already at it."""
    guard = path.with_name(GUARD_FILE)
    if not _create(guard, _record()):
        other = read_holder(guard)
        if other is not None and is_stale(other, guard):
            guard.unlink(missing_ok=True)
        return
    try:
        current = read_holder(path)
        if current is not None and (current.token, current.inode) == (stale.token, stale.inode):
            path.unlink(missing_ok=True)
    finally:
        guard.unlink(missing_ok=True)


class RunLock:
    """The lock of one run folder; use as ``with RunLock(folder): ...``.

    Entering raises :class:`LockHeld` when a live process holds the folder; a stale lock is
    taken over. Leaving removes the lock file (if it is still ours).
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = check_folder(folder, "run folder")
        self.path = self.folder / LOCK_FILE
        self.record: dict | None = None
        self._stop = threading.Event()
        self.took_over: Holder | None = None  # the stale holder this lock replaced, if any

    def acquire(self) -> RunLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        holder = None
        for _ in range(ATTEMPTS):
            record = _record()
            if _create(self.path, record):
                self._hold(record)
                return self
            holder = read_holder(self.path)
            if holder is None:
                continue  # released meanwhile: compete again
            if not is_stale(holder, self.path):
                raise self._held_error(holder)
            self.took_over = holder
            _recover(self.path, holder)
            time.sleep(0.01)
        raise self._held_error(holder)

    def _hold(self, record: dict) -> None:
        self.record = record
        _HELD[str(self.path)] = record["token"]
        threading.Thread(target=self._beat, name=f"heartbeat {self.folder.name}",
                         daemon=True).start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                os.utime(self.path)
            except OSError:
                pass  # the next beat retries; a lost lock is found out by whoever takes it

    def _held_error(self, holder: Holder | None) -> LockHeld:
        who = holder.describe() if holder else "other processes (it changed hands repeatedly)"
        return LockHeld(
            f"run folder {self.folder} is being trained by {who}; wait for it to finish (a "
            f"grid run picks the result up), or if that process is gone, delete {self.path}"
        )

    def release(self) -> None:
        self._stop.set()
        if self.record is None:
            return
        current = read_holder(self.path)
        if current is not None and current.token == self.record["token"]:
            self.path.unlink(missing_ok=True)
        _HELD.pop(str(self.path), None)
        self.record = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
