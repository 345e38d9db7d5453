"""The loop's evaluation of a run: every evaluator its config names (`config.eval.evaluators`, or
the algorithm's default; `jaxgen.evaluators`), built once per run and called at each evaluation
with what it needs; their metrics are logged as `eval/<key>`. `scripts/evaluate.py` uses the same.
"""

from __future__ import annotations

import functools
import types
from pathlib import Path

from jaxgen import evaluators


def picture_path(workdir: Path | None, step: int, name: str, index: int) -> Path | None:
  """Where the `index`-th evaluator (`name`) draws at step `step`: `samples_<step>.png` for the
  first, `samples_<name>_<step>.png` for the others; None without a workdir."""
  if workdir is None:
    return None
  return Path(workdir) / (
    f"samples_{step:07d}.png" if index == 0 else f"samples_{name}_{step:07d}.png"
  )


class Evaluator:
  """Scores a run's states with the evaluators of `run.evaluations`, built once here."""

  def __init__(self, run):
    """Builds each evaluator of `run.evaluations`; nothing is read before the first call."""
    self.run = run
    config = run.config
    self.evaluators = [
      (e.name, evaluators.get(e.name)(config, types.SimpleNamespace(**e.options)))
      for e in run.evaluations
    ]
    facts = dict.fromkeys(fact for _, ev in self.evaluators for fact in ev.DATA_FACTS)
    num_samples, seed = int(config.eval.num_samples), config.seed + 1
    self.data = evaluators.EvalData(run.dataset, num_samples, seed, facts)

  def __call__(self, state, step: int, workdir: Path | None) -> dict[str, float]:
    """Every evaluator's metrics of `state` (after `step` steps) as {"eval/<key>": value}; the
    pictures go to `workdir` (None: no picture). The evaluators share one draw of samples."""
    run, data = self.run, self.data
    sample = functools.cache(lambda num: run.sample(state, num, seed=data.seed))
    results: dict[str, float] = {}
    for index, (name, evaluator) in enumerate(self.evaluators):
      picture = picture_path(workdir, step, name, index)
      context = evaluators.Context(state, step, run.algorithm, sample, data, picture, data.num)
      for key, value in evaluator(context).items():
        if f"eval/{key}" in results:
          raise ValueError(f"Evaluator {name!r} reports {key!r}, which an earlier one reported.")
        results[f"eval/{key}"] = float(value)
    return results
