"""Pixel distances mislead: a digit is often closer, in pixel L2, to a digit of ANOTHER class than
to itself shifted by one pixel (or even half a pixel); a learned feature space need not agree.

This is the argument of Larsen et al. 2016 (sec. 1-2) for measuring VAE reconstructions in the
feature space of a GAN discriminator, Dis_l, instead of pixels: element-wise errors punish a small
translation as heavily as a change of content. Here, on the bundled digits padded to 16x16:

- `shift`: a sub-pixel translation by bilinear interpolation (out(x, y) = in(x - dx, y - dy), the
  input read between pixels as the linear interpolation of its neighbours; e.g. Szeliski,
  "Computer Vision", 2010, sec. 3.6.1), pixels coming in from outside filled with the background.
  Bilinear, not Fourier: a Fourier shift wraps the digit around the border and rings on these
  non-band-limited 8x8 strokes. Bilinear is linear in the shift: shift(a, t) = (1 - t) a +
  t shift(a, 1) for 0 <= t <= 1, so ||a - shift(a, t)|| = t ||a - shift(a, 1)|| (the half-pixel
  shift is also a blur, averaging two neighbours).
- for every image a: d_own = ||f(a) - f(shift(a, s))|| and d_other = min over images b of another
  class ||f(a) - f(b)||, for f = pixels, VAE-GAN's Dis_l features (`jaxgen.algorithms.vaegan`,
  trained through the one loop), Dis_l at initialisation, and the digits classifier's features
  (and, in pixels, with b also moved by a whole pixel: "a shifted copy of a different image");
  reported as the fraction of images with d_other < d_own and the median of d_own / d_other.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

# The digits' background value (jaxgen.data.digits maps raw 0 to -1).
BACKGROUND = -1.0
# The translations compared, in pixels, along x.
SHIFTS = (0.5, 1.0)


def _shift_axis(images, offset: float, axis: int, fill: float):
  """out[j] = in(j - offset) along `axis`, linearly interpolated, `fill` outside [0, n)."""
  n = images.shape[axis]
  whole = math.floor(offset)
  frac = offset - whole
  # in(j - whole - frac) = (1 - frac) in[j - whole] + frac in[j - whole - 1] (linear interpolation
  # between the two neighbours of j - offset); whole-pixel moves are a padded slice.
  pad = n + abs(whole) + 1
  widths = [(0, 0)] * images.ndim
  widths[axis] = (pad, pad)
  padded = jnp.pad(images, widths, constant_values=fill)

  def moved(by):  # in[j - by] for j in [0, n), fill outside
    return jax.lax.slice_in_dim(padded, pad - by, pad - by + n, axis=axis % images.ndim)

  if frac == 0:
    return moved(whole)
  return (1 - frac) * moved(whole) + frac * moved(whole + 1)


def shift(images, dx: float, dy: float = 0.0, *, fill: float = BACKGROUND) -> jax.Array:
  """Translates images [..., H, W, C] by (dx, dy) pixels (+x right, +y down) by bilinear
  interpolation: out(x, y) = in(x - dx, y - dy), `fill` where that point lies outside the image.

  Integer shifts move pixels exactly (no interpolation). Bilinear interpolation is separable, so
  the x and y moves are done one after the other.
  """
  images = jnp.asarray(images)
  if images.ndim < 3:
    raise ValueError(f"shift takes images [..., H, W, C]; got shape {images.shape}.")
  if not (math.isfinite(dx) and math.isfinite(dy)):
    raise ValueError(f"shift needs finite dx, dy; got {dx!r}, {dy!r}.")
  return _shift_axis(_shift_axis(images, float(dx), -2, fill), float(dy), -3, fill)


def pairwise_distances(a, b) -> np.ndarray:
  """Euclidean distances [N, M] between the rows of a [N, ...] and b [M, ...] (flattened), from
  ||u - v||^2 = ||u||^2 + ||v||^2 - 2 u.v in float64 (clipped at 0 against rounding)."""
  a = np.asarray(a, np.float64).reshape(len(a), -1)
  b = np.asarray(b, np.float64).reshape(len(b), -1)
  squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
  return np.sqrt(np.maximum(squared, 0.0))


class ShiftComparison(NamedTuple):
  """Per image a: its distance to its own shift and to the nearest image of another class."""

  own: np.ndarray  # [N] ||f(a) - f(shift(a))||
  other: np.ndarray  # [N] min over b with label(b) != label(a) of ||f(a) - f(b)||
  nearest: np.ndarray  # [N] the index of that b

  @property
  def fraction_other_closer(self) -> float:
    """The fraction of images with a different-class image closer than their own shift."""
    return float(np.mean(self.other < self.own))

  @property
  def median_ratio(self) -> float:
    """median of d_own / d_other (> 1: the shift moves an image further than a class change)."""
    return float(np.median(self.own / self.other))


def compare_shift_to_other_class(
  features, shifted_features, labels, candidates=None
) -> ShiftComparison:
  """d_own[i] = ||f_i - f(shift(x_i))||, d_other[i] = min_{j: y_j != y_i} ||f_i - c_j||.

  Args:
    features: [N, ...] f of the images; shifted_features: [N, ...] f of their shifts; labels: [N].
    candidates: [N, ...] what the other-class images are taken as, c_j (default f_j itself; e.g.
      f of the images shifted by a whole pixel).
  """
  features, shifted_features = np.asarray(features), np.asarray(shifted_features)
  candidates = features if candidates is None else np.asarray(candidates)
  labels = np.asarray(labels)
  if not (features.shape == shifted_features.shape == candidates.shape) or len(labels) != len(
    features
  ):
    raise ValueError(
      f"features {features.shape}, shifted_features {shifted_features.shape}, candidates "
      f"{candidates.shape} and labels {labels.shape} must describe the same N images."
    )
  if len(np.unique(labels)) < 2:
    raise ValueError("compare_shift_to_other_class needs images of at least two classes.")
  n = len(features)
  flat, shifted = features.reshape(n, -1), shifted_features.reshape(n, -1)
  own = np.linalg.norm(flat.astype(np.float64) - shifted.astype(np.float64), axis=1)
  distances = pairwise_distances(flat, candidates.reshape(n, -1))
  distances[labels[:, None] == labels[None, :]] = np.inf  # same class (and itself): not eligible
  nearest = np.argmin(distances, axis=1)
  return ShiftComparison(own=own, other=distances[np.arange(n), nearest], nearest=nearest)


def closest_of(comparisons) -> ShiftComparison:
  """Per image, the comparison (of several with the same `own`, e.g. one per shifted copy of the
  other images) whose other-class image is nearest."""
  others = np.stack([c.other for c in comparisons])
  best = np.argmin(others, axis=0)
  columns = np.arange(others.shape[1])
  nearest = np.stack([c.nearest for c in comparisons])[best, columns]
  return ShiftComparison(own=comparisons[0].own, other=others[best, columns], nearest=nearest)


class PixelDistancesResult(NamedTuple):
  """What `pixel_distances_experiment` measured."""

  images: np.ndarray  # [N, 16, 16, 1] the digits compared
  labels: np.ndarray  # [N]
  shifts: tuple[float, ...]  # the x-translations, pixels
  # space name -> shift -> comparison; spaces: "pixels", "Dis_l (trained)", "Dis_l (init)",
  # "classifier", and "pixels, b shifted <= 1 px" (b may move by a whole pixel in x and/or y)
  comparisons: dict[str, dict[float, ShiftComparison]]
  example: int  # the image a the figure shows
  example_to_other: dict[str, float]  # space -> ||f(a) - f(b)||, b a's pixel-nearest other class
  vaegan_steps: int


def vaegan_config(*, quick: bool, seed: int):
  """`jaxgen/configs/vaegan_digits.py` for this experiment (quick: 30 steps of narrow nets)."""
  from jaxgen.configs import vaegan_digits

  config = vaegan_digits.get_config()
  config.seed = seed
  config.progress_bar = False
  config.num_steps = 1000
  if quick:
    config.num_steps = 30
    config.batch_size = 32
    config.model.encoder = {"name": "conv", "base_features": 8, "hidden": 32}
    config.model.decoder = {"name": "conv", "base_features": 8}
    config.model.discriminator = {"name": "dcgan", "base_features": 8}
  return config


def dis_l_features(run, state, images, batch: int = 512) -> np.ndarray:
  """VAE-GAN's Dis_l(x) [N, F] (`VAEGAN.features`: the discriminator's sown last-conv output, in
  inference mode), in fixed-size batches so one compilation serves all."""
  features = jax.jit(run.algorithm.features)
  n = len(images)
  padded = np.concatenate([images, np.repeat(images[-1:], -n % batch, axis=0)])
  out = [np.asarray(features(state, padded[i : i + batch])) for i in range(0, len(padded), batch)]
  return np.concatenate(out)[:n]


def _digits(quick: bool) -> tuple[np.ndarray, np.ndarray]:
  """The digits compared, padded to 16x16, and their labels: all 1797 (quick: the 360 held-out
  ones)."""
  from jaxgen.data.digits import load_digits

  test_images, test_labels = load_digits("test", size=16)
  if quick:
    return test_images, test_labels
  train_images, train_labels = load_digits("train", size=16)
  return np.concatenate([train_images, test_images]), np.concatenate([train_labels, test_labels])


def _dis_l_before_and_after(config, images) -> tuple[np.ndarray, np.ndarray]:
  """Dis_l features of `images` at initialisation and after training `config` (a VAE-GAN) through
  `jaxgen.run.train.Run`."""
  from jaxgen.run import train

  run = train.Run(config)
  state = run.init_state()
  # Read before training: the train step donates (invalidates) `state`'s buffers.
  init_features = dis_l_features(run, state, images)
  for step in range(config.num_steps):
    state, _ = run.step(state, step)
  return init_features, dis_l_features(run, state, images)


def _compare_spaces(all_features: dict[str, np.ndarray], labels):
  """(space -> f of the images, space -> shift -> comparison), from `all_features[space]`: f of
  the images followed by f of their shifts by each of `SHIFTS`, stacked along the first axis."""
  features, comparisons = {}, {}
  for name, values in all_features.items():
    features[name], *shifted_features = np.split(values, 1 + len(SHIFTS))
    comparisons[name] = {
      s: compare_shift_to_other_class(features[name], f, labels)
      for s, f in zip(SHIFTS, shifted_features, strict=True)
    }
  return features, comparisons


def _compare_to_moved_others(images, shifted, labels) -> dict[float, ShiftComparison]:
  """In pixels, shift -> comparison where the other-class image b may itself be moved, by a whole
  pixel in x and/or y (exact moves): the seed's wording, "a shifted copy of a different image"."""
  offsets = [(ox, oy) for ox in (-1, 0, 1) for oy in (-1, 0, 1)]
  moved_others = [np.asarray(shift(images, ox, oy)) for ox, oy in offsets]
  return {
    s: closest_of(
      [compare_shift_to_other_class(images, shifted[s], labels, c) for c in moved_others]
    )
    for s in SHIFTS
  }


def _distances_to_other(features, comparisons, example: int) -> dict[str, float]:
  """space -> ||f(a) - f(b)|| for the image a = `example` and b its pixel-nearest other-class
  image."""
  other = comparisons["pixels"][SHIFTS[0]].nearest[example]
  return {
    name: float(np.linalg.norm(np.ravel(f[example]) - np.ravel(f[other])))
    for name, f in features.items()
  }


def pixel_distances_experiment(*, quick: bool = False, seed: int = 0) -> PixelDistancesResult:
  """Compares an image's distance to its own 0.5 and 1 px shifts with its distance to the nearest
  other-class image, in pixels and in feature spaces (see the module docstring).

  Images: all 1797 digits (quick: the 360 held-out ones), padded to 16x16. VAE-GAN: the
  `vaegan_digits` config trained for 1000 steps through `jaxgen.run.train.Run` (quick: 30 steps of
  narrow nets); Dis_l is also read at initialisation, to separate what training adds.
  """
  from jaxgen.metrics import load_digits_classifier

  images, labels = _digits(quick)
  shifted = {s: np.asarray(shift(images, s, 0.0)) for s in SHIFTS}
  config = vaegan_config(quick=quick, seed=seed)
  everything = np.concatenate([images, *shifted.values()])  # f of these, split by _compare_spaces
  init_features, trained_features = _dis_l_before_and_after(config, everything)
  all_features = {
    "pixels": everything,
    "Dis_l (trained)": trained_features,
    "Dis_l (init)": init_features,
    "classifier": np.asarray(load_digits_classifier().features(everything)),
  }
  features, comparisons = _compare_spaces(all_features, labels)
  comparisons["pixels, b shifted <= 1 px"] = _compare_to_moved_others(images, shifted, labels)
  example = pick_example(comparisons)
  return PixelDistancesResult(
    images=images,
    labels=labels,
    shifts=SHIFTS,
    comparisons=comparisons,
    example=example,
    example_to_other=_distances_to_other(features, comparisons, example),
    vaegan_steps=config.num_steps,
  )


def pick_example(comparisons) -> int:
  """The image with the largest pixel d_own / d_other at the half-pixel shift among those whose
  trained Dis_l puts the own shift closer (if any; else among all): the figure's case."""
  pixels, dis_l = comparisons["pixels"][SHIFTS[0]], comparisons["Dis_l (trained)"][SHIFTS[0]]
  ratio = pixels.own / pixels.other
  candidates = dis_l.own < dis_l.other
  if candidates.any():
    ratio = np.where(candidates, ratio, -np.inf)
  return int(np.argmax(ratio))


def draw_pixel_distances(result: PixelDistancesResult, axes) -> None:
  """Panels: the image a, a shifted by half a pixel, the nearest other-class image b (distances in
  pixels and Dis_l in the titles), and, on a 4th axis if given, the fraction of images with an
  other-class image closer than their own shift, per feature space and shift."""
  axes = list(np.ravel(axes))
  i, half = result.example, result.shifts[0]
  pixels, dis_l = result.comparisons["pixels"][half], result.comparisons["Dis_l (trained)"][half]
  j = pixels.nearest[i]
  dis_l_other = result.example_to_other["Dis_l (trained)"]
  panels = [
    (result.images[i], f"a (class {result.labels[i]})"),
    (
      np.asarray(shift(result.images[i], half, 0.0)),
      f"a shifted {half:g} px\npixels {pixels.own[i]:.2f}, Dis_l {dis_l.own[i]:.2f}",
    ),
    (
      result.images[j],
      f"b (class {result.labels[j]}), nearest other class\n"
      f"pixels {pixels.other[i]:.2f}, Dis_l {dis_l_other:.2f}",
    ),
  ]
  for ax, (image, title) in zip(axes[:3], panels, strict=False):
    ax.imshow(image[..., 0], cmap="gray_r", vmin=-1, vmax=1)
    ax.set_title(title, fontsize=8)
    margin = 2  # the 16x16 digits are padded 8x8 ones: show the middle 12x12
    ax.set_xlim(margin - 0.5, image.shape[1] - margin - 0.5)
    ax.set_ylim(image.shape[0] - margin - 0.5, margin - 0.5)
    ax.set_xticks([])
    ax.set_yticks([])
  if len(axes) > 3:
    ax = axes[3]
    names = list(result.comparisons)
    width = 0.8 / len(result.shifts)
    for k, s in enumerate(result.shifts):
      fractions = [result.comparisons[name][s].fraction_other_closer for name in names]
      ax.bar(np.arange(len(names)) + k * width, fractions, width, label=f"shift {s:g} px")
    ax.set_xticks(np.arange(len(names)) + width * (len(result.shifts) - 1) / 2)
    ax.set_xticklabels(names, rotation=20, fontsize=7)
    ax.set_ylim(0, 1.25)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("fraction: other class closer")
    ax.set_title(f"{len(result.images)} digits; VAE-GAN {result.vaegan_steps} steps", fontsize=8)
    ax.legend(fontsize=7, loc="upper left", ncols=len(result.shifts))
