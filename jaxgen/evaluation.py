"""Evaluation in the loop: what the algorithm declares (`algorithm.evaluation()`) decides whether
samples are scored as points of a 2-D mixture or as images, or translations are scored
(`jaxgen.metrics.translation`); `scripts/evaluate.py` uses the same."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from jaxgen import parallel, plots


def training_images(dataset, limit: int) -> np.ndarray:
  """Up to `limit` training images (one epoch's permutation), the FID reference set."""
  count = min(limit, getattr(dataset, "num_examples", limit))
  return dataset.batch(0, 0, count)["x"]


class Evaluator:
  """Scores samples of a run as its algorithm declares (`algorithm.evaluation()`): mode coverage
  of points from a 2-D mixture; FID, KID, IS, precision and recall of images with the config's
  feature extractor (`eval.extractor`)."""

  def __init__(self, run):
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

  def __call__(self, state, step: int, workdir: Path | None) -> dict[str, float]:
    """Samples from the generator, writes the picture of step `step`, returns eval metrics."""
    run = self.run
    evaluation = run.algorithm.evaluation()
    picture = workdir / f"samples_{step:07d}.png" if workdir is not None else None
    if evaluation.kind == "translation":
      from jaxgen.metrics import translation  # noqa: PLC0415 — loads classifier weights

      scores = translation.evaluate(run, state, evaluation, picture, f"step {step}")
      return {f"eval/{k}": float(v) for k, v in scores.items()}
    samples = run.sample(state, int(run.config.eval.num_samples), seed=run.config.seed + 1)
    if evaluation.kind == "points":
      centers = getattr(run.dataset, "centers", None)
      if picture:
        plots.save_scatter(samples, picture, centers, f"step {step}")
      if centers is None:
        return {}
      from jaxgen.metrics.mode_coverage import (  # noqa: PLC0415 — metrics pull in scipy
        REVERSE_KL_UNDEFINED,
        mode_coverage,
      )

      scores = mode_coverage(samples, centers, run.dataset.std)
      if math.isnan(scores["reverse_kl"]) and parallel.is_writer():
        print(f"step {step}: {REVERSE_KL_UNDEFINED}.", file=sys.stderr, flush=True)
      return {f"eval/{k}": float(v) for k, v in scores.items()}
    if picture:
      shown = samples[: evaluation.grid_count]
      plots.save_image_grid(shown, picture, evaluation.grid_columns, f"step {step}")
    return {f"eval/{k}": float(v) for k, v in self.image_metrics(samples).items()}
