"""The "ms_ssim" evaluator: the diversity score of Odena et al. 2017 (Sec. 4.2), the mean MS-SSIM
(Wang et al. 2003) over random pairs of samples, for the run's samples and for the held-out data.

Scores (lower = more diverse; 1 for identical images):
- "ms_ssim": of `eval.num_samples` samples. A conditional algorithm's (CGAN, ACGAN, CVAE:
  `num_classes` > 0) samples are paired within their class (sample i has class i % num_classes)
  and the score is the mean of the class means, as Odena et al. score a class-conditional model.
  An unconditional algorithm's samples have no class, and are paired over all of them: assigning
  classes with a classifier would mix its errors into the score and need an extractor.
- "ms_ssim_real": the same of every held-out example (never trained on): within the held-out
  labels for a conditional algorithm, over all pairs otherwise, so that the two scores compare.
  A collapsed generator scores above the data; one below it is more diverse, or noisier (noise
  lowers MS-SSIM too): read it beside FID and precision.

Samples are clipped to the data range [-1, 1] first (as `jaxgen.sample` does before it makes
pixels; a warning counts the values outside it, NaN becoming -1), then MS-SSIM reads them with
L = 2 on the range shifted to [0, 2] (`jaxgen.metrics.ms_ssim`). The pairs are drawn from the
evaluation's seed, so each evaluation of a run scores the same pairs of sample indices.
"""

from __future__ import annotations

import warnings

import numpy as np

from jaxgen.evaluators import BaseEvaluator, Context, register_evaluator
from jaxgen.evaluators.base import algorithm_class
from jaxgen.metrics.ms_ssim import (
  MS_SSIM_WEIGHTS,
  PAIRS,
  SIGMA,
  VALUE_RANGE,
  WINDOW_SIZE,
  msssim_diversity,
  resolved_num_scales,
)
from jaxgen.options import Option, integer, number


def _odd(value) -> int:
  """A check: an odd integer >= 1 (a window centred on its pixel)."""
  value = integer(1)(value)
  if value % 2 == 0:
    raise ValueError(f"must be an odd integer >= 1; got {value!r}.")
  return value


@register_evaluator("ms_ssim")
class MSSSIMDiversity(BaseEvaluator):
  """The MS-SSIM diversity of the samples and of the held-out data; see the module docstring."""

  OPTIONS = (
    Option(
      "num_pairs",
      PAIRS,
      "random pairs of distinct images per class (of all images when unconditional); a class "
      "with fewer gives all of them. 100 is the count reported for Odena et al. 2017: more "
      "estimate the same mean with less noise",
      check=integer(1),
    ),
    Option(
      "num_scales",
      0,
      f"MS-SSIM scales (1..{len(MS_SSIM_WEIGHTS)}); 0: the most the image size allows with the "
      "window, the published weights renormalised (16x16 digits: 1 with 11x11, 2 with 7x7)",
      check=integer(0),
    ),
    Option("window_size", WINDOW_SIZE, "side of the Gaussian window (odd)", check=_odd),
    Option(
      "sigma", SIGMA, "the window's standard deviation, pixels", check=number(0, open_low=True)
    ),
  )

  def __init__(self, config, options):
    """See `BaseEvaluator`; the held-out score is computed at the first call, then kept."""
    super().__init__(config, options)
    self._real = None  # the held-out score: the same at every evaluation

  @classmethod
  def check(cls, options, algorithm, facts) -> None:
    """Images (H, W, C) that hold the window at the scales asked, from a generator that does
    not translate held-out images (CycleGAN)."""
    shape = tuple(facts.example_shape)
    if len(shape) != 3:
      raise ValueError(
        f"'ms_ssim' compares (H, W, C) images, not examples of shape {shape}; name 'points' for "
        "1-D or 2-D points."
      )
    built = algorithm_class(algorithm)
    if built is not None and built.SAMPLE_INPUTS:
      raise ValueError(
        f"'ms_ssim' scores a generator's samples beside the held-out images; {built.__name__}'s "
        "samples translate held-out images (name 'translation' for it)."
      )
    scales = options.num_scales or None
    resolved_num_scales(shape[0], shape[1], options.window_size, scales)

  def diversity(self, images: np.ndarray, labels, seed: int) -> float:
    """The diversity score of `images` with this evaluator's options."""
    score = msssim_diversity(
      images,
      labels,
      self.options.num_pairs,
      seed,
      num_scales=self.options.num_scales or None,
      window_size=self.options.window_size,
      sigma=self.options.sigma,
      value_range=VALUE_RANGE,
    )
    return score.value

  def __call__(self, context: Context) -> dict[str, float]:
    """{"ms_ssim": of the samples, "ms_ssim_real": of the held-out data}."""
    classes = context.algorithm.num_classes
    samples = _in_range(context.samples)
    sample_labels = np.arange(len(samples)) % classes if classes else None
    scores = {"ms_ssim": self.diversity(samples, sample_labels, context.data.seed)}
    if self._real is None:
      held = context.data.every_held_out
      self._real = self.diversity(held["x"], held["y"] if classes else None, context.data.seed)
    return scores | {"ms_ssim_real": self._real}


def _in_range(samples) -> np.ndarray:
  """`samples` clipped to the data range, with a warning that counts the values clipped."""
  samples = np.asarray(samples, np.float64)
  low, high = VALUE_RANGE
  outside = int(np.count_nonzero(~((samples >= low) & (samples <= high))))
  if outside:
    warnings.warn(
      f"ms_ssim: {outside} of {samples.size} sample values lay outside the data range "
      f"[{low:g}, {high:g}] and were clipped to it.",
      stacklevel=2,
    )
  return np.clip(np.nan_to_num(samples, nan=low), low, high)
