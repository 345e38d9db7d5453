"""ONE training loop for every algorithm: `train_and_evaluate(config, workdir)`.

The loop knows about the host, the devices and the files; the algorithm knows its players. A step:
the batches of step t (one per schedule phase, a pure function of (seed, t)) are placed sharded on
the devices, the jitted `train_step` updates every player, and the host logs the metrics of the
*previous* step so it never waits on the device. Re-running the same command resumes from the
latest checkpoint in the workdir and sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import concurrent.futures
import json
import sys
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
import tqdm
from tensorboardX import SummaryWriter

from jaxgen import algorithms, checkpoint, data, parallel, plots
from jaxgen.algorithms.base import TrainState, init_train_state, make_train_step

REQUIRED_KEYS = (
  "seed",
  "batch_size",
  "num_steps",
  "eval_every",
  "checkpoint_every",
  "data.name",
  "algorithm.name",
)


class NonFiniteError(FloatingPointError):
  """A loss or gradient became NaN/inf; the message names the step and the player."""


def validate_config(config) -> None:
  for key in REQUIRED_KEYS:
    node = config
    for part in key.split("."):
      if part not in node:
        raise ValueError(f"The config lacks the required field {key!r}.")
      node = node[part]
  for key in ("batch_size", "num_steps", "eval_every", "checkpoint_every", "log_every"):
    value = config.get(key, 1)
    if not (isinstance(value, int) and value >= 1):
      raise ValueError(f"config.{key} must be an integer >= 1; got {value!r}.")


def phase_batches(dataset, config, step: int, num_phases: int) -> dict[str, np.ndarray]:
  """The host-local batches of train step `step`: one per phase, stacked on a leading axis."""
  per_phase = [
    dataset.batch(
      config.seed,
      step * num_phases + phase,
      config.batch_size,
      process_index=jax.process_index(),
      process_count=jax.process_count(),
    )
    for phase in range(num_phases)
  ]
  return {key: np.stack([b[key] for b in per_phase]) for key in per_phase[0]}


class Run:
  """The pieces of one run, built from a config; usable from a notebook step by step."""

  def __init__(self, config, devices=None):
    validate_config(config)
    self.config = config
    self.dataset = data.get(config.data.name, **dict(config.data.get("options", {})))
    self.algorithm = algorithms.get(config.algorithm.name)(config, self.dataset)
    self.mesh = parallel.make_mesh(devices)
    parallel.check_batch_size(config.batch_size, self.mesh)
    self.num_phases = len(self.algorithm.schedule)
    replicated = parallel.replicated(self.mesh)
    self.train_step = jax.jit(
      make_train_step(self.algorithm),
      in_shardings=(replicated, parallel.batch_sharding(self.mesh, leading_axes=1)),
      out_shardings=(replicated, replicated),
      donate_argnums=0,
    )
    self._sample = jax.jit(self.algorithm.sample, static_argnums=2, out_shardings=replicated)

  def batches(self, step: int):
    return phase_batches(self.dataset, self.config, step, self.num_phases)

  def init_state(self) -> TrainState:
    first = jax.tree.map(lambda x: x[0], self.batches(0))
    init = jax.jit(
      lambda rng, batch: init_train_state(self.algorithm, rng, batch),
      out_shardings=parallel.replicated(self.mesh),
    )
    return init(jax.random.key(self.config.seed), first)

  def step(self, state: TrainState, step: int):
    return self.train_step(state, parallel.put_batch(self.batches(step), self.mesh, 1))

  def sample(self, state: TrainState, num: int, seed: int = 0) -> np.ndarray:
    return np.asarray(self._sample(state, jax.random.key(seed), num))


def _check_finite(step: int, metrics: dict[str, Any], players, last_checkpoint) -> None:
  for player in players:
    loss = metrics.get(f"{player}/loss", 0.0)
    if not (bool(metrics[f"{player}/finite"]) and np.isfinite(loss)):
      raise NonFiniteError(
        f"Non-finite loss or gradient at step {step} in player {player!r} (loss={loss}). "
        f"Stopped; the last good checkpoint (step {last_checkpoint}) is intact."
      )


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
  return {k: float(v) for k, v in metrics.items() if not k.endswith("/finite")}


class _Logger:
  """metrics.jsonl + TensorBoard events (tensorboardX: no TensorFlow needed)."""

  def __init__(self, workdir: Path):
    self.path = workdir / "metrics.jsonl"
    self.writer = SummaryWriter(str(workdir / "tensorboard"))

  def write(self, step: int, scalars: dict[str, float]) -> None:
    with self.path.open("a") as f:
      f.write(json.dumps({"step": step, **scalars}) + "\n")
    for key, value in scalars.items():
      self.writer.add_scalar(key, value, step)

  def records(self) -> list[dict[str, float]]:
    if not self.path.exists():
      return []
    return [json.loads(line) for line in self.path.read_text().splitlines() if line]

  def close(self) -> None:
    self.writer.close()


def training_images(dataset, limit: int) -> np.ndarray:
  """Up to `limit` training images (one epoch's permutation), the FID reference set."""
  count = min(limit, getattr(dataset, "num_examples", limit))
  return dataset.batch(0, 0, count)["x"]


class Evaluator:
  """Scores samples of a run: mode coverage for 2-D mixtures; FID, KID, IS, precision and recall
  with the config's feature extractor (`eval.extractor`) for images."""

  def __init__(self, run: Run):
    self.run = run
    self._images = None  # built on first use: extracting the reference features takes a while

  def image_metrics(self, samples: np.ndarray) -> dict[str, float]:
    eval_config = self.run.config.eval
    if not eval_config.get("extractor"):
      return {}
    if self._images is None:
      from jaxgen import metrics  # noqa: PLC0415 — loads classifier weights

      extractor = metrics.get_extractor(
        eval_config.extractor, eval_config.get("extractor_weights") or None
      )
      reference = training_images(self.run.dataset, eval_config.get("num_reference", 10_000))
      self._images = metrics.ImageEvaluator(extractor, reference, seed=self.run.config.seed)
    return self._images(samples)

  def __call__(self, state: TrainState, step: int, workdir: Path | None) -> dict[str, float]:
    """Samples from the generator, writes the picture of step `step`, returns eval metrics."""
    run = self.run
    samples = run.sample(state, int(run.config.eval.num_samples), seed=run.config.seed + 1)
    picture = workdir / f"samples_{step:07d}.png" if workdir is not None else None
    if samples.ndim == 2 and samples.shape[1] == 2:
      centers = getattr(run.dataset, "centers", None)
      if picture:
        plots.save_scatter(samples, picture, centers, f"step {step}")
      if centers is None:
        return {}
      from jaxgen.metrics import mode_coverage  # noqa: PLC0415 — metrics pull in scipy

      return {
        f"eval/{k}": float(v) for k, v in mode_coverage(samples, centers, run.dataset.std).items()
      }
    if picture:
      classes = run.algorithm.num_classes
      shown = samples[: 10 * classes] if classes else samples[:64]
      plots.save_image_grid(shown, picture, classes or 8, f"step {step}")
    return {f"eval/{k}": float(v) for k, v in self.image_metrics(samples).items()}


def train_and_evaluate(config, workdir: str | Path) -> TrainState:
  """Trains `config` in `workdir`, resuming from its latest checkpoint; returns the final state."""
  workdir = Path(workdir)
  run = Run(config)
  checkpoint.check_config_matches(workdir, config.to_json_best_effort(sort_keys=True))
  checkpointer = checkpoint.Checkpointer(workdir, config.get("keep_checkpoints", 3))
  state = run.init_state()
  last_checkpoint = checkpointer.latest_step()
  if last_checkpoint is not None:
    state = checkpointer.restore(state)
  start = int(state.step)
  logger = _Logger(workdir)
  # Schedule order: the first player to update is the first whose values can go bad.
  players = list(dict.fromkeys(name for phase in run.algorithm.schedule for name in phase))
  bar = tqdm.tqdm(
    total=config.num_steps,
    initial=start,
    disable=not config.get("progress_bar", True),
    desc=f"{config.algorithm.name} on {config.data.name}",
    file=sys.stderr,
    mininterval=0.1 if sys.stderr.isatty() else 30.0,  # keep logs of non-interactive runs short
  )
  prefetch = concurrent.futures.ThreadPoolExecutor(max_workers=1)
  pending, next_batches = None, prefetch.submit(run.batches, start)
  started = time.perf_counter()
  evaluate = Evaluator(run)

  def drain(pending):
    """Brings the previous step's metrics to the host: checks, logs, shows them."""
    step, metrics = pending
    host = jax.device_get(metrics)
    _check_finite(step, host, players, last_checkpoint)
    scalars = _scalars(host)
    if step % config.get("log_every", 50) == 0 or step == config.num_steps:
      logger.write(step, scalars)
    bar.set_postfix(
      {k.replace("/loss", ""): f"{v:.3f}" for k, v in scalars.items() if k.endswith("/loss")}
    )

  try:
    for step in range(start, config.num_steps):
      batches = parallel.put_batch(next_batches.result(), run.mesh, leading_axes=1)
      if step + 1 < config.num_steps:
        next_batches = prefetch.submit(run.batches, step + 1)
      state, metrics = run.train_step(state, batches)
      if pending is not None:
        drain(pending)
      pending = (step + 1, metrics)
      bar.update(1)
      done = step + 1
      if done % config.checkpoint_every == 0 or done == config.num_steps:
        drain(pending)  # never save a state whose step produced non-finite values
        pending = None
        checkpointer.save(done, state)
        last_checkpoint = done
      if done % config.eval_every == 0 or done == config.num_steps:
        results = evaluate(state, done, workdir)
        if results:
          logger.write(done, results)
          bar.write(f"step {done}: " + ", ".join(f"{k}={v:.4g}" for k, v in results.items()))
    if pending is not None:
      drain(pending)
  finally:
    checkpointer.wait()
    checkpointer.close()
    prefetch.shutdown(wait=False, cancel_futures=True)
    bar.close()
    logger.close()
  records = logger.records()
  loss_keys = [f"{p}/loss" for p in players]
  plots.save_curves(records, loss_keys, workdir / "losses.png", f"{config.algorithm.name} losses")
  eval_keys = sorted({k for r in records for k in r if k.startswith("eval/")})
  if eval_keys:
    plots.save_curves(records, eval_keys, workdir / "eval_metrics.png", "evaluation")
  steps_done = config.num_steps - start
  if steps_done:
    elapsed = time.perf_counter() - started
    print(
      f"{steps_done} steps in {elapsed:.1f} s ({steps_done / elapsed:.1f} steps/s, "
      "compile included)",
      file=sys.stderr,
    )
  return state


def main(argv=None) -> None:
  """Console entry point: `jaxgen-train --config=<file> --workdir=<dir> [--config.key=value]`."""
  from absl import app, flags, logging  # noqa: PLC0415 — flags only exist for the command line
  from ml_collections import config_flags  # noqa: PLC0415

  config_flag = config_flags.DEFINE_config_file(
    "config", None, "Path to a config file in jaxgen/configs/.", lock_config=True
  )
  workdir_flag = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs, PNGs.")
  flags.mark_flags_as_required(["config", "workdir"])

  def run_main(argv):
    if len(argv) > 1:
      raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    parallel.initialize_multihost()
    train_and_evaluate(config_flag.value, workdir_flag.value)

  app.run(run_main, argv=argv)
