"""What a training run shows on stderr while it runs (`jaxgen.run.train`'s loop)."""

from __future__ import annotations

import sys
import time

import tqdm

from jaxgen.run import parallel
from jaxgen.run.plots import describe_run


def announce(config, workdir) -> None:
  """The first line of a run's log: what trains (algorithm, objective, data: `describe_run`) and
  where, e.g. "gan (wasserstein loss, wgan_gp penalty) on ring8, workdir workdirs/wgan_gp"; so
  that the logs of several runs say which is which."""
  if parallel.is_writer():
    print(f"{describe_run(config)}, workdir {workdir}", file=sys.stderr, flush=True)


class Progress:
  """What a run shows on stderr: a tqdm bar on a terminal; off a terminal (a job's log file) one
  line per logged step, so logs stay short and every line is complete."""

  def __init__(self, config, start: int):
    self.enabled = config.get("progress_bar", True) and parallel.is_writer()
    self.interactive = sys.stderr.isatty()
    self.total = config.num_steps
    self.desc = f"{config.algorithm.name} on {config.data.name}"
    self.start, self.started = start, time.perf_counter()
    self.bar = tqdm.tqdm(
      total=config.num_steps,
      initial=start,
      disable=not (self.enabled and self.interactive),
      desc=self.desc,
      file=sys.stderr,
      mininterval=0.1,
    )

  def update(self, steps: int) -> None:
    """Advances the bar by `steps` steps."""
    self.bar.update(steps)

  def show(self, scalars: dict[str, float]) -> None:
    """The losses beside the bar, shown at its next refresh."""
    self.bar.set_postfix(_losses(scalars), refresh=False)

  def logged(self, step: int, scalars: dict[str, float]) -> None:
    """Off a terminal: one line per logged step, with the losses and the mean speed so far."""
    if self.enabled and not self.interactive:
      rate = (step - self.start) / max(time.perf_counter() - self.started, 1e-9)
      losses = " ".join(f"{k}={v}" for k, v in _losses(scalars).items())
      print(
        f"{self.desc}: step {step}/{self.total} {losses} ({rate:.1f} steps/s)",
        file=sys.stderr,
        flush=True,
      )

  def write(self, line: str) -> None:
    """Prints `line` to stderr above the bar (the writer process only)."""
    if parallel.is_writer():
      self.bar.write(line, file=sys.stderr)

  def close(self) -> None:
    """Closes the bar."""
    self.bar.close()


def _losses(scalars: dict[str, float]) -> dict[str, str]:
  return {k.replace("/loss", ""): f"{v:.3f}" for k, v in scalars.items() if k.endswith("/loss")}
