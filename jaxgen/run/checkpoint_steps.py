"""The step folders `<workdir>/checkpoints/<step>/` on disk (see `jaxgen.run.checkpoint`): orbax's
manager of them, reading one verified against its digest, falling back from bad ones to the newest
good one while setting them aside, and cleaning up after a failed save.

A step folder holds the train state (`state/`) and its digest (`digest/`), committed together by
orbax; one written before digests existed holds a `default/` item instead.
"""

from __future__ import annotations

import gc
import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import orbax.checkpoint as ocp

from jaxgen.errors import CheckpointError
from jaxgen.run.checkpoint_digest import (
  different_model,
  leaf_spec,
  matches_digest,
  stored_digest_problem,
)
from jaxgen.run.checkpoint_orbax import TMP_SUFFIX, one_line

# The checkpoint layer logs through one logger, whichever of its modules writes the record.
log = logging.getLogger("jaxgen.run.checkpoint")

STATE, DIGEST, LEGACY = "state", "digest", "default"  # item folders inside a step folder


class Unusable(Exception):  # noqa: N818 — a step whose files fail; carries the reason
  """A checkpoint whose files cannot be read or do not match its digest; the message says why, as
  the words that follow "Checkpoint <step>"."""


class RestoreResult(NamedTuple):
  """What `Checkpointer.restore_latest` found."""

  state: Any  # the restored train state; None when the workdir has no checkpoint
  step: int | None
  set_aside: list[tuple[int, str, Path]]  # (step, reason, where its folder now is)


def open_manager(directory: Path, keep: int, read_only: bool) -> ocp.CheckpointManager:
  """Orbax's manager of the step folders under `directory`, keeping the newest `keep`."""
  return ocp.CheckpointManager(
    directory,
    options=ocp.CheckpointManagerOptions(
      max_to_keep=keep,
      create=False,  # made by the first save: a failed restore leaves no empty folder behind
      # A killed save leaves its temporary folder; it holds nothing a later run can use. Only
      # the workdir's writer (it holds the workdir's lock) may remove it: a reader's removal
      # would destroy the save in flight of the run it reads.
      cleanup_tmp_directories=not read_only,
    ),
    item_names=(STATE, DIGEST),
  )


def restore_newest(
  manager: ocp.CheckpointManager, directory: Path, corrupt_directory: Path, state_like: Any
) -> RestoreResult:
  """Reads the steps under `directory` newest first (`read_step`) until one reads and matches its
  digest; moves each newer one that does not to `corrupt_directory` (`set_aside`), with a warning.
  Raises `CheckpointError` when steps exist but none is usable."""
  set_aside_steps = []
  try:
    for step in sorted(manager.all_steps(), reverse=True):
      try:
        return RestoreResult(read_step(manager, directory, step, state_like), step, set_aside_steps)
      except Unusable as unusable:
        reason = str(unusable)
        where = set_aside(directory, corrupt_directory, step, reason)
        set_aside_steps.append((step, reason, where))
        log.warning(
          "Checkpoint %d %s; moved it to %s and trying an older one.", step, reason, where
        )
  finally:
    if set_aside_steps:
      manager.reload()  # later saves and latest_step() must not see the moved folders
  if set_aside_steps:
    listing = "; ".join(f"step {s} {r} (moved to {where})" for s, r, where in set_aside_steps)
    raise CheckpointError(
      f"No usable checkpoint in {directory}: {listing}. Start a new --workdir, or repair "
      f"or restore those folders and move them back to {directory}."
    )
  return RestoreResult(None, None, [])


def read_step(manager: ocp.CheckpointManager, directory: Path, step: int, state_like: Any) -> Any:
  """The state of checkpoint `step` under `directory`, read through `manager` into the structure,
  shapes and shardings of `state_like` and verified against its digest; `Unusable` if its files
  fail, `CheckpointError` if it was written for a different model."""
  folder = directory / str(step)
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_like)
  if not (folder / DIGEST).exists() and (folder / LEGACY).is_dir():
    return _read_legacy(folder / LEGACY, step, abstract)
  if not (folder / DIGEST).exists():
    raise Unusable("has no digest (its digest folder is missing)")
  stored = _read_item(
    lambda: manager.restore(step, args=ocp.args.Composite(digest=ocp.args.JsonRestore())),
    "its digest",
  )[DIGEST]
  problem = stored_digest_problem(stored)
  if problem:
    raise Unusable(problem)
  expected = leaf_spec(state_like)
  if stored["leaves"] != expected:
    raise CheckpointError(different_model(step, directory, stored["leaves"], expected))
  restored = _read_item(
    lambda: manager.restore(
      step, args=ocp.args.Composite(**{STATE: ocp.args.StandardRestore(abstract)})
    ),
    "its files",
  )[STATE]
  if not matches_digest(restored, stored):
    raise Unusable("does not match its digest (its data changed after it was written)")
  return restored


def _read_legacy(item: Path, step: int, abstract: Any) -> Any:
  """The state of a checkpoint written before digests (its `default/` item), unverified."""

  def read():
    with ocp.StandardCheckpointer() as reader:
      return reader.restore(item, abstract)

  state = _read_item(read, "its files")
  log.warning(
    "Checkpoint %d was restored unverified (no digest): it was written by a jaxgen version "
    "before digests.",
    step,
  )
  return state


def _read_item(read: Callable[[], Any], what: str) -> Any:
  try:
    return read()
  except (MemoryError, CheckpointError):
    raise  # not a property of the files
  except Exception as error:
    gc.collect()  # orbax's abandoned coroutines report "Exception ignored" now, to our hook
    raise Unusable(f"cannot be read ({what}: {one_line(error)})") from error


def set_aside(directory: Path, corrupt_directory: Path, step: int, reason: str) -> Path:
  """Moves the folder of `step` from `directory` to `corrupt_directory/<step>[.n]`, with a note of
  why beside it; returns where it now is."""
  target = corrupt_directory / str(step)
  suffix = 1
  while target.exists() or target.with_name(target.name + ".txt").exists():
    target, suffix = corrupt_directory / f"{step}.{suffix}", suffix + 1
  _sync_processes(f"jaxgen chose where to set aside checkpoint {step}")  # one name for all
  if jax.process_index() == 0:  # one process moves; the others see it on the shared disk
    corrupt_directory.mkdir(parents=True, exist_ok=True)
    shutil.move(directory / str(step), target)  # a rename; copies across file systems
    try:
      target.with_name(target.name + ".txt").write_text(f"checkpoint {step} {reason}\n")
    except OSError:  # only a note (the warning says the same); a full disk must not stop us
      log.debug("Could not write the note beside %s", target)
  _sync_processes(f"jaxgen set aside checkpoint {step}")
  return target


def _sync_processes(name: str) -> None:
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # noqa: PLC0415 — multi-host runs only

    multihost_utils.sync_global_devices(name)


def close_after_failed_save(manager: ocp.CheckpointManager, step: int) -> None:
  """Closes `manager` after the failed save of `step`, swallowing the errors it still holds.

  A failed save leaves errors in several orbax parts (the metadata writer, the commit thread),
  each raised once by a later call, and the commit thread may still be writing. Closing the
  manager joins and drains them all; a fresh one then reads the steps from disk (orbax drops old
  steps from its list before the new one commits).
  """
  for _ in range(4):  # each close() raises at most one leftover error of this failure
    try:
      manager.close()
      break
    except Exception as leftover:
      log.debug("Closing the manager after the failed save of step %d: %r", step, leftover)


def remove_partial_saves(directory: Path, step: int) -> None:
  """Removes the uncommitted temporary folder(s) of a failed save of `step`: they hold no
  checkpoint, and removing them frees the space a full disk ran out of.

  Orbax raises the first failed write at once while its other writers (threads of the event loop
  it abandoned) may still create files for a moment, so the folder is removed until it stays
  gone; best effort, as orbax also replaces it when that step is saved again.
  """
  deadline = time.monotonic() + 10.0  # joins every orbax thread, of other managers too: bounded
  for thread in threading.enumerate():
    if type(thread).__module__.startswith("orbax.") and thread is not threading.current_thread():
      # The base class's join: orbax's subclasses re-raise the thread's error from join().
      threading.Thread.join(thread, max(0.0, deadline - time.monotonic()))
  for _ in range(20):
    partials = list(directory.glob(f"{step}{TMP_SUFFIX}*"))
    if not partials:
      return
    for partial in partials:
      shutil.rmtree(partial, ignore_errors=True)
    time.sleep(0.05)
