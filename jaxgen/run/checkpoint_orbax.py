"""Orbax's failures as one line (see `jaxgen.run.checkpoint`): the cause of a failed save or read in
a short sentence, and orbax's own tracebacks for it kept off stderr.

Those tracebacks (hundreds of lines: ERROR records of orbax through absl, asyncio's "exception was
never retrieved", "Exception ignored" reports of its abandoned coroutines) go to the DEBUG level of
the `jaxgen.run.checkpoint` logger from the first `Checkpointer` on (`quiet_orbax`); the
checkpointer raises one `CheckpointError` instead, chained to the original exception.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys

# The checkpoint layer logs through one logger, whichever of its modules writes the record.
log = logging.getLogger("jaxgen.run.checkpoint")

TMP_SUFFIX = ".orbax-checkpoint-tmp"  # orbax writes `<step>.orbax-checkpoint-tmp`, then renames


def _from_orbax(filename: str | None) -> bool:
  return bool(filename) and f"{os.sep}orbax{os.sep}" in filename


def _involves_orbax(error: BaseException | None) -> bool:
  """Whether orbax code is on the traceback of `error` or of an exception it was chained to, or
  the error names a folder orbax is writing (tensorstore's errors carry no Python traceback)."""
  for cause in _causes(error):
    if TMP_SUFFIX in str(cause):
      return True
    frame = cause.__traceback__
    while frame is not None:
      if _from_orbax(frame.tb_frame.f_code.co_filename):
        return True
      frame = frame.tb_next
  return False


class _OrbaxErrorFilter(logging.Filter):
  """Drops ERROR records and records with tracebacks that come from orbax, re-logging them at
  DEBUG: each belongs to a failure that we raise as a one-line `CheckpointError`, chained to the
  original exception. Orbax logs through absl; its event loops and thread pools log through
  asyncio and concurrent.futures (e.g. "Future exception was never retrieved")."""

  def filter(self, record: logging.LogRecord) -> bool:
    if record.levelno < logging.ERROR and not record.exc_info:
      return True
    error = record.exc_info[1] if record.exc_info else None
    if _from_orbax(record.pathname) or _involves_orbax(error):
      log.debug("orbax: %s", record.getMessage(), exc_info=record.exc_info)
      return False
    return True


_FILTER = _OrbaxErrorFilter()
_LOGGERS = ("absl", "asyncio", "concurrent.futures")
_previous_unraisablehook = None


def _unraisable_hook(unraisable) -> None:
  """Sends the "Exception ignored in <coroutine ...>" reports of orbax's abandoned coroutines to
  DEBUG; passes every other report on."""
  code = getattr(getattr(unraisable, "object", None), "cr_code", None)
  if (
    _from_orbax(getattr(code, "co_filename", None))
    or _involves_orbax(unraisable.exc_value)
    or _is_late_callback(unraisable.exc_value)
  ):
    error = unraisable.exc_value
    log.debug("orbax (ignored): %r", error, exc_info=error)
  else:
    (_previous_unraisablehook or sys.__unraisablehook__)(unraisable)


def _is_late_callback(error: BaseException | None) -> bool:
  """A tensorstore write finishing after orbax closed the event loop that awaited it (orbax stops
  at the first failed write): tensorstore's C++ thread reports "Event loop is closed" from
  `call_soon_threadsafe`, a report of a callback to a dead loop, of no use to anyone."""
  if not isinstance(error, RuntimeError) or str(error) != "Event loop is closed":
    return False
  frame = error.__traceback__
  while frame is not None and frame.tb_frame.f_code.co_name != "call_soon_threadsafe":
    frame = frame.tb_next
  return frame is not None


def quiet_orbax() -> None:
  """Installs the log filter and the unraisable hook (idempotent). They stay for the life of the
  process: orbax's abandoned futures and coroutines report when they are garbage-collected, which
  can be long after the call that failed, even after `close()`."""
  global _previous_unraisablehook
  for name in _LOGGERS:
    if _FILTER not in logging.getLogger(name).filters:
      logging.getLogger(name).addFilter(_FILTER)
  if sys.unraisablehook is not _unraisable_hook:
    _previous_unraisablehook, sys.unraisablehook = sys.unraisablehook, _unraisable_hook


def _causes(error: BaseException):
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    yield error
    error = error.__cause__ or error.__context__


def one_line(error: BaseException, limit: int = 200) -> str:
  """The cause of `error` in one short line: the OS error if there is one anywhere in the chain
  (tensorstore reports it as "[os_error_code='28']" inside a long message), else the first line
  of the innermost message."""
  for cause in _causes(error):
    if isinstance(cause, OSError) and cause.errno:
      return os.strerror(cause.errno)
    found = re.search(r"os_error_code='?(\d+)", str(cause))
    if found:
      return os.strerror(int(found.group(1)))
  for cause in reversed(list(_causes(error))):
    text = str(cause).strip().splitlines()
    if text and not text[0].startswith("Encountered error while reading array index"):
      return text[0] if len(text[0]) <= limit else text[0][: limit - 3] + "..."
  return type(error).__name__


def is_disk_full(error: BaseException) -> bool:
  """Whether `error` is, somewhere in its chain, a full disk or an exceeded disk quota."""
  return one_line(error) in (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))
