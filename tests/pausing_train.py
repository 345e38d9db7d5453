"""`scripts/train.py` that stops dead at one chosen point, so that a test's SIGKILL lands exactly
there whatever the speed of the machine (tests/test_recovery.py).

JAXGEN_TEST_PAUSE_AT names the point; on reaching it the process writes the file named by
JAXGEN_TEST_PAUSE_MARKER (atomically; its text says where it stopped) and then sleeps until it is
killed. Without JAXGEN_TEST_PAUSE_AT this is scripts/train.py. The points:

  import   jaxgen.run.train is imported (jax, flax, orbax and every jaxgen module); nothing
           parsed or written yet.
  restore  start-up, in `Checkpointer.restore_latest`, before it reads anything: the config is
           checked and recorded, the data set and model built, the initial state computed, and
           orbax's manager has removed the temporary folders of saves killed earlier.
  step:N   between steps: right after the training record of step N is written to
           metrics.jsonl (the loop logs a step after it has dispatched the next one).
  eval:N   right after the evaluation of step N (its samples PNG is written; its scores are not
           yet logged and checkpoint N not yet started).
  save:N   mid-save: in orbax's background commit of checkpoint N, after its data is written and
           before its temporary folder `N.orbax-checkpoint-tmp*` is renamed to `N`. The training
           thread goes on until it next waits for that save.

A point that can no longer be patched (jaxgen or orbax renamed what is wrapped) stops the process
with exit status 97 and a message, before anything is trained: the test must not quietly stop
killing where it says it does.
"""

import functools
import os
import sys
import threading
import time
from pathlib import Path

PAUSE_AT = os.environ.get("JAXGEN_TEST_PAUSE_AT", "")
MARKER = os.environ.get("JAXGEN_TEST_PAUSE_MARKER", "")
BROKEN_HOOK_STATUS = 97


def pause(where: str) -> None:
  """Writes the marker, then blocks the calling thread until the process is killed."""
  partial = Path(f"{MARKER}.partial")
  partial.write_text(f"{where} (pid {os.getpid()}, thread {threading.current_thread().name})\n")
  os.replace(partial, MARKER)  # the test never reads half a marker
  while True:
    time.sleep(3600)


def broken_hook(what: str, error: Exception) -> None:
  print(
    f"pausing_train.py: cannot install the pause point {PAUSE_AT!r}: {what} ({error!r}). "
    "Update tests/pausing_train.py to the installed jaxgen/orbax.",
    file=sys.stderr,
    flush=True,
  )
  raise SystemExit(BROKEN_HOOK_STATUS)


def wrap(owner, name: str, make_wrapper) -> None:
  """Replaces `owner.name` by `make_wrapper(original)`."""
  original = getattr(owner, name, None)
  if original is None:
    broken_hook(f"{owner.__module__}.{owner.__qualname__}.{name} does not exist", LookupError(name))
  setattr(owner, name, functools.wraps(original)(make_wrapper(original)))


def install(point: str) -> None:
  kind, _, argument = point.partition(":")
  step = int(argument) if argument else None
  if (kind in ("step", "eval", "save")) != (step is not None) or kind not in (
    "import",
    "restore",
    "step",
    "eval",
    "save",
  ):
    broken_hook("not a pause point (import, restore, step:N, eval:N, save:N)", ValueError(point))
  if kind == "import":
    pause(point)
  if kind == "restore":
    from jaxgen.run import checkpoint  # noqa: PLC0415

    def make(original):
      def restore_latest(self, state_like):
        pause(point)
        return original(self, state_like)

      return restore_latest

    wrap(checkpoint.Checkpointer, "restore_latest", make)
  elif kind == "step":
    from jaxgen.run import metrics_log  # noqa: PLC0415

    def make(original):
      def write(self, logged_step, scalars):
        original(self, logged_step, scalars)
        if logged_step == step and not any(key.startswith("eval/") for key in scalars):
          pause(point)

      return write

    wrap(metrics_log.MetricsLog, "write", make)
  elif kind == "eval":
    from jaxgen.run import evaluation  # noqa: PLC0415

    def make(original):
      def call(self, state, evaluated_step, workdir):
        results = original(self, state, evaluated_step, workdir)
        if evaluated_step == step:
          pause(point)
        return results

      return call

    wrap(evaluation.Evaluator, "__call__", make)
  elif kind == "save":
    try:  # where orbax 0.12 commits a checkpoint on a local disk: the rename of its tmp folder
      from orbax.checkpoint._src.path import atomicity  # noqa: PLC0415

      owner = atomicity.AtomicRenameTemporaryPath
    except (ImportError, AttributeError) as error:
      broken_hook("orbax has no atomicity.AtomicRenameTemporaryPath", error)

    def make(original):
      async def finalize(self, *args, **kwargs):
        final = Path(self.get_final())
        if final.name == str(step):
          temporary = Path(self.get())
          if not temporary.is_dir():
            broken_hook(f"the temporary folder {temporary} of the save is not there", OSError())
          pause(f"{point} {temporary}")
        return await original(self, *args, **kwargs)

      return finalize

    wrap(owner, "finalize", make)


if __name__ == "__main__":
  from jaxgen.run import train

  if PAUSE_AT:
    if not MARKER:
      broken_hook("JAXGEN_TEST_PAUSE_MARKER is not set", KeyError("JAXGEN_TEST_PAUSE_MARKER"))
    install(PAUSE_AT)
  train.main()
