"""The workdir of a training run: checked before anything is written, and held by one writer.

A run holds an exclusive OS lock (`fcntl.flock`) on `<workdir>/.lock` for its lifetime. The kernel
drops the lock when the process dies, however it dies, so a SIGKILL never leaves a stale lock: the
next run takes it and resumes. A second run in the same workdir refuses at once with
`WorkdirInUseError`, naming the holder that the lock file records (pid, host, start time), and
touches nothing. Readers (`scripts/evaluate.py`, sampling) take no lock and move or delete nothing.
On a multi-process run, process 0 holds the lock for all of them.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
from pathlib import Path

from jaxgen.errors import ConfigError, WorkdirInUseError

LOCK_NAME = ".lock"


def check_workdir(workdir: str | Path) -> Path:
  """`workdir` as a Path; a `ConfigError` if it, or a folder above it, is not a directory."""
  path = Path(workdir)
  for folder in (path, *path.parents):
    if folder.exists() and not folder.is_dir():
      where = "it" if folder == path else f"{folder}, a folder above it,"
      raise ConfigError(
        f"--workdir {workdir} cannot be used: {where} is a file, not a directory. Give a new "
        "or existing directory as --workdir."
      )
    if folder.exists():
      break
  return path


def _holder(path: Path) -> str:
  """Who holds the lock, as the lock file records it."""
  try:
    record = json.loads(path.read_text())
    return f"pid {record['pid']} on host {record['host']}, started {record['started']}"
  except (OSError, ValueError, KeyError, TypeError):  # written in the instant we read it
    return "a process whose record could not be read"


class WorkdirLock:
  """`with WorkdirLock(workdir):` holds the workdir's lock (see the module docstring).

  Raises `WorkdirInUseError` on entry when another live process holds it. `enabled=False` (the
  processes other than 0 of a multi-process run) holds nothing.
  """

  def __init__(self, workdir: str | Path, enabled: bool = True):
    self.workdir = check_workdir(workdir)
    self.enabled = enabled
    self._descriptor: int | None = None

  def __enter__(self) -> WorkdirLock:
    if not self.enabled:
      return self
    path = self.workdir / LOCK_NAME
    self.workdir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      os.close(descriptor)
      raise WorkdirInUseError(
        f"The workdir {self.workdir} is in use by another jaxgen run ({_holder(path)}). Wait for "
        "it to finish, stop it, or use another --workdir; this run changed nothing."
      ) from None
    except BaseException:
      os.close(descriptor)
      raise
    # Written in place: a rename would put an unlocked file at the lock's name.
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": started}
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, (json.dumps(record) + "\n").encode(), 0)
    self._descriptor = descriptor
    return self

  def __exit__(self, *exc_info) -> None:
    if self._descriptor is not None:
      descriptor, self._descriptor = self._descriptor, None
      with contextlib.suppress(OSError):
        os.close(descriptor)  # closing the last descriptor releases the flock
