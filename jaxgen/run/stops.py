"""Why a run stops before its last step, said so that the user knows what to do: a NaN/inf
(`NonFiniteError`, naming the update that produced it and a suspect learning rate) or a signal
(`Interrupted`: SIGINT/SIGTERM finish the step, save it, and stop)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import numpy as np


class NonFiniteError(FloatingPointError):
  """A loss, gradient or parameter became NaN/inf; the message names the step and the update."""


def nonfinite_message(step: int, metrics, updates, last_checkpoint) -> str:
  """Names the first update of `step` that produced a NaN/inf (`metrics.health`, a host copy of
  the step's `StepMetrics`) and, as the likely cause, a player whose parameter norm grew over 10x
  within the step (a too-large learning rate shows there while all its values are still finite)."""
  health = metrics.health
  phase, player = updates[int(health.first_nonfinite_update)]
  loss = metrics.get(f"{player}/loss", float("nan"))
  message = (
    f"Non-finite value at step {step}: the update of player {player!r} (schedule phase "
    f"{phase}) produced a NaN/inf (loss={loss:.4g}, gradient norm="
    f"{health.grad_norm[player]:.4g})."
  )
  growth = {}
  for name in dict.fromkeys(name for _, name in updates):
    before, after = health.param_norm_before[name], health.param_norm[name]
    if np.isfinite(after):
      growth[name] = after / before if before > 0 else 0.0
    else:  # finite params whose float32 norm overflows grew past ~1e19 per weight
      growth[name] = np.inf if health.finite[name] else 0.0
  suspect = max(growth, key=growth.get)
  if growth[suspect] > 10:
    how = "past float32's range" if np.isinf(growth[suspect]) else f"{growth[suspect]:.3g}x"
    message += (
      f" The parameter norm of player {suspect!r} grew {how} in this step (from "
      f"{health.param_norm_before[suspect]:.3g} to {health.param_norm[suspect]:.3g}):"
      f" check optimizer.{suspect}.learning_rate."
    )
  if last_checkpoint is None:
    return message + " Stopped; no checkpoint was written yet, so a re-run starts from step 0."
  return message + (
    f" Stopped; the last checkpoint is step {last_checkpoint}, saved before any non-finite value "
    "(its digest is checked when a run resumes from it)."
  )


class Interrupted(Exception):  # noqa: N818 — a stop the user asked for, not an error
  """SIGINT or SIGTERM stopped the run after a step; that step's checkpoint is saved."""

  def __init__(self, signal_name: str, step: int, saved: bool, directory: Path):
    self.signal_name, self.step = signal_name, step
    where = (
      f"checkpoint {step} saved in {directory}"
      if saved
      else f"no new step to save (latest checkpoint: {step or 'none'})"
    )
    super().__init__(
      f"Stopped by {signal_name} at step {step}: {where}. Run the same command to resume."
    )


class StopSignals:
  """While active, SIGINT and SIGTERM (what SLURM and preemptible VMs send) only set a flag: the
  loop finishes the current step, saves it and raises `Interrupted`. A second signal interrupts
  at once with KeyboardInterrupt. Python delivers signals to the main thread only, so elsewhere
  (a worker thread) the handlers are left alone."""

  def __init__(self):
    self.received: str | None = None
    self._previous = {}

  def _handle(self, signum, frame) -> None:
    if self.received is not None:
      raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: stopping without saving")
    self.received = signal.Signals(signum).name

  def __enter__(self) -> StopSignals:
    if threading.current_thread() is threading.main_thread():
      for signum in (signal.SIGINT, signal.SIGTERM):
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *exc_info) -> None:
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
