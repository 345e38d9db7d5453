"""A thin layer over orbax: save every N steps, keep the last K, resume from a workdir; a run is
never lost to a kill, a bad value, a full disk or a flipped bit.

Guarantees:

* `config.json` (the config of the run, so that a re-run with a different config in the same
  workdir is refused instead of silently mixing two experiments) is written atomically and only
  when its content changes: a kill at any moment leaves the old or the new file. A 0-byte file
  (left by versions before this one) counts as absent; a damaged one is a `ConfigError` that says
  what to do.
* Every checkpoint `<workdir>/checkpoints/<step>/` holds the train state (`state/`) and its digest
  (`digest/`): sha256 over each leaf's key path, dtype, shape and bytes, in tree order. Both items
  are written in the same orbax commit (a temporary folder renamed at the end), so a checkpoint
  either has both or does not exist.
* `restore_latest` reads steps newest first and checks each against its digest. A step that cannot
  be read or does not match is moved (never deleted) to `<workdir>/checkpoints_corrupt/<step>`,
  with a one-line warning, and the next older one is tried. A checkpoint written for a different
  model (other leaves, shapes or dtypes) is refused with a `CheckpointError` and nothing is moved.
* Checkpoints written before digests existed (a `default/` item instead of `state/` + `digest/`)
  are restored as before and reported as "unverified (no digest)" in a warning: nothing can prove
  them right, but refusing them would throw away every run started with an older jaxgen.
* A failed save (e.g. a full disk) raises one `CheckpointError` whose message is a single line:
  the cause, then the advice. It is raised by the first of `check_for_errors()` (a cheap poll the
  loop calls after every step), `wait()`, `save()` or `close()` that sees it, and only once. The
  previous checkpoint stays intact: orbax removes old steps (`keep`) only after the new one has
  committed, the failed step's temporary folder is removed (best effort) and `latest_step()`
  never reports the failed step.
* Orbax's own tracebacks for these failures (hundreds of lines: ERROR records of orbax through
  absl, asyncio's "exception was never retrieved", "Exception ignored" reports of its abandoned
  coroutines) are kept off stderr from the first `Checkpointer` on; they go to the DEBUG level of
  the `jaxgen.checkpoint` logger, and the original exception is chained to ours.

The digest costs one host copy and one sha256 pass of the state per save and per restore (about
10 ms for 10 MB on one CPU core), computed in the calling thread: the loop donates the state's
buffers to the next step, so they cannot be read later in the background.
"""

from __future__ import annotations

import errno
import gc
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxgen.errors import CheckpointError, ConfigError
from jaxgen.files import write_text_if_changed

log = logging.getLogger(__name__)

# Keys that may change between a run and its resumption without making it a different experiment.
RESUMABLE_KEYS = frozenset(
  {"num_steps", "eval_every", "checkpoint_every", "log_every", "keep_checkpoints", "progress_bar"}
  | {"steps_per_call"}  # how steps are batched into calls: the same steps, the same batches
  | {"cpu_dot_fusion"}  # how XLA:CPU computes the same dots: float32 rounding only
)

# Keys added to the config after runs were recorded without them: a record that lacks one ran
# with this value (so such workdirs still resume).
ADDED_KEY_DEFAULTS = {
  "precision": "float32",
  "algorithm.generator_reuses_fakes": False,
  "cpu_dot_fusion": "default",
  "algorithm.noise_prior": "normal",  # InfoGAN's z prior before it became an option
  "algorithm.q_hidden": 0,  # InfoGAN's Q head before it became an option: linear
  # BEGAN updated both players in one phase before the key existed.
  "algorithm.updates": lambda flat: (
    "simultaneous" if flat.get("algorithm.name") == "began" else "alternating"
  ),
}


def _with_added_defaults(flat: dict[str, Any]) -> dict[str, Any]:
  added = {k: v(flat) if callable(v) else v for k, v in ADDED_KEY_DEFAULTS.items()}
  return {**added, **flat}


DIGEST_FORMAT = 1
_STATE, _DIGEST, _LEGACY = "state", "digest", "default"  # item folders inside a step folder
_TMP_SUFFIX = ".orbax-checkpoint-tmp"  # orbax writes `<step>.orbax-checkpoint-tmp`, then renames


# --- config.json ---------------------------------------------------------------------------------


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
  if isinstance(tree, dict):
    flat = {}
    for key, value in tree.items():
      flat.update(_flatten(value, f"{prefix}{key}."))
    return flat
  return {prefix[:-1]: tree}


def check_config_matches(workdir: str | Path, config_json: str) -> None:
  """Records the run's config in `workdir/config.json`; refuses a workdir of a different
  experiment (keys outside `RESUMABLE_KEYS` differ) with a `ConfigError` (a `ValueError`)."""
  path = Path(workdir) / "config.json"
  saved = read_config_record(path)
  if saved is not None:
    flat_saved = _with_added_defaults(_flatten(saved))
    flat_current = _with_added_defaults(_flatten(json.loads(config_json)))
    differing = sorted(
      key
      for key in flat_saved.keys() | flat_current.keys()
      if key.split(".")[0] not in RESUMABLE_KEYS and flat_saved.get(key) != flat_current.get(key)
    )
    if differing:
      details = ", ".join(
        f"{k}: {flat_saved.get(k)!r} -> {flat_current.get(k)!r}" for k in differing[:8]
      )
      raise ConfigError(
        f"The workdir {workdir} holds a run of a different config ({details}). "
        "Use a new --workdir, or delete this one to start over."
      )
  # Unchanged content is not rewritten, so a kill during a restart cannot touch the file; a
  # change (e.g. a longer num_steps) is recorded atomically. Every process checks; process 0
  # alone writes (processes of a multi-process run share the workdir).
  if jax.process_index() == 0:
    write_text_if_changed(path, config_json)


def read_config_record(path: Path) -> dict | None:
  """The config recorded in `path`, or None if there is none yet."""
  try:
    content = path.read_bytes()
  except FileNotFoundError:
    return None
  if not content.strip():
    # Versions before atomic writes left a 0-byte file when killed at start-up.
    log.warning("%s is empty (left by an interrupted start); recording the current config.", path)
    return None
  try:
    saved = json.loads(content.decode())
    problem = None if isinstance(saved, dict) else "is not a JSON object"
  except UnicodeDecodeError:
    problem = "is not text"
  except ValueError as error:
    problem = f"is not valid JSON ({error})"
  if problem:
    raise ConfigError(
      f"{path} {problem}, so the config of the run in this workdir is unknown. Delete "
      f"{path.name} to record the current config (the checkpoints are kept), or use a new "
      "--workdir."
    )
  return saved


# --- digests -------------------------------------------------------------------------------------


def _is_key(dtype) -> bool:
  return jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _spec(tree: Any) -> list[list]:
  """[key path, dtype, shape] of each leaf in tree order; typed PRNG keys as their key data."""
  spec = []
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    # Key paths, not `str(treedef)`: a treedef's text may hold static fields such as function
    # reprs with memory addresses, which differ between processes.
    name = jax.tree_util.keystr(path)
    dtype = getattr(leaf, "dtype", None)
    if dtype is not None and _is_key(dtype):
      # The key impl stays in the dtype ("key<fry>"): other impls are another state.
      shape = jax.eval_shape(jax.random.key_data, leaf).shape
    else:
      shape = np.shape(leaf)
      dtype = dtype if dtype is not None else np.asarray(leaf).dtype
    spec.append([name, str(dtype), [int(n) for n in shape]])
  return spec


def _host_copy(leaf: Any, name: str) -> np.ndarray:
  if _is_key(getattr(leaf, "dtype", np.float32)):
    leaf = jax.random.key_data(leaf)
  if not isinstance(leaf, jax.Array) or leaf.is_fully_addressable:
    return np.asarray(jax.device_get(leaf))
  if leaf.is_fully_replicated:  # multi-host: every process holds the whole value
    return np.asarray(leaf.addressable_data(0))
  raise CheckpointError(
    f"Cannot compute the checkpoint digest: the leaf {name} is sharded across processes, and "
    "jaxgen checksums only train states whose arrays are fully replicated."
  )


def _spec_hash(spec: list[list]) -> str:
  return hashlib.sha256(json.dumps(spec).encode()).hexdigest()


def state_digest(state: Any) -> dict[str, Any]:
  """The digest stored with a checkpoint: {"format", "sha256", "leaves", "leaves_sha256"}.

  `sha256` covers the leaf list (key path, dtype, shape of each leaf) and then each leaf's bytes
  in tree order; `leaves_sha256` covers the list alone, so that a damaged digest file is told
  apart from a checkpoint of a different model.
  """
  spec = _spec(state)
  digest = hashlib.sha256(json.dumps(spec).encode())
  flat = jax.tree_util.tree_flatten_with_path(state)[0]
  for (path, leaf), (_, _, shape) in zip(flat, spec, strict=True):
    host = _host_copy(leaf, jax.tree_util.keystr(path))
    if list(host.shape) != shape:  # e.g. a leaf the spec saw as a Python scalar
      raise CheckpointError(f"The leaf {jax.tree_util.keystr(path)} changed shape while hashed.")
    digest.update(np.ascontiguousarray(host).reshape(-1).view(np.uint8).data)  # bytes, no copy
  return {
    "format": DIGEST_FORMAT,
    "sha256": digest.hexdigest(),
    "leaves": spec,
    "leaves_sha256": _spec_hash(spec),
  }


def _matches_digest(state: Any, stored: dict[str, Any]) -> bool:
  """Whether `state` (as read from a checkpoint) is what was saved with the digest `stored`."""
  return state_digest(state)["sha256"] == stored["sha256"]


def _stored_digest_problem(stored: Any) -> str | None:
  """Why a digest record read from disk is unusable, or None."""
  if not isinstance(stored, dict) or stored.get("format") != DIGEST_FORMAT:
    return f"its digest record is not jaxgen digest format {DIGEST_FORMAT}"
  if not isinstance(stored.get("sha256"), str) or not isinstance(stored.get("leaves"), list):
    return "its digest record is incomplete"
  if _spec_hash(stored["leaves"]) != stored.get("leaves_sha256"):
    return "its digest record is damaged (the leaf list does not match its checksum)"
  return None


# --- keeping orbax's tracebacks off stderr -------------------------------------------------------


def _from_orbax(filename: str | None) -> bool:
  return bool(filename) and f"{os.sep}orbax{os.sep}" in filename


def _involves_orbax(error: BaseException | None) -> bool:
  """Whether orbax code is on the traceback of `error` or of an exception it was chained to, or
  the error names a folder orbax is writing (tensorstore's errors carry no Python traceback)."""
  for cause in _causes(error):
    if _TMP_SUFFIX in str(cause):
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


def _quiet_orbax() -> None:
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


def _one_line(error: BaseException, limit: int = 200) -> str:
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


def _is_disk_full(error: BaseException) -> bool:
  return _one_line(error) in (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))


# --- the checkpointer ----------------------------------------------------------------------------


class RestoreResult(NamedTuple):
  """What `Checkpointer.restore_latest` found."""

  state: Any  # the restored train state; None when the workdir has no checkpoint
  step: int | None
  set_aside: list[tuple[int, str, Path]]  # (step, reason, where its folder now is)


class _Unusable(Exception):  # noqa: N818 — internal: a step whose files fail; carries the reason
  pass


class Checkpointer:
  """Saves and restores the train state under `workdir/checkpoints` (see the module docstring)."""

  def __init__(self, workdir: str | Path, keep: int = 3, *, read_only: bool = False):
    """`read_only`: a reader beside a run that may be training (evaluation, sampling): it removes
    no temporary folder of a save in flight, saves nothing and moves nothing."""
    if keep < 1:
      raise ValueError(f"keep_checkpoints must be >= 1; got {keep}.")
    self.directory = Path(workdir).absolute() / "checkpoints"
    self.corrupt_directory = self.directory.parent / "checkpoints_corrupt"
    self._keep = keep
    self.read_only = read_only
    self._pending: int | None = None  # the step of the save in flight
    self._failure: CheckpointError | None = None  # a failed save not yet raised
    _quiet_orbax()
    self.manager = self._new_manager()
    self._closed = False

  def _new_manager(self) -> ocp.CheckpointManager:
    return ocp.CheckpointManager(
      self.directory,
      options=ocp.CheckpointManagerOptions(
        max_to_keep=self._keep,
        create=False,  # made by the first save: a failed restore leaves no empty folder behind
        # A killed save leaves its temporary folder; it holds nothing a later run can use. Only
        # the workdir's writer (it holds the workdir's lock) may remove it: a reader's removal
        # would destroy the save in flight of the run it reads.
        cleanup_tmp_directories=not self.read_only,
      ),
      item_names=(_STATE, _DIGEST),
    )

  # --- saving ------------------------------------------------------------------------------------

  def latest_step(self) -> int | None:
    """The newest committed checkpoint; a save still in flight is not counted."""
    self._poll()
    steps = [s for s in self.manager.all_steps() if s != self._pending]
    return max(steps, default=None)

  def save(self, step: int, state: Any) -> None:
    """Starts writing `state` as checkpoint `step` in the background (the digest is computed
    now, on the host, because the loop donates the state's buffers to the next step). Raises the
    failure of an earlier save that has not been raised yet."""
    if self.read_only:
      raise CheckpointError(
        f"This checkpointer of {self.directory} is read-only; it saves nothing."
      )
    self.wait()  # orbax waits for the previous save anyway; this reports its failure as ours
    digest = state_digest(state)
    args = ocp.args.Composite(
      **{_STATE: ocp.args.StandardSave(state), _DIGEST: ocp.args.JsonSave(digest)}
    )
    try:
      started = self.manager.save(step, args=args)
    except Exception as error:
      raise self._failed_save(step, error) from error
    if started:  # orbax skips steps <= the latest one
      self._pending = step

  def check_for_errors(self) -> None:
    """Raises `CheckpointError` if a background save has failed; never blocks on a save."""
    self._poll()
    self._raise_failure()

  def wait(self) -> None:
    """Blocks until the save in flight is committed; raises `CheckpointError` if it failed."""
    if self._pending is not None:
      self._finish()
    self._raise_failure()

  def close(self) -> None:
    """Waits for the save in flight (raising its failure, if not raised yet) and closes orbax's
    manager; idempotent."""
    if self._closed:
      return
    try:
      self.wait()
    finally:
      self._closed = True
      self.manager.close()

  def _poll(self) -> None:
    # `is_saving_in_progress` only reads a flag that orbax's finalize thread clears when done.
    if self._pending is not None and not self.manager.is_saving_in_progress():
      self._finish()

  def _finish(self) -> None:
    step, self._pending = self._pending, None
    try:
      self.manager.wait_until_finished()
    except Exception as error:
      failure = self._failed_save(step, error)
      failure.__cause__ = error
      self._failure = failure

  def _raise_failure(self) -> None:
    if self._failure is not None:
      failure, self._failure = self._failure, None
      raise failure

  def _failed_save(self, step: int, error: BaseException) -> CheckpointError:
    """Cleans up after a failed save of `step`; returns the error to raise."""
    # A failed save leaves errors in several orbax parts (the metadata writer, the commit thread),
    # each raised once by a later call, and the commit thread may still be writing. Closing the
    # manager joins and drains them all; a fresh one then reads the steps from disk (orbax drops
    # old steps from its list before the new one commits).
    for _ in range(4):  # each close() raises at most one leftover error of this failure
      try:
        self.manager.close()
        break
      except Exception as leftover:
        log.debug("Closing the manager after the failed save of step %d: %r", step, leftover)
    try:
      if jax.process_index() == 0:
        _remove_partial_saves(self.directory, step)
    finally:
      self.manager = self._new_manager()
    if step in self.manager.all_steps():  # it failed after its commit: not to be trusted
      self._set_aside(step, f"its save failed: {_one_line(error)}")
      self.manager.reload()
    latest = max(self.manager.all_steps(), default=None)
    intact = f"checkpoint {latest} is intact" if latest is not None else "no checkpoint is intact"
    advice = (
      "free disk space (or lower keep_checkpoints)" if _is_disk_full(error) else "fix the cause"
    )
    return CheckpointError(
      f"{_one_line(error)} while writing checkpoint {step} to {self.directory}; {intact}. "
      f"To go on, {advice} and run the same command again."
    )

  # --- restoring ---------------------------------------------------------------------------------

  def restore_latest(self, state_like: Any) -> RestoreResult:
    """Restores the newest checkpoint that reads and matches its digest into the structure,
    shapes and shardings of `state_like`; sets aside the newer ones that do not."""
    self.wait()
    if self.read_only:
      raise CheckpointError(
        "restore_latest sets bad checkpoints aside, which a read-only checkpointer never does; "
        "use restore(), which refuses a bad one."
      )
    set_aside = []
    try:
      for step in sorted(self.manager.all_steps(), reverse=True):
        try:
          return RestoreResult(self._read(step, state_like), step, set_aside)
        except _Unusable as unusable:
          reason = str(unusable)
          where = self._set_aside(step, reason)
          set_aside.append((step, reason, where))
          log.warning(
            "Checkpoint %d %s; moved it to %s and trying an older one.", step, reason, where
          )
    finally:
      if set_aside:
        self.manager.reload()  # later saves and latest_step() must not see the moved folders
    if set_aside:
      listing = "; ".join(f"step {s} {reason} (moved to {where})" for s, reason, where in set_aside)
      raise CheckpointError(
        f"No usable checkpoint in {self.directory}: {listing}. Start a new --workdir, or repair "
        f"or restore those folders and move them back to {self.directory}."
      )
    return RestoreResult(None, None, [])

  def restore(self, state_like: Any, step: int | None = None) -> Any:
    """Restores checkpoint `step` (default: the latest) into the structure, shapes and shardings
    of `state_like`, verified against its digest; raises `CheckpointError` (moving nothing) if
    it is missing, unreadable or does not match."""
    self.wait()
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f"No checkpoint in {self.directory}.")
    if step not in self.manager.all_steps():
      available = ", ".join(map(str, self.manager.all_steps())) or "none"
      raise CheckpointError(
        f"No checkpoint of step {step} in {self.directory} (available: {available})."
      )
    try:
      return self._read(step, state_like)
    except _Unusable as unusable:
      raise CheckpointError(
        f"Checkpoint {step} in {self.directory} {unusable}. Restore another step, or repair or "
        "restore that folder."
      ) from unusable.__cause__

  def _read(self, step: int, state_like: Any) -> Any:
    """The state of `step`, verified; `_Unusable` if its files fail, `CheckpointError` if it was
    written for a different model."""
    folder = self.directory / str(step)
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_like)
    if not (folder / _DIGEST).exists() and (folder / _LEGACY).is_dir():

      def read_legacy():
        with ocp.StandardCheckpointer() as reader:
          return reader.restore(folder / _LEGACY, abstract)

      state = self._read_item(read_legacy, "its files")
      log.warning(
        "Checkpoint %d was restored unverified (no digest): it was written by a jaxgen version "
        "before digests.",
        step,
      )
      return state
    if not (folder / _DIGEST).exists():
      raise _Unusable("has no digest (its digest folder is missing)")
    stored = self._read_item(
      lambda: self.manager.restore(step, args=ocp.args.Composite(digest=ocp.args.JsonRestore())),
      "its digest",
    )[_DIGEST]
    problem = _stored_digest_problem(stored)
    if problem:
      raise _Unusable(problem)
    expected = _spec(state_like)
    if stored["leaves"] != expected:
      raise CheckpointError(_different_model(step, self.directory, stored["leaves"], expected))
    restored = self._read_item(
      lambda: self.manager.restore(
        step, args=ocp.args.Composite(**{_STATE: ocp.args.StandardRestore(abstract)})
      ),
      "its files",
    )[_STATE]
    if not _matches_digest(restored, stored):
      raise _Unusable("does not match its digest (its data changed after it was written)")
    return restored

  def _read_item(self, read, what: str):
    try:
      return read()
    except (MemoryError, CheckpointError):
      raise  # not a property of the files
    except Exception as error:
      gc.collect()  # orbax's abandoned coroutines report "Exception ignored" now, to our hook
      raise _Unusable(f"cannot be read ({what}: {_one_line(error)})") from error

  def _set_aside(self, step: int, reason: str) -> Path:
    """Moves the folder of `step` to `checkpoints_corrupt/<step>[.n]`, with a note of why."""
    target = self.corrupt_directory / str(step)
    suffix = 1
    while target.exists() or target.with_name(target.name + ".txt").exists():
      target, suffix = self.corrupt_directory / f"{step}.{suffix}", suffix + 1
    _sync_processes(f"jaxgen chose where to set aside checkpoint {step}")  # one name for all
    if jax.process_index() == 0:  # one process moves; the others see it on the shared disk
      self.corrupt_directory.mkdir(parents=True, exist_ok=True)
      shutil.move(self.directory / str(step), target)  # a rename; copies across file systems
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


def _remove_partial_saves(directory: Path, step: int) -> None:
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
    partials = list(directory.glob(f"{step}{_TMP_SUFFIX}*"))
    if not partials:
      return
    for partial in partials:
      shutil.rmtree(partial, ignore_errors=True)
    time.sleep(0.05)


def _different_model(step: int, directory: Path, saved: list, current: list) -> str:
  saved_by, current_by = {s[0]: s[1:] for s in saved}, {c[0]: c[1:] for c in current}
  differing = [
    k for k in dict.fromkeys([*saved_by, *current_by]) if saved_by.get(k) != current_by.get(k)
  ]

  def describe(entry):
    return "absent" if entry is None else f"{entry[0]}{entry[1]}"

  details = ", ".join(
    f"{k}: {describe(saved_by.get(k))} -> {describe(current_by.get(k))}" for k in differing[:4]
  )
  more = f" and {len(differing) - 4} more" if len(differing) > 4 else ""
  return (
    f"Checkpoint {step} in {directory} was written for a different model ({details}{more}). "
    "Use a new --workdir, or the code and config that wrote it."
  )
