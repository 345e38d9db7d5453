"""The "geometry_score" evaluator: how alike the loops (H1 persistent homology of witness
complexes) of the run's samples and of the data are, by the Geometry Score of Khrulkov &
Oseledets 2018 (`jaxgen.metrics.geometry_score`). It needs no feature extractor: 2-D points are
taken as they are, images flattened (the paper's flattened MNIST). It needs gudhi
(`pip install gudhi`).

Scores:
- "geometry_score": sum_i (MRLT_samples(i) - MRLT_data(i))^2 (paper, Algorithm 2), in [0, 2];
  0 when the two have the same loops for the same shares of the filtration; lower is better;
- "betti1_samples", "betti1_data": the number of loops i with the largest MRLT(i) of each: the
  number of loops each set most plausibly has (a ring of separate Gaussians: 0; a circle: 1);
- "beyond_i_max_samples", "beyond_i_max_data": 1 - sum_i MRLT(i) of each, the mean share of the
  filtration during which i_max or more loops are alive, which no MRLT(i) holds and the score
  does not see (as in the paper); noise-like images can have hundreds of loops early on.

The defaults are the paper's (L = 64 landmarks, gamma = 1/128, i_max = 100) with 100 landmark
draws (the paper: 10000). gamma sets how far the filtration runs, and the paper's was chosen for
thousands of MNIST images: on the 2-D mixtures the authors' 2-D setting, and on the 360 held-out
digits a larger gamma, tell trained models from untrained ones (docs/results/geometry_score.md):

    config.eval.evaluators = ("points", {"name": "geometry_score", "num_landmarks": 32,
                                         "gamma": 1 / 8})

The data's MRLT is computed once per run (its points are the same at every evaluation). The
picture (when the loop asks for one) shows both MRLTs as bars.
"""

from __future__ import annotations

import numpy as np

from jaxgen.evaluators import BaseEvaluator, Context, register_evaluator
from jaxgen.metrics.geometry_score import (
  DEFAULT_GAMMA,
  DEFAULT_I_MAX,
  DEFAULT_LANDMARKS,
  DEFAULT_REPETITIONS,
  geometry_score,
  relative_living_times,
  require_gudhi,
)
from jaxgen.options import Option, integer, number
from jaxgen.run import parallel, plots

REFERENCES = ("held_out", "training")


def _unlisted(mrlt: np.ndarray) -> float:
  """1 - sum_i MRLT(i): the mean share of the filtration with i_max or more loops alive."""
  share = 1.0 - float(mrlt.sum())
  # Shares that add up to 1 miss it by a few units of rounding (~1e-16) either way: that is 0.
  return share if share > 1e-12 else 0.0


@register_evaluator("geometry_score")
class GeometryScore(BaseEvaluator):
  """The Geometry Score of the samples against the data; see the module docstring."""

  OPTIONS = (
    Option(
      "num_landmarks",
      DEFAULT_LANDMARKS,
      "landmarks L per draw, from the points without replacement (paper: 64; their 2-D examples "
      "32)",
      check=integer(3),
    ),
    Option(
      "gamma",
      DEFAULT_GAMMA,
      "alpha_max = gamma * the largest point-landmark distance (paper: 1/128; their 2-D examples "
      "1/8)",
      check=number(0, 1, open_low=True),
    ),
    Option("i_max", DEFAULT_I_MAX, "loop counts 0 .. i_max - 1 (paper: 100)", check=integer(1)),
    Option(
      "num_repetitions",
      DEFAULT_REPETITIONS,
      "landmark draws averaged into MRLT (paper: 10000)",
      check=integer(1),
    ),
    Option(
      "num_points",
      0,
      "samples and data points compared; 0: eval.num_samples, or all of the reference if fewer",
      check=integer(0),
    ),
    Option(
      "reference",
      "held_out",
      "the data compared with: held-out examples or the first training examples",
      choices=REFERENCES,
    ),
  )

  def __init__(self, config, options):
    """See `BaseEvaluator`; the data's MRLT is computed at the first call."""
    super().__init__(config, options)
    self._data_mrlt: tuple[int, np.ndarray] | None = None  # (num_points, MRLT) of the reference

  @classmethod
  def check(cls, options, algorithm, facts) -> None:
    """gudhi is installed, and an explicit `num_points` leaves room for the landmarks."""
    try:
      require_gudhi()
    except ImportError as error:
      raise ValueError(str(error)) from None
    if 0 < options.num_points < options.num_landmarks:
      raise ValueError(
        f"num_points = {options.num_points} is fewer than num_landmarks = "
        f"{options.num_landmarks}; landmarks are drawn from the points: raise num_points."
      )

  def reference(self, context: Context) -> np.ndarray:
    """The data points compared: `num_points` of the held-out (a draw of them fixed by the
    evaluation seed) or the first training examples; ValueError when there are fewer."""
    wanted = self.options.num_points or None
    if self.options.reference == "training":
      points = context.data.training(wanted or context.num_samples)["x"]
    else:
      points = context.data.every_held_out["x"]
      count = min(wanted or context.num_samples, len(points))
      order = np.random.default_rng(context.data.seed).permutation(len(points))
      points = points[np.sort(order[:count])]
    if wanted is not None and len(points) < wanted:
      raise ValueError(
        f"geometry_score: num_points = {wanted}, but the {self.options.reference} data have "
        f"{len(points)} examples; give num_points <= {len(points)} (or 0: as many as there are)."
      )
    return points

  def mrlt(self, points: np.ndarray, seed: int) -> np.ndarray:
    """MRLT of `points` with the options' settings."""
    settings = self.options
    return relative_living_times(
      points,
      settings.num_landmarks,
      settings.gamma,
      settings.i_max,
      settings.num_repetitions,
      seed=seed,
    )

  def __call__(self, context: Context) -> dict[str, float]:
    """The scores of the module docstring; draws both MRLTs at the picture."""
    if self._data_mrlt is None:
      reference = self.reference(context)
      self._data_mrlt = (len(reference), self.mrlt(reference, context.data.seed + 1))
    count, data_mrlt = self._data_mrlt
    # The evaluators' shared draw when it is large enough; the same seed's draw of `count` else.
    samples = context.samples if count <= context.num_samples else context.sample(count)
    samples_mrlt = self.mrlt(samples[:count], context.data.seed)
    if context.picture and parallel.is_writer():
      self.draw(samples_mrlt, data_mrlt, context)
    return {
      "geometry_score": geometry_score(samples_mrlt, data_mrlt),
      "betti1_samples": float(np.argmax(samples_mrlt)),
      "betti1_data": float(np.argmax(data_mrlt)),
      "beyond_i_max_samples": _unlisted(samples_mrlt),
      "beyond_i_max_data": _unlisted(data_mrlt),
    }

  def draw(self, samples_mrlt: np.ndarray, data_mrlt: np.ndarray, context: Context) -> None:
    """Both MRLTs as bars over the loop counts either has a share of at least 1e-3 at."""
    shown = np.flatnonzero((samples_mrlt >= 1e-3) | (data_mrlt >= 1e-3))
    last = int(shown.max()) + 1 if shown.size else 1
    counts = np.arange(last + 1)
    fig, ax = plots.pyplot().subplots(figsize=(6, 3.5))
    ax.bar(counts - 0.2, data_mrlt[: last + 1], width=0.4, label=f"data ({self.options.reference})")
    ax.bar(counts + 0.2, samples_mrlt[: last + 1], width=0.4, label="samples")
    ax.set_xlabel("loops alive (beta_1)")
    ax.set_ylabel("mean relative living time")
    score = geometry_score(samples_mrlt, data_mrlt)
    ax.set_title(f"{context.title}\nGeometry Score {score:.4g}", fontsize=9)
    ax.legend(fontsize=8)
    plots.save_figure(fig, context.picture)
