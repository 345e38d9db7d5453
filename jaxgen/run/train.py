"""ONE training loop for every algorithm: `train_and_evaluate(config, workdir)`.

The loop knows about the host, the devices and the files; the algorithm knows its players. A step:
the batches of step t (one per schedule phase, a pure function of (seed, t)) are placed sharded on
the devices, the jitted train step of the step's stage (`Run.train_step_at`) updates every player,
and the host logs the metrics of the *previous* step so it never waits on the device. Re-running
the same command resumes from the latest checkpoint in the workdir and sees exactly the batches an
uninterrupted run would.

`config.steps_per_call = N` runs N whole train steps in one compiled call (a `lax.scan` over the
train step, for small models where per-call dispatch dominates). Calls start at multiples of N, so
every step runs the same way (in a scan, or alone) whether or not the run was resumed, and
evaluation, checkpoints (their steps are multiples of N) and the NaN stop land on exact steps.

The command lines: `jaxgen train` (`jaxgen.cli`) and `jaxgen-train` (`main` here) both run
`train_command`; a trained run comes back with `jaxgen.load` (`jaxgen.run.load`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import jax
import ml_collections
import numpy as np

from jaxgen import algorithms, configs, data, evaluators
from jaxgen.algorithms.base import TrainState, init_train_state, make_train_step, update_names
from jaxgen.data.base import handed_data
from jaxgen.errors import CheckpointError, ConfigError, WorkdirInUseError
from jaxgen.run import checkpoint, config_check, parallel, plots, stops
from jaxgen.run.evaluation import Evaluator
from jaxgen.run.metrics_log import MetricsLog
from jaxgen.run.progress import Progress, announce
from jaxgen.run.stops import Interrupted, NonFiniteError
from jaxgen.run.workdir import WorkdirLock, check_workdir

__all__ = [
  "COMPILATION_CACHE",
  "EXIT_STATUSES",
  "Interrupted",
  "NonFiniteError",
  "Run",
  "enable_compilation_cache",
  "fail",
  "main",
  "phase_batches",
  "recorded_config",
  "restore_state",
  "stack_batches",
  "train_and_evaluate",
  "train_command",
]


def phase_batches(
  dataset, config, step: int, num_phases: int, *, seed: int | None = None
) -> dict[str, np.ndarray]:
  """The host-local batches of train step `step`: one per phase, stacked on a leading axis.

  `seed` replaces `config.seed`, for callers that train several seeds of one config at once.
  """
  per_phase = [
    dataset.batch(
      config.seed if seed is None else seed,
      step * num_phases + phase,
      config.batch_size,
      process_index=jax.process_index(),
      process_count=jax.process_count(),
    )
    for phase in range(num_phases)
  ]
  return stack_batches(per_phase)


def stack_batches(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
  """Batches of the same keys stacked along a new leading axis."""
  return {key: np.stack([b[key] for b in batches]) for key in batches[0]}


class Run:
  """The pieces of one run, built from a config (a ConfigDict, a config name such as
  "gan_ring8", or a config file's path); usable from a notebook step by step."""

  def __init__(self, config, devices=None):
    """Checks `config` and builds the data set, algorithm, evaluators and mesh (over `devices`,
    default: all); reads no data and compiles nothing yet."""
    config = configs.load(config)
    config_check.check_config(config)  # every value, before any data is read or step taken
    self.config = config
    self.dataset = data.get(config.data.name, **dict(config.data.get("options", {})))
    # The algorithm gets the data's facts and the points it may hold, never the data set.
    handed = handed_data(self.dataset, config.seed, config.batch_size)
    self.algorithm = algorithms.get(config.algorithm.name)(config, handed)
    # What each evaluation runs (`jaxgen.evaluators`), checked against the algorithm and the data.
    self.evaluations = evaluators.configured(config, self.algorithm, self.dataset)
    self.mesh = parallel.make_mesh(devices)
    parallel.check_batch_size(config.batch_size, self.mesh)
    self.num_phases = len(self.algorithm.schedule)
    self.steps_per_call = config.get("steps_per_call", 1)
    # (stage, steps in one call) -> its jitted train step(s), built on first use
    self._train_steps: dict[tuple[int, int], Any] = {}
    self._samplers: dict[int, Any] = {}

  def train_step_at(self, step: int, count: int = 1):
    """The jitted function running `count` train steps from step `step`, all of the stage
    `algorithm.stage(step)`: one compilation per stage (a growing network's resolution) and
    count, whatever traced values (alpha) change within it. With `count` > 1 the batches carry a
    leading axis of steps and the metrics come back stacked along it."""
    stage = self.algorithm.stage(step)
    if (stage, count) not in self._train_steps:
      replicated = parallel.replicated(self.mesh)
      train_step = make_train_step(self.algorithm.at_stage(stage))
      if count > 1:
        # A rolled loop: fine around MLP steps, 22-24x slower around a conv backward on XLA:CPU
        # (../shared/reference/measured-cpu.md), hence a config switch and not the default.
        train_step = functools.partial(jax.lax.scan, train_step)
      leading_axes = 1 if count == 1 else 2  # (steps,) phases, batch
      self._train_steps[stage, count] = jax.jit(
        train_step,
        in_shardings=(replicated, parallel.batch_sharding(self.mesh, leading_axes)),
        out_shardings=(replicated, replicated),
        donate_argnums=0,
        compiler_options=parallel.compiler_options(
          self.config.get("cpu_dot_fusion", "default"), self.mesh
        ),
      )
    return self._train_steps[stage, count]

  @property
  def compiled_stages(self) -> list[int]:
    """The stages whose train step has been compiled so far."""
    return sorted({stage for stage, _ in self._train_steps})

  def steps_in_call(self, step: int) -> int:
    """How many steps the loop's call at `step` runs: `steps_per_call` from a multiple of it when
    they all lie before `num_steps` and in one stage, else 1 (a resumed run that stopped between
    multiples takes single steps up to the next one)."""
    count = self.steps_per_call
    if count == 1 or step % count or step + count > self.config.num_steps:
      return 1
    stage = self.algorithm.stage(step)
    if any(self.algorithm.stage(s) != stage for s in range(step + 1, step + count)):
      return 1
    return count

  def call_batches(self, step: int, count: int):
    """The host batches of the call running steps `step` .. `step + count - 1`."""
    steps = range(step, step + count)
    batches = [phase_batches(self.dataset, self.config, s, self.num_phases) for s in steps]
    return batches[0] if count == 1 else stack_batches(batches)

  @property
  def train_step(self):
    """The jitted train step of step 0's stage (every step's, for an algorithm without stages)."""
    return self.train_step_at(0)

  def batches(self, step: int):
    """The host batches of train step `step`, one per schedule phase (`phase_batches`)."""
    return phase_batches(self.dataset, self.config, step, self.num_phases)

  def init_state(self) -> TrainState:
    """The state before step 0: every player's params and optimizer state from `config.seed`."""
    first = jax.tree.map(lambda x: x[0], self.batches(0))
    init = jax.jit(
      lambda rng, batch: init_train_state(self.algorithm, rng, batch),
      out_shardings=parallel.replicated(self.mesh),
    )
    return init(jax.random.key(self.config.seed), first)

  def step(self, state: TrainState, step: int):
    """Train step `step` (0-based) on its batches: (the state after it, its metrics by
    "<player>/<name>"). The state is donated: use the returned one. Step from `state.step` on, in
    order, for the run the loop would train."""
    return self.call(state, step, 1)

  def call(self, state: TrainState, step: int, count: int, batches=None):
    """Runs steps `step` .. `step + count - 1` in one compiled call (count from `steps_in_call`,
    or 1); the metrics come back stacked along a leading axis of steps when count > 1. `batches`:
    the call's host batches when already read (`call_batches`); they are placed on the mesh here,
    the one place that does it."""
    if batches is None:
      batches = self.call_batches(step, count)
    leading_axes = 1 if count == 1 else 2  # (steps,) phases, batch
    batches = parallel.put_batch(batches, self.mesh, leading_axes)
    return self.train_step_at(step, count)(state, batches)

  def sample(self, state: TrainState, num: int, seed: int = 0) -> np.ndarray:
    """`num` samples at the stage of the state's step (reads `state.step`: a device sync), given
    the held-out arrays the algorithm's `sample` takes (`sample_inputs`), as the networks give
    them: images roughly in [-1, 1], not clipped (`jaxgen.sample` gives uint8 pixels)."""
    stage = self.algorithm.stage(int(state.step))
    if stage not in self._samplers:
      sample = self.algorithm.at_stage(stage).sample
      replicated = parallel.replicated(self.mesh)
      self._samplers[stage] = jax.jit(sample, static_argnums=2, out_shardings=replicated)
    key = jax.random.key(seed)
    return np.asarray(self._samplers[stage](state, key, num, **self.sample_inputs))

  @functools.cached_property
  def sample_inputs(self) -> dict[str, np.ndarray]:
    """The held-out arrays the algorithm's `sample` takes (its `SAMPLE_INPUTS`: all of the data
    set's held-out examples, read once), so that the algorithm keeps no data set."""
    inputs = self.algorithm.SAMPLE_INPUTS
    held_out = self.dataset.eval_data() if inputs else {}
    return {argument: held_out[key] for argument, key in inputs.items()}


def _scalars(metrics) -> dict[str, float]:
  return {k: float(v) for k, v in metrics.items()}  # the logged ones (`StepMetrics`)


def train_and_evaluate(config, workdir: str | Path) -> TrainState:
  """Trains `config` (a ConfigDict, config name or config file) in `workdir`, resuming from its
  latest good checkpoint; returns the final state. Raises `Interrupted` after saving when
  SIGINT/SIGTERM arrives, `NonFiniteError` on a NaN/inf, `jaxgen.errors.ConfigError` on a bad
  config or workdir (before anything is written), `jaxgen.errors.WorkdirInUseError` when another
  run holds the workdir (nothing touched), and `jaxgen.errors.CheckpointError` when a checkpoint
  cannot be written or none can be read."""
  workdir = check_workdir(workdir)
  run = Run(config)  # checks every value: a bad one creates no workdir and takes no lock
  with WorkdirLock(workdir, enabled=parallel.is_writer()), stops.StopSignals() as stop:
    return _train(run, workdir, stop)


def recorded_config(workdir: str | Path):
  """The config recorded in `workdir/config.json` by the run that trained there."""
  path = Path(workdir) / "config.json"
  if not path.is_file():
    raise ConfigError(f"{path} not found: is {workdir} the workdir of a jaxgen run?")
  record = checkpoint.read_config_record(path)
  if record is None:
    raise ConfigError(f"{path} is empty: re-run the training command once to rewrite it.")
  return ml_collections.ConfigDict(record)


def restore_state(run: Run, workdir: str | Path, step: int | None = None) -> TrainState:
  """Checkpoint `step` (default: the latest) of `workdir`, verified against its digest, read
  without the workdir's lock and without moving or deleting anything (a run may be training)."""
  reader = checkpoint.Checkpointer(workdir, run.config.get("keep_checkpoints", 3), read_only=True)
  try:
    return reader.restore(run.init_state(), step)
  finally:
    reader.close()


def _train(run: Run, workdir: Path, stop: stops.StopSignals) -> TrainState:
  """The loop: restore, then one `Run.call` per call of steps, each followed by the periodic
  actions that are due (evaluate, save, stop on a signal)."""
  config = run.config
  announce(config, workdir)
  checkpoint.check_config_matches(workdir, config.to_json_best_effort(sort_keys=True))
  checkpointer = checkpoint.Checkpointer(workdir, config.get("keep_checkpoints", 3))
  state, restored_step = _restore(run, checkpointer)
  start = int(state.step)
  logger, progress = MetricsLog(workdir, start), Progress(config, start)
  metrics = _LateMetrics(config, update_names(run.algorithm), logger, progress, restored_step)
  actions = _periodic_actions(run, workdir, checkpointer, metrics, stop)
  started, compile_seconds = time.perf_counter(), {}
  calls = contextlib.closing(_prefetched_calls(run, start))
  try:
    # During start-up: no step, nothing new to save. One collective, bound once.
    if (signal_name := parallel.any_process(stop.received)) is not None:
      raise Interrupted(signal_name, start, False, checkpointer.directory)
    with calls as prefetched:
      for step, count, batches in prefetched:
        call_started = time.perf_counter()
        state, step_metrics = run.call(state, step, count, batches)
        first_call = time.perf_counter() - call_started  # jit compiles there, before dispatching
        compile_seconds.setdefault(run.train_step_at(step, count), first_call)
        metrics.push(step, count, step_metrics)
        due = [action for action in actions if action.due(step + count)]
        if due:
          metrics.flush()  # never evaluate or save a state whose step produced non-finite values
        for action in due:
          action.act(state, step + count)
        checkpointer.check_for_errors()  # a failed background save stops the run now
    metrics.flush()
  except BaseException:
    with contextlib.suppress(Exception):  # the first error is the one to report
      checkpointer.wait()  # a save in flight still completes
    raise
  else:
    checkpointer.wait()
  finally:
    checkpointer.close()
    progress.close()
    logger.close()
  _report(run, workdir, logger.records(), start, time.perf_counter() - started, compile_seconds)
  return state


def _restore(run: Run, checkpointer: checkpoint.Checkpointer) -> tuple[TrainState, int | None]:
  """The latest good checkpoint's state (a fresh one when there is none) and its step."""
  state = run.init_state()
  restored = checkpointer.restore_latest(state)
  if restored.step is None:
    return state, None
  if parallel.is_writer():
    where = checkpointer.directory / str(restored.step)
    print(f"resumed from step {restored.step} ({where})", file=sys.stderr, flush=True)
  return restored.state, restored.step


def _prefetched_calls(run: Run, start: int):
  """(step, count, host batches) of every call from `start` to `num_steps`; the next call's
  batches are read in a background thread while the current call runs."""
  pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
  try:
    step, count = start, run.steps_in_call(start)
    upcoming = pool.submit(run.call_batches, step, count)
    while step < run.config.num_steps:
      batches, done = upcoming.result(), step + count
      if done < run.config.num_steps:
        next_count = run.steps_in_call(done)
        upcoming = pool.submit(run.call_batches, done, next_count)
      yield step, count, batches
      step, count = done, next_count if done < run.config.num_steps else 0
  finally:
    pool.shutdown(wait=False, cancel_futures=True)


class _LateMetrics:
  """A call's metrics reach the host while the next call runs (the host never waits on the
  device): each is checked for non-finite values, logged every `log_every` steps and shown."""

  def __init__(self, config, updates, logger: MetricsLog, progress: Progress, last_checkpoint):
    self.config, self.updates, self.logger, self.progress = config, updates, logger, progress
    self.last_checkpoint = last_checkpoint  # named by the non-finite stop's message
    self.pending = None

  def push(self, step: int, count: int, metrics) -> None:
    self.flush()
    self.pending = (step, count, metrics)
    self.progress.update(count)

  def flush(self) -> None:
    if self.pending is None:
      return
    first, count, metrics = self.pending
    self.pending = None
    host = jax.device_get(metrics)
    log_every = self.config.get("log_every", 50)
    for i in range(count):
      step = first + i + 1  # steps done after this one
      row = host if count == 1 else jax.tree.map(lambda x, i=i: x[i], host)
      if int(row.health.first_nonfinite_update) >= 0:
        raise NonFiniteError(stops.nonfinite_message(step, row, self.updates, self.last_checkpoint))
      scalars = _scalars(row)
      if step % log_every == 0 or step == self.config.num_steps:
        self.logger.write(step, scalars)
        self.progress.logged(step, scalars)
      self.progress.show(scalars)


class _Periodic(NamedTuple):
  """An action the loop takes after the calls where `due(done)` holds (`done`: steps done)."""

  due: Callable[[int], bool]
  act: Callable[[TrainState, int], None]


def _periodic_actions(run: Run, workdir: Path, checkpointer, metrics: _LateMetrics, stop):
  """Evaluate, save, stop on a signal: in that order, so the records of every step up to a
  checkpoint are on disk when it is written, and a stopping run saves its last step."""
  config, evaluate = run.config, Evaluator(run)
  received = None  # the name of the signal that stops the run

  def every(period: int):
    return lambda done: done % period == 0 or done == config.num_steps

  def evaluation(state, done):
    results = evaluate(state, done, workdir)
    evaluate.log(done, results, metrics.logger, workdir)  # and redraws eval_metrics.png
    if results:
      metrics.progress.write(evaluate.summary(done, results))

  def save(state, done):
    if metrics.last_checkpoint != done:
      checkpointer.save(done, state)
      metrics.last_checkpoint = done

  def signal_received(done: int) -> bool:
    """One process acts on a signal at once; several agree at each logged step (a small
    collective, not one per step), so that all of them save the same step: a process that
    stopped alone would leave the others hanging."""
    nonlocal received
    if jax.process_count() > 1 and done % config.get("log_every", 50):
      return False
    received = parallel.any_process(stop.received)
    return received is not None

  def stopping(state, done):
    save(state, done)
    checkpointer.wait()
    raise Interrupted(received, done, True, checkpointer.directory)

  return [
    _Periodic(every(config.eval_every), evaluation),
    _Periodic(every(config.checkpoint_every), save),
    _Periodic(signal_received, stopping),
  ]


def _report(run: Run, workdir: Path, records, start: int, seconds: float, compile_seconds) -> None:
  """The loss curves (the evaluation's are drawn at each evaluation), and the run's speed on
  stderr."""
  config = run.config
  players = list(dict.fromkeys(name for _, name in update_names(run.algorithm)))
  loss_keys = [f"{p}/loss" for p in players]
  title = f"{plots.run_title(config, workdir)}\nlosses"
  plots.save_curves(records, loss_keys, workdir / "losses.png", title)
  steps_done = config.num_steps - start
  if steps_done and parallel.is_writer():
    compiling = sum(compile_seconds.values())
    print(
      f"{steps_done} steps in {seconds:.1f} s ({steps_done / seconds:.1f} steps/s; compiling "
      f"{len(compile_seconds)} train step(s) took {compiling:.1f} s of it)",
      file=sys.stderr,
    )


COMPILATION_CACHE = Path("~/.cache/jaxgen/xla")


def enable_compilation_cache() -> None:
  """Keeps compiled train steps on disk (JAX's persistent compilation cache), so a resumed or
  repeated run of a config loads them instead of compiling again. JAX_COMPILATION_CACHE_DIR, when
  set, is the place; JAXGEN_COMPILATION_CACHE=off turns it off; else `COMPILATION_CACHE`."""
  choice = os.environ.get("JAXGEN_COMPILATION_CACHE", "")
  if choice.lower() in ("off", "0", "false") or jax.config.jax_compilation_cache_dir:
    return
  jax.config.update(
    "jax_compilation_cache_dir", str(Path(choice or COMPILATION_CACHE).expanduser())
  )
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


# The outcomes a user acts on and the exit status of each, for `jaxgen-train` and every `jaxgen`
# subcommand (`jaxgen.cli`): the message is the last line of stderr, with no traceback (absl's
# app.run would print one). The first class that matches wins. A stop by SIGINT/SIGTERM saved its
# step: a clean exit, so schedulers do not count a failure. Usage errors exit with 2 as well.
EXIT_STATUSES: dict[type[Exception], int] = {
  Interrupted: 0,
  ConfigError: 2,
  CheckpointError: 3,
  NonFiniteError: 4,
  OSError: 5,  # e.g. a full disk under metrics.jsonl; the message names the file
  WorkdirInUseError: 6,  # another run trains in this workdir; nothing was touched
}


def fail(error: Exception) -> NoReturn:
  """Prints `error` as one line on stderr and exits with its status (`EXIT_STATUSES`)."""
  status = next(s for kind, s in EXIT_STATUSES.items() if isinstance(error, kind))
  prefix = "" if isinstance(error, Interrupted) else f"{type(error).__name__}: "
  print(f"{prefix}{error}", file=sys.stderr, flush=True)
  raise SystemExit(status)


def train_command(config, workdir: str | Path, raw_overrides: dict[str, str]) -> TrainState:
  """What the training commands run: `config` (a name, a file or a ConfigDict, e.g. a workdir's
  recorded one) with the command line's `--config.KEY=VALUE` overrides (`overrides.apply_overrides`;
  their notices on stderr), trained in `workdir` with JAX's compilation cache on. Raises what
  `train_and_evaluate` raises."""
  from absl import logging  # noqa: PLC0415 — absl only for the command line

  from jaxgen.run import overrides  # noqa: PLC0415

  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
  check_workdir(workdir)
  config = configs.load(config)
  for notice in overrides.apply_overrides(config, raw_overrides, parse_strings=True):
    print(notice, file=sys.stderr, flush=True)
  config.lock()  # from here on a misspelt key in code is an error, not a new field
  parallel.initialize_multihost()
  enable_compilation_cache()
  return train_and_evaluate(config, workdir)


def main(argv=None) -> None:
  """Console entry point: `jaxgen-train --config=NAME|FILE --workdir=DIR [--config.KEY=VALUE]`
  (absl flags; `jaxgen train CONFIG` does the same, `jaxgen.cli`)."""
  from absl import app, flags  # noqa: PLC0415 — flags only exist for the command line

  from jaxgen.run import overrides  # noqa: PLC0415

  # `train_command` loads the config (`jaxgen.configs.load`: a name or a file, `:arg` for
  # get_config) and checks the overrides (jaxgen.run.overrides: the options a data set, network or
  # optimizer takes; the old options a new name drops). Flag files are expanded first so that
  # overrides in them are checked the same way.
  argv = flags.FLAGS.read_flags_from_files(sys.argv if argv is None else argv, force_gnu=False)
  try:
    argv, raw_overrides = overrides.split_config_overrides(argv)
  except tuple(EXIT_STATUSES) as error:
    fail(error)

  config_flag = flags.DEFINE_string(
    "config",
    None,
    "A config name (e.g. gan_ring8: jaxgen/configs/gan_ring8.py) or a config file's path; "
    "`path:arg` passes arg to its get_config.",
  )
  workdir_flag = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs, PNGs.")
  flags.mark_flags_as_required(["config", "workdir"])

  def run_main(argv):
    if len(argv) > 1:
      raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
      train_command(config_flag.value, workdir_flag.value, raw_overrides)
    except tuple(EXIT_STATUSES) as error:
      fail(error)

  app.run(run_main, argv=argv)
