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
  the `jaxgen.run.checkpoint` logger, and the original exception is chained to ours.

Here: the config record and `Checkpointer`. Beside it: `jaxgen.run.checkpoint_digest` (the digest
and its cost), `jaxgen.run.checkpoint_steps` (the step folders: reading one verified, falling back
past bad ones, setting them aside, cleaning up after a failed save) and
`jaxgen.run.checkpoint_orbax` (orbax's failures in one line); all of them log through the
`jaxgen.run.checkpoint` logger.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from jaxgen.errors import CheckpointError, ConfigError
from jaxgen.run.checkpoint_digest import state_digest
from jaxgen.run.checkpoint_orbax import is_disk_full, one_line, quiet_orbax
from jaxgen.run.checkpoint_steps import (
  DIGEST,
  STATE,
  RestoreResult,
  Unusable,
  close_after_failed_save,
  open_manager,
  read_step,
  remove_partial_saves,
  restore_newest,
  set_aside,
)
from jaxgen.run.files import write_text_if_changed

log = logging.getLogger(__name__)

# Keys that may change between a run and its resumption without making it a different experiment.
RESUMABLE_KEYS = frozenset(
  {"num_steps", "eval_every", "checkpoint_every", "log_every", "keep_checkpoints", "progress_bar"}
  | {"steps_per_call"}  # how steps are batched into calls: the same steps, the same batches
  | {"cpu_dot_fusion"}  # how XLA:CPU computes the same dots: float32 rounding only
  # What an evaluation measures, not what is trained: every record names its evaluators and
  # feature space, so records measured differently are told apart.
  | {"eval"}
)

# Keys added to the config after runs were recorded without them: a record that lacks one ran
# with this value (so such workdirs still resume).
ADDED_KEY_DEFAULTS = {
  "precision": "float32",
  "algorithm.generator_reuses_fakes": False,
  "cpu_dot_fusion": "default",
  "imports": [],  # no user modules before `imports` existed (config.json holds lists)
  "algorithm.noise_prior": "normal",  # InfoGAN's z prior before it became an option
  "algorithm.q_hidden": 0,  # InfoGAN's Q head before it became an option: linear
  # BEGAN updated both players in one phase before the key existed.
  "algorithm.updates": lambda flat: (
    "simultaneous" if flat.get("algorithm.name") == "began" else "alternating"
  ),
  # Before configs named their evaluators: the algorithm's own, else chosen by the data's shape.
  "eval.evaluators": lambda flat: _evaluators_recorded_before(flat),
}


def _evaluators_recorded_before(flat: dict[str, Any]):
  from jaxgen import evaluators  # noqa: PLC0415 — the evaluators import the algorithms and data

  return evaluators.recorded_before_names(flat)


def _with_added_defaults(flat: dict[str, Any]) -> dict[str, Any]:
  added = {k: v(flat) if callable(v) else v for k, v in ADDED_KEY_DEFAULTS.items()}
  return {**added, **flat}


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


# --- the checkpointer ----------------------------------------------------------------------------


class Checkpointer:
  """Saves and restores the train state under `workdir/checkpoints` (see the module docstring);
  the step folders are read, verified and set aside by `jaxgen.run.checkpoint_steps`."""

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
    quiet_orbax()
    self.manager = open_manager(self.directory, self._keep, self.read_only)
    self._closed = False

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
      **{STATE: ocp.args.StandardSave(state), DIGEST: ocp.args.JsonSave(digest)}
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
    close_after_failed_save(self.manager, step)
    try:
      if jax.process_index() == 0:
        remove_partial_saves(self.directory, step)
    finally:
      self.manager = open_manager(self.directory, self._keep, self.read_only)
    if step in self.manager.all_steps():  # it failed after its commit: not to be trusted
      set_aside(self.directory, self.corrupt_directory, step, f"its save failed: {one_line(error)}")
      self.manager.reload()
    latest = max(self.manager.all_steps(), default=None)
    intact = f"checkpoint {latest} is intact" if latest is not None else "no checkpoint is intact"
    advice = (
      "free disk space (or lower keep_checkpoints)" if is_disk_full(error) else "fix the cause"
    )
    return CheckpointError(
      f"{one_line(error)} while writing checkpoint {step} to {self.directory}; {intact}. "
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
    return restore_newest(self.manager, self.directory, self.corrupt_directory, state_like)

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
      return read_step(self.manager, self.directory, step, state_like)
    except Unusable as unusable:
      raise CheckpointError(
        f"Checkpoint {step} in {self.directory} {unusable}. Restore another step, or repair or "
        "restore that folder."
      ) from unusable.__cause__
