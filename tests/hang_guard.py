"""Hang guards: the limits that stop a test whose subprocess, thread or notebook kernel is stuck
(a deadlock, a collective waiting for a dead peer), so that it fails instead of blocking the suite.

They are not assertions on speed, and no test asserts on wall-clock time: `HANG_GUARD_S` is far
beyond what any of these waits takes on a loaded laptop with a CPU hog on every core. A test that
needs one thing to happen before another waits for the event itself (a file, a flag, a marker
written by tests/pausing_train.py), never for a duration.
"""

import subprocess
import time

HANG_GUARD_S = 1800


def message(what: str) -> str:
  return (
    f"hang guard: {what} did not finish within {HANG_GUARD_S} s. This limit is not a speed "
    "requirement (nothing here takes more than minutes, even on a loaded machine): it is stuck."
  )


def run(command, **kwargs) -> subprocess.CompletedProcess:
  """`subprocess.run` under the hang guard; a stuck command fails the test with `message`."""
  try:
    return subprocess.run(command, timeout=HANG_GUARD_S, **kwargs)
  except subprocess.TimeoutExpired as error:
    raise AssertionError(message(f"the command {command}")) from error


def wait(process: subprocess.Popen) -> int:
  """`process.wait()` under the hang guard (the process is killed if it is stuck)."""
  try:
    return process.wait(timeout=HANG_GUARD_S)
  except subprocess.TimeoutExpired as error:
    process.kill()
    process.wait()
    raise AssertionError(message(f"the process {process.args}")) from error


def wait_until(condition, what: str, poll_s: float = 0.01) -> None:
  """Polls `condition()` until it is true; fails with `message(what)` after `HANG_GUARD_S`."""
  deadline = time.monotonic() + HANG_GUARD_S
  while not condition():
    if time.monotonic() > deadline:
      raise AssertionError(message(what))
    time.sleep(poll_s)
