"""The "points" evaluator: 1-D and 2-D samples drawn (a scatter plot over the mixture's centres, or
a histogram of 1-D samples), and, when the data set is a mixture with centres, its mode coverage:
modes captured, share of high-quality samples and reverse KL (PacGAN's definitions,
`jaxgen.metrics.mode_coverage`)."""

from __future__ import annotations

import math
import sys

from jaxgen.evaluators import BaseEvaluator, Context, register_evaluator
from jaxgen.metrics.mode_coverage import REVERSE_KL_UNDEFINED, mode_coverage
from jaxgen.run import parallel, plots

POINT_SHAPES = ((1,), (2,))


@register_evaluator("points")
class Points(BaseEvaluator):
  """Draws `eval.num_samples` samples; scores them against the mixture's centres and std."""

  DATA_FACTS = ("centers", "std")

  @classmethod
  def check(cls, options, algorithm, facts) -> None:
    """Points are 1-D or 2-D examples."""
    shape = tuple(facts.example_shape)
    if shape not in POINT_SHAPES:
      raise ValueError(
        f"'points' draws and scores 1-D or 2-D examples, not shape {shape}; name 'images' for "
        "images."
      )

  def __call__(self, context: Context) -> dict[str, float]:
    """The picture, and {"modes", "high_quality", "reverse_kl"} for a mixture (else nothing)."""
    samples = context.samples
    centers = context.data.facts.get("centers")
    if context.picture:
      plots.save_scatter(samples, context.picture, centers, context.title)
    if centers is None:
      return {}
    scores = mode_coverage(samples, centers, context.data.facts["std"])
    if math.isnan(scores["reverse_kl"]) and parallel.is_writer():
      print(f"step {context.step}: {REVERSE_KL_UNDEFINED}.", file=sys.stderr, flush=True)
    return scores
