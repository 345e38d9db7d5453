"""Mode coverage on Gaussian mixtures, measured as PacGAN does (Lin et al. 2018, Sec. 5.1).

For a mixture of K isotropic Gaussians with centres c_1..c_K and a common std s, each generated
sample x is assigned to its nearest centre (Euclidean; with one common s this is also the nearest
in s-normalised distance, which the reference code uses). Then, following the reference code
(fjxmlzn/PacGAN, `pacgan/extensions.py`, `MetricLogger`) and the unrolled-GAN / VEEGAN papers:

- x is *high quality* when ||x - c_nearest|| < 3 s (strictly, as the reference code compares);
- the mode histogram counts, per centre, the high-quality samples assigned to it;
- a mode is *captured* when its count is at least 1;
- `high_quality` is the share of all samples that are high quality;
- `reverse_kl` is KL(p_g || p_data) between the normalised mode histogram p_g of the high-quality
  samples (the reference code's histogram) and the data's mode distribution, uniform 1/K:

      KL(p_g || p_data) = sum_i p_g(i) log(p_g(i) / (1 / K)) = sum_i p_g(i) log(K p_g(i))

  Empty bins of p_g contribute 0 (the limit p log p -> 0 as p -> 0), and p_data has no empty bin,
  so the value is finite: 0 for a perfectly balanced histogram, log K when all high-quality samples
  sit in one mode. When no sample is high quality p_g is undefined, and so is the divergence: it
  is reported as NaN (`REVERSE_KL_UNDEFINED` says why), never as a number that a collapse onto one
  mode also gives.
"""

from __future__ import annotations

import math

import numpy as np

from jaxgen.metrics._checks import as_matrix

# PacGAN / VEEGAN / unrolled GAN: high quality means within three standard deviations.
HIGH_QUALITY_STDS = 3.0
REVERSE_KL_UNDEFINED = (
  "reverse_kl is undefined (NaN): no generated sample is high quality (within 3 std of a mode), so "
  "the mode histogram p_g is empty"
)


def mode_histogram(samples, centers, std: float, num_stds: float = HIGH_QUALITY_STDS) -> np.ndarray:
  """Per mode, the number of high-quality samples whose nearest centre it is; int [K]."""
  samples = as_matrix("samples", samples)
  centers = as_matrix("centers", centers)
  if samples.shape[1] != centers.shape[1]:
    raise ValueError(
      f"samples [n, d] and centers [K, d] must share d; got {samples.shape} and {centers.shape}."
    )
  if samples.shape[0] == 0 or centers.shape[0] == 0:
    raise ValueError(
      f"Need at least one sample and one centre; got {samples.shape[0]} and {centers.shape[0]}."
    )
  if not (math.isfinite(std) and std > 0):
    raise ValueError(f"std must be a finite number > 0; got {std!r}.")
  if not (math.isfinite(num_stds) and num_stds > 0):
    raise ValueError(f"num_stds must be a finite number > 0; got {num_stds!r}.")
  distances = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)
  nearest = np.argmin(distances, axis=1)
  high_quality = distances[np.arange(samples.shape[0]), nearest] < num_stds * std
  return np.bincount(nearest[high_quality], minlength=centers.shape[0])


def mode_histograms(samples_per_group, centers, std: float) -> np.ndarray:
  """[G, K]: `mode_histogram` of each group of samples, e.g. of each MAD-GAN generator (the check
  that its generators cover different modes)."""
  return np.stack(
    [mode_histogram(np.asarray(samples), centers, std) for samples in samples_per_group]
  )


def reverse_kl_to_uniform(counts) -> float:
  """KL(p || uniform) of the normalised histogram `counts`; NaN when the histogram is empty (p is
  undefined: `REVERSE_KL_UNDEFINED`)."""
  counts = np.asarray(counts, dtype=np.float64)
  num_modes = counts.shape[0]
  total = counts.sum()
  if total == 0:
    return math.nan
  p = counts[counts > 0] / total
  return float(np.sum(p * np.log(num_modes * p)))


def mode_coverage(samples, centers, std: float) -> dict[str, float | int]:
  """Modes captured, share of high-quality samples and reverse KL, as PacGAN measures them.

  Args:
    samples: generated points [n, d] (PacGAN scores 2500).
    centers: the mixture's means [K, d].
    std: the mixture components' common standard deviation.

  Returns:
    {"modes": int, "high_quality": float in [0, 1], "reverse_kl": float >= 0, or NaN when no
    sample is high quality (`REVERSE_KL_UNDEFINED`)}.
  """
  counts = mode_histogram(samples, centers, std)
  return {
    "modes": int(np.count_nonzero(counts)),
    "high_quality": float(counts.sum() / np.shape(samples)[0]),
    "reverse_kl": reverse_kl_to_uniform(counts),
  }
