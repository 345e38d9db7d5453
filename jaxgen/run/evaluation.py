"""The loop's evaluation of a run: every evaluator its config names (`config.eval.evaluators`, or
the algorithm's default; `jaxgen.evaluators`), built once per run and called at each evaluation
with what it needs; their metrics are logged as `eval/<key>`, with the feature space of those that
depend on a feature extractor (`FeatureSpace`: a FID on the digits classifier's features is no
Inception FID). `scripts/evaluate.py` uses the same.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from pathlib import Path

from jaxgen import evaluators
from jaxgen.evaluators import FeatureSpace
from jaxgen.run import plots

EVAL_METRICS_PNG = "eval_metrics.png"
# What a table of scores says under it when its records name an extractor (`jaxgen eval`).
FEATURES_NOTE = (
  "FID, KID, Inception Score, precision, recall and the label accuracies of a row are computed "
  "with its `extractor` (features of `feature_dim` dimensions), against `num_reference` real "
  "images: compare them only between rows of the same extractor and sample counts (a "
  "digits_classifier FID is not an Inception FID)."
)


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
    self.pictures: dict[str, Path] = {}  # evaluator name -> the picture its last call drew

  def __call__(self, state, step: int, workdir: Path | None) -> dict[str, float]:
    """Every evaluator's metrics of `state` (after `step` steps) as {"eval/<key>": value}; the
    pictures go to `workdir` (None: no picture), titled with the run's name, algorithm and
    objective (`plots.run_title`). The evaluators share one draw of samples."""
    run, data = self.run, self.data
    sample = functools.cache(lambda num: run.sample(state, num, seed=data.seed))
    heading = plots.run_title(run.config, workdir)
    results: dict[str, float] = {}
    self.pictures = {}
    for index, (name, evaluator) in enumerate(self.evaluators):
      picture = picture_path(workdir, step, name, index)
      context = evaluators.Context(
        state, step, run.algorithm, sample, data, picture, data.num, heading
      )
      for key, value in evaluator(context).items():
        if f"eval/{key}" in results:
          raise ValueError(f"Evaluator {name!r} reports {key!r}, which an earlier one reported.")
        results[f"eval/{key}"] = float(value)
      if picture is not None and picture.exists():
        self.pictures[name] = picture
    return results

  def feature_spaces(self) -> list[FeatureSpace]:
    """Where the last call's feature-based metrics were measured, one per evaluator that has any;
    their `metrics` carry the loop's `eval/` prefix."""
    spaces = []
    for _, evaluator in self.evaluators:
      if (space := evaluator.feature_space()) is not None:
        keys = tuple(f"eval/{key}" for key in space.metrics)
        spaces.append(dataclasses.replace(space, metrics=keys))
    return spaces

  def feature_record(self) -> dict[str, int]:
    """The fields a record of the last call's scores (evaluation.json) carries after them: the
    `feature_dim` and `num_reference` of its feature space (none without one)."""
    record = {}
    for space in self.feature_spaces():
      record |= {"feature_dim": space.feature_dim, "num_reference": space.num_reference}
    return record

  def notes(self) -> list[str]:
    """One line per feature space of the last call: which metrics (their spreads `_std` go
    without saying), on which features."""
    notes = []
    for space in self.feature_spaces():
      names = [k.removeprefix("eval/") for k in space.metrics if not k.endswith("_std")]
      notes.append(f"{', '.join(names)} on {space.describe()}")
    return notes

  def summary(self, step: int, results: dict[str, float]) -> str:
    """The line the loop prints after an evaluation: the metrics, then the feature space of
    those that depend on one."""
    line = f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in results.items())
    return "; ".join([line, *self.notes()])

  def panel_labels(self) -> dict[str, str]:
    """The eval_metrics.png panel title of each metric that depends on a feature extractor: its
    key and the extractor."""
    return {
      key: f"{key}\n{space.extractor} ({space.feature_dim}-d features)"
      for space in self.feature_spaces()
      for key in space.metrics
    }

  def log(self, step: int, results: dict[str, float], logger, workdir: Path) -> None:
    """Logs the results of the call at `step` (metrics.jsonl, TensorBoard: the metrics, the
    pictures as images, the feature spaces as text) and redraws `eval_metrics.png` from every
    record so far, one panel per metric."""
    if results:
      logger.write(step, results)
    logger.write_images(step, {f"samples/{name}": path for name, path in self.pictures.items()})
    for note in self.notes():
      logger.write_text("evaluation/features", note, step)
    records = logger.records()
    keys = sorted({key for record in records for key in record if key.startswith("eval/")})
    if keys:
      title = f"{plots.run_title(self.run.config, workdir)}\nevaluation"
      path = Path(workdir) / EVAL_METRICS_PNG
      plots.save_curves(records, keys, path, title, self.panel_labels())
