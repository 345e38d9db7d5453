"""MS-SSIM (Wang, Simoncelli & Bovik 2003) and the diversity score built on it (Odena et al. 2017).

SSIM compares two images window by window. With Gaussian-weighted local means mu, variances
sigma^2 and covariance sigma_ab (weights summing to 1: the biased estimates, as Wang's MATLAB code
and TF's `tf.image.ssim` compute them),

    l(a, b)  = (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1)                (Wang et al. 2003, eq. 1)
    cs(a, b) = (2 sigma_ab + C2) / (sigma_a^2 + sigma_b^2 + C2)    (eqs. 2-3 with C3 = C2 / 2)
    C1 = (K1 L)^2, C2 = (K2 L)^2, K1 = 0.01, K2 = 0.03, L the images' dynamic range,

and SSIM is the mean over the windows of l * cs (Wang et al. 2004, eq. 13). MS-SSIM repeats the
comparison on the images average-pooled 2x2 M - 1 times and combines the scales j = 1..M as

    MS-SSIM = l_M^{w_M} * prod_{j=1..M} cs_j^{w_j}                        (Wang et al. 2003, eq. 7)

with the published weights w = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333) for M = 5 (their
cross-scale calibration).
As Wang's MATLAB `msssim.m` and TF's `tf.image.ssim_multiscale`: cs_j is the mean of the cs map
at scale j < M, the last factor is the mean SSIM map (l * cs) at scale M, and a negative factor
(structure anticorrelated, which a fractional power cannot take) counts as 0 (TF's relu). An odd
side is padded with a copy of its last row or column before the 2x2 pooling (TF's).

Choices made here, each an argument:
- The range. The luminance term assumes intensities >= 0: in jaxgen's [-1, 1] two windows of
  means +0.3 and -0.3 would give l < 0, whose fractional power is undefined. The images are
  therefore shifted by the low end of `value_range` (default jaxgen's (-1, 1)) and L is the
  range's width (2): exactly SSIM on [0, 1] with L = 1, or on [0, 255] with L = 255 (SSIM is
  unchanged when images and L are scaled together). Values outside `value_range` are refused.
- Small images. The window is compared "valid" (only where it fits, as Wang's code and TF), so
  each scale must be at least the window: with sides halved rounding up, M scales of an n x n
  window need (n - 1) 2^(M - 1) + 1 px, 161 px for 5 scales of 11x11.
  `num_scales=None` takes the most scales the size allows (at most 5) and renormalises their
  published weights to sum to 1 (as DeepFaceLab's MsSsim layer does); jaxgen's 16x16 digits get 1
  scale (plain SSIM) with the 11x11 window and 2 with a 7x7 one (`window_size=7`). A `num_scales`
  the size cannot hold is refused, naming the size it needs.

The diversity score (Odena et al. 2017, Sec. 4.2): the mean MS-SSIM of random pairs of distinct
images within a class, lower = more diverse. The paper does not say how many pairs; Borji 2018
("Pros and cons of GAN evaluation measures") reports 100 per class. `num_pairs` defaults to 1000:
the same mean, less noise.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

__all__ = [
  "Diversity",
  "MS_SSIM_WEIGHTS",
  "largest_num_scales",
  "ms_ssim",
  "msssim_diversity",
  "scale_weights",
  "ssim",
]

# The exponents of the five scales, finest first (Wang et al. 2003, cross-scale calibration).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
K1, K2 = 0.01, 0.03  # Wang et al. 2004, Sec. III
WINDOW_SIZE, SIGMA = 11, 1.5  # the 11x11 Gaussian window of sigma 1.5 (Wang et al. 2004, Sec. III)
VALUE_RANGE = (-1.0, 1.0)  # where jaxgen's image data sets keep their pixels
# Pairs per class: the mean of 100 pairs of digits varies by about 0.02 from draw to draw, as much
# as three digits GANs differ; that of 1000 by about 0.005 (docs/results/ms_ssim.md).
PAIRS = 1000
PAIRS_PER_CALL = 1024  # pairs scored at once: bounds the memory of a large num_pairs


# --- the pieces ---------------------------------------------------------------------------------


def gaussian_window(window_size: int, sigma: float) -> np.ndarray:
  """The 1-D Gaussian weights exp(-t^2 / (2 sigma^2)), t the offset from the window's centre,
  normalised to sum to 1 (float64); the 2-D window is their outer product (as MATLAB's
  `fspecial('gaussian')`)."""
  offsets = np.arange(window_size, dtype=np.float64) - (window_size - 1) / 2
  weights = np.exp(-(offsets**2) / (2.0 * sigma**2))
  return weights / weights.sum()


def _valid_filter(size: int, window: np.ndarray) -> np.ndarray:
  """[size - n + 1, size] matrix whose row i holds `window` at columns i..i+n-1: a 'valid'
  correlation along one axis as a matrix product."""
  rows = size - len(window) + 1
  matrix = np.zeros((rows, size))
  for i in range(rows):
    matrix[i, i : i + len(window)] = window
  return matrix


def _local_means(maps: np.ndarray, window: np.ndarray) -> np.ndarray:
  """Gaussian-weighted means of `maps` [..., H, W, C] over every window that fits ('valid')."""
  height, width = maps.shape[-3:-1]
  rows, columns = _valid_filter(height, window), _valid_filter(width, window)
  # One axis at a time (the window is separable), as matrix products over [..., C, H, W].
  planes = np.moveaxis(maps, -1, -3)
  return np.moveaxis(rows @ planes @ columns.T, -3, -1)


def ssim_maps(a: np.ndarray, b: np.ndarray, window: np.ndarray, data_range: float):
  """(l, cs) maps [N, H - n + 1, W - n + 1, C] of images a, b >= 0 [N, H, W, C] (float64)."""
  c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
  mean_a, mean_b, mean_aa, mean_bb, mean_ab = _local_means(
    np.stack([a, b, a * a, b * b, a * b]), window
  )
  var_a, var_b = mean_aa - mean_a**2, mean_bb - mean_b**2
  covariance = mean_ab - mean_a * mean_b
  luminance = (2 * mean_a * mean_b + c1) / (mean_a**2 + mean_b**2 + c1)  # 2003, eq. 1
  contrast_structure = (2 * covariance + c2) / (var_a + var_b + c2)  # 2003, eqs. 2-3, C3 = C2/2
  return luminance, contrast_structure


def downsample(images: np.ndarray) -> np.ndarray:
  """`images` [N, H, W, C] average-pooled 2x2 with stride 2; an odd side is first padded with a
  copy of its last row or column (TF's `ssim_multiscale`), so a side s becomes ceil(s / 2)."""
  height, width = images.shape[1:3]
  images = np.pad(images, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
  n, h, w, c = images.shape
  return images.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def largest_num_scales(height: int, width: int, window_size: int = WINDOW_SIZE) -> int:
  """The most scales (at most 5) at which images of `height` x `width` still hold the window:
  each pooling halves a side (rounding up); 0 when the images are smaller than the window."""
  scales, side = 0, min(height, width)
  while scales < len(MS_SSIM_WEIGHTS) and side >= window_size:
    scales, side = scales + 1, math.ceil(side / 2)
  return scales


def scale_weights(num_scales: int) -> np.ndarray:
  """The published weights of the first `num_scales` scales renormalised to sum to 1 (all five:
  the published ones, whose sum is 1.0001)."""
  weights = np.asarray(MS_SSIM_WEIGHTS[:num_scales], np.float64)
  return weights if num_scales == len(MS_SSIM_WEIGHTS) else weights / weights.sum()


# --- checks ---------------------------------------------------------------------------------------


def _check_window(window_size, sigma) -> None:
  """An odd integer window of at least 1 pixel and a finite sigma > 0, else a ValueError."""
  if not isinstance(window_size, numbers.Integral) or window_size < 1 or window_size % 2 == 0:
    raise ValueError(
      f"window_size must be an odd integer >= 1 (a window centred on its pixel); got "
      f"{window_size!r}."
    )
  if not (isinstance(sigma, numbers.Real) and math.isfinite(sigma) and sigma > 0):
    raise ValueError(f"sigma must be a finite number > 0; got {sigma!r}.")


def resolved_num_scales(height: int, width: int, window_size: int, num_scales) -> int:
  """`num_scales` (None: the most `largest_num_scales` allows) checked against the image size;
  a ValueError names the size the scales need, or the window that fits."""
  most = largest_num_scales(height, width, window_size)
  if most == 0:
    raise ValueError(
      f"images of {height}x{width} are smaller than the {window_size}x{window_size} window; "
      f"give window_size <= {min(height, width)} (odd)."
    )
  if num_scales is None:
    return most
  top = len(MS_SSIM_WEIGHTS)
  if not isinstance(num_scales, numbers.Integral) or not 1 <= num_scales <= top:
    raise ValueError(f"num_scales must be an integer in [1, {top}] or None; got {num_scales!r}.")
  if num_scales > most:
    needed = (window_size - 1) * 2 ** (num_scales - 1) + 1  # sides halve rounding up
    raise ValueError(
      f"num_scales={num_scales} with a {window_size}x{window_size} window needs images of at "
      f"least {needed}x{needed}; got {height}x{width}: give num_scales <= {most}, a smaller "
      "window_size, or num_scales=None."
    )
  return int(num_scales)


def _checked_images(name: str, images, value_range) -> np.ndarray:
  """`images` [N, H, W, C] as float64 shifted to [0, high - low], else a one-line ValueError."""
  images = np.asarray(images)
  if images.ndim != 4:
    raise ValueError(
      f"{name} must be images [N, H, W, C]; got shape {images.shape} (add the axes: e.g. "
      "x[None, ..., None] for one grey image)."
    )
  if not (np.issubdtype(images.dtype, np.floating) or np.issubdtype(images.dtype, np.integer)):
    raise ValueError(f"{name} must hold numbers; got dtype {images.dtype}.")
  images = images.astype(np.float64)
  low, high = value_range
  if not np.all(np.isfinite(images)):
    raise ValueError(f"{name} holds NaN or inf values.")
  if images.size and (images.min() < low or images.max() > high):
    raise ValueError(
      f"{name} holds values from {images.min():.4g} to {images.max():.4g}, outside value_range "
      f"({low:g}, {high:g}); clip them to it (as jaxgen.sample does) or give their range."
    )
  return images - low


def _checked_range(value_range) -> float:
  """The width of `value_range` (low, high), a ValueError unless low < high are finite."""
  try:
    low, high = (float(v) for v in value_range)
  except (TypeError, ValueError):
    low = high = math.nan
  if not (math.isfinite(low) and math.isfinite(high) and low < high):
    raise ValueError(
      f"value_range must be (low, high) with low < high, e.g. (-1, 1) for jaxgen's images or "
      f"(0, 255) for uint8; got {value_range!r}."
    )
  return high - low


def _checked_pair(images_a, images_b, value_range) -> tuple[np.ndarray, np.ndarray, float]:
  """Both image sets checked and shifted (`_checked_images`), of one shape, and L."""
  data_range = _checked_range(value_range)
  a = _checked_images("images_a", images_a, value_range)
  b = _checked_images("images_b", images_b, value_range)
  if a.shape != b.shape:
    raise ValueError(f"images_a and images_b must have one shape; got {a.shape} and {b.shape}.")
  return a, b, data_range


# --- SSIM and MS-SSIM ---------------------------------------------------------------------------


def ssim(
  images_a,
  images_b,
  *,
  window_size: int = WINDOW_SIZE,
  sigma: float = SIGMA,
  value_range: tuple[float, float] = VALUE_RANGE,
) -> np.ndarray:
  """Single-scale SSIM (Wang et al. 2004, eq. 13) of each pair (images_a[i], images_b[i]).

  Args:
    images_a, images_b: images [N, H, W, C] of one shape, with values in `value_range`.
    window_size: side of the Gaussian window (odd); compared where it fits ('valid').
    sigma: the window's standard deviation in pixels.
    value_range: (low, high) of the pixels: (-1, 1) for jaxgen's images, (0, 255) for uint8.

  Returns:
    float64 [N]: the mean SSIM map per image, averaged over the channels; in [-1, 1], 1 for
    identical images. Equals `skimage.metrics.structural_similarity` with gaussian_weights=True,
    use_sample_covariance=False and data_range = high - low where the windows agree.
  """
  _check_window(window_size, sigma)
  a, b, data_range = _checked_pair(images_a, images_b, value_range)
  resolved_num_scales(*a.shape[1:3], window_size, 1)
  luminance, contrast_structure = ssim_maps(a, b, gaussian_window(window_size, sigma), data_range)
  return (luminance * contrast_structure).mean(axis=(1, 2, 3))


def ms_ssim(
  images_a,
  images_b,
  *,
  num_scales: int | None = None,
  window_size: int = WINDOW_SIZE,
  sigma: float = SIGMA,
  value_range: tuple[float, float] = VALUE_RANGE,
) -> np.ndarray:
  """MS-SSIM (Wang et al. 2003, eq. 7) of each pair (images_a[i], images_b[i]); see the module
  docstring for the conventions (TF's `tf.image.ssim_multiscale`, the range, small images).

  Args:
    images_a, images_b: images [N, H, W, C] of one shape, with values in `value_range`.
    num_scales: scales M (1..5); None: the most the size allows with `window_size` (5 from
      161 px with the 11x11 window; 1 for 16x16 digits, 2 with a 7x7 window). With M < 5 the
      first M published weights are renormalised to sum to 1.
    window_size, sigma, value_range: as `ssim`'s.

  Returns:
    float64 [N] in [0, 1]: per pair, the product over the scales of the non-negative parts of
    cs_j (j < M) and of the mean SSIM at scale M, each to its weight, averaged over channels.
  """
  _check_window(window_size, sigma)
  a, b, data_range = _checked_pair(images_a, images_b, value_range)
  scales = resolved_num_scales(*a.shape[1:3], window_size, num_scales)
  window, weights = gaussian_window(window_size, sigma), scale_weights(scales)
  product = np.ones((a.shape[0], a.shape[3]))
  for scale in range(scales):
    if scale:
      a, b = downsample(a), downsample(b)
    luminance, contrast_structure = ssim_maps(a, b, window, data_range)
    # The finest M - 1 scales give cs alone; the coarsest gives l * cs (eq. 7).
    term = contrast_structure if scale < scales - 1 else luminance * contrast_structure
    product *= np.maximum(term.mean(axis=(1, 2)), 0.0) ** weights[scale]
  return product.mean(axis=1)


# --- the diversity score ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Diversity:
  """The diversity score of a set of images (Odena et al. 2017, Sec. 4.2): lower = more diverse.

  Attributes:
    value: the mean MS-SSIM of the pairs; with classes, the mean over the classes of each class's
      mean (every class weighs the same).
    per_class: class -> the mean MS-SSIM of its pairs; {} when scored without classes.
    num_pairs: the pairs scored, all classes together.
    num_scales, window_size: the MS-SSIM's scales and window.
  """

  value: float
  per_class: dict[int, float]
  num_pairs: int
  num_scales: int
  window_size: int

  def __float__(self) -> float:
    """The score, `value`."""
    return self.value


def pair_indices(count: int, num_pairs: int, rng: np.random.Generator) -> tuple:
  """(i, j), i < j: `num_pairs` pairs of distinct items of `count` drawn uniformly without
  replacement from the count (count - 1) / 2 pairs; every pair once when there are no more."""
  total = count * (count - 1) // 2
  if num_pairs >= total:
    return np.triu_indices(count, 1)
  k = np.sort(rng.choice(total, size=num_pairs, replace=False))
  # Pair k is (i, j) with j the largest such that j (j - 1) / 2 <= k and i = k - j (j - 1) / 2;
  # the float root is corrected by one either way where rounding misses.
  j = np.floor((1 + np.sqrt(1 + 8 * k.astype(np.float64))) / 2).astype(np.int64)
  j -= j * (j - 1) // 2 > k
  j += (j + 1) * j // 2 <= k
  return k - j * (j - 1) // 2, j


def _mean_over_pairs(images: np.ndarray, first, second, options: dict) -> float:
  """The mean MS-SSIM of the pairs (images[first], images[second]), in chunks."""
  values = [
    ms_ssim(
      images[first[s : s + PAIRS_PER_CALL]], images[second[s : s + PAIRS_PER_CALL]], **options
    )
    for s in range(0, len(first), PAIRS_PER_CALL)
  ]
  return float(np.concatenate(values).mean())


def _groups(count: int, labels) -> dict[int, np.ndarray] | None:
  """Class -> the indices of its images (None without labels); a ValueError for labels that do
  not fit or a class of fewer than two images (no pair)."""
  if labels is None:
    return None
  labels = np.asarray(labels)
  if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(
      f"labels must be integers [N] for the {count} images; got shape {labels.shape}, dtype "
      f"{labels.dtype} (labels=None scores all pairs)."
    )
  groups = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}
  lonely = {c: len(g) for c, g in groups.items() if len(g) < 2}
  if lonely:
    raise ValueError(
      f"classes {sorted(lonely)} have a single image, no pair to compare; give at least two "
      "images of every class, or leave them out."
    )
  return groups


def msssim_diversity(
  images,
  labels=None,
  num_pairs: int = PAIRS,
  seed: int = 0,
  *,
  num_scales: int | None = None,
  window_size: int = WINDOW_SIZE,
  sigma: float = SIGMA,
  value_range: tuple[float, float] = VALUE_RANGE,
) -> Diversity:
  """The diversity score of Odena et al. 2017 (Sec. 4.2): the mean MS-SSIM over random pairs of
  distinct images within a class; lower = more diverse, 1 for a set of identical images.

  Args:
    images: images [N, H, W, C] with values in `value_range`.
    labels: integer class of each image [N]: pairs are drawn within each class, `num_pairs` per
      class, and the score is the mean of the class means. None: `num_pairs` pairs over all the
      images (then pairs of different digits count too, so the score is lower than within
      classes: compare only scores drawn the same way).
    num_pairs: pairs per class, drawn without replacement from the class's n (n - 1) / 2 pairs
      of distinct images; a class with fewer pairs gives all of them. 100 per class is the count
      Borji 2018 reports for Odena et al.; 1000 estimates the same mean with a third of the noise.
    seed: the draw of the pairs.
    num_scales, window_size, sigma, value_range: the MS-SSIM's (`ms_ssim`).

  Returns:
    A `Diversity`: the score, the mean per class, the pairs scored, the scales and window used.
  """
  if not isinstance(num_pairs, numbers.Integral) or num_pairs < 1:
    raise ValueError(f"num_pairs must be an integer >= 1; got {num_pairs!r}.")
  if np.ndim(images) != 4:
    raise ValueError(f"images must be images [N, H, W, C]; got shape {np.shape(images)}.")
  _check_window(window_size, sigma)
  _checked_range(value_range)
  images = np.asarray(images)
  if len(images) < 2:
    raise ValueError(f"images must hold at least two images to form a pair; got {len(images)}.")
  scales = resolved_num_scales(*images.shape[1:3], window_size, num_scales)
  options = dict(num_scales=scales, window_size=window_size, sigma=sigma, value_range=value_range)
  _checked_images("images", images, value_range)  # one error for the whole set, before any pair
  rng = np.random.default_rng(seed)
  groups = _groups(len(images), labels)
  if groups is None:
    first, second = pair_indices(len(images), int(num_pairs), rng)
    value = _mean_over_pairs(images, first, second, options)
    return Diversity(value, {}, len(first), scales, window_size)
  per_class, pairs = {}, 0
  for label, members in groups.items():
    first, second = pair_indices(len(members), int(num_pairs), rng)
    per_class[label] = _mean_over_pairs(images, members[first], members[second], options)
    pairs += len(first)
  value = float(np.mean(list(per_class.values())))
  return Diversity(value, per_class, pairs, scales, window_size)
