"""Tests of jaxgen.theory.pixels: the bilinear shift against whole-pixel moves done with np.roll
and against exact values on linear ramps, the distance comparison against brute-force loops, and
the claim itself on the held-out digits in pixel space."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from jaxgen.data import load_digits
from jaxgen.theory import pixels


def rolled_with_fill(image, dx, dy, fill):
  """An integer shift by np.roll, the wrapped-around rows and columns overwritten with `fill`."""
  out = np.roll(image, (dy, dx), axis=(0, 1))
  if dy > 0:
    out[:dy] = fill
  elif dy < 0:
    out[dy:] = fill
  if dx > 0:
    out[:, :dx] = fill
  elif dx < 0:
    out[:, dx:] = fill
  return out


@pytest.mark.parametrize("dx,dy", [(0, 0), (1, 0), (0, 2), (-3, 1), (2, -2), (9, 0)])
def test_integer_shift_is_roll_with_fill(dx, dy):
  image = np.random.default_rng(0).normal(size=(6, 7, 1)).astype(np.float32)
  out = np.asarray(pixels.shift(image, dx, dy, fill=-1.0))
  np.testing.assert_array_equal(out, rolled_with_fill(image, dx, dy, -1.0))


@pytest.mark.parametrize("offset", [0.5, -0.5, 1.5, 0.25])
def test_fractional_shift_of_a_linear_ramp_is_exact(offset):
  # in(x) = 3 + 2x is linear, so bilinear interpolation reads in(x - dx) exactly wherever x - dx
  # lies between two pixels of the image: out[x] = 3 + 2 (x - dx).
  width = 8
  ramp = 3.0 + 2.0 * np.arange(width, dtype=np.float64)
  image = np.tile(ramp, (5, 1))[..., None]
  x = np.arange(width)
  inside = (x - offset >= 0) & (x - offset <= width - 1)
  along_x = np.asarray(pixels.shift(image, offset, 0.0, fill=0.0))[..., 0]
  np.testing.assert_allclose(
    along_x[:, inside], np.tile(3.0 + 2.0 * (x - offset), (5, 1))[:, inside]
  )
  # The same along y, on the transposed ramp.
  along_y = np.asarray(pixels.shift(np.swapaxes(image, 0, 1), 0.0, offset, fill=0.0))[..., 0]
  np.testing.assert_allclose(along_y.T[:, inside], along_x[:, inside])


def test_half_pixel_shift_at_the_border_mixes_in_the_fill():
  image = np.full((3, 4, 1), 5.0)
  out = np.asarray(pixels.shift(image, 0.5, 0.0, fill=-1.0))[..., 0]
  np.testing.assert_allclose(out[:, 0], 0.5 * 5.0 + 0.5 * -1.0)  # in(-0.5): half fill
  np.testing.assert_allclose(out[:, 1:], 5.0)


def test_shift_rejects_bad_input():
  with pytest.raises(ValueError, match="H, W, C"):
    pixels.shift(np.zeros((4, 4)), 1.0)
  with pytest.raises(ValueError, match="finite"):
    pixels.shift(np.zeros((4, 4, 1)), float("nan"))


def test_pairwise_distances_match_scipy():
  rng = np.random.default_rng(2)
  a, b = rng.normal(size=(5, 3, 4)), rng.normal(size=(7, 12))
  np.testing.assert_allclose(pixels.pairwise_distances(a, b), cdist(a.reshape(5, -1), b), atol=1e-9)


def test_comparison_matches_brute_force():
  rng = np.random.default_rng(3)
  features, shifted = rng.normal(size=(12, 4, 4, 1)), rng.normal(size=(12, 4, 4, 1))
  labels = rng.integers(0, 3, 12)
  comparison = pixels.compare_shift_to_other_class(features, shifted, labels)
  for i in range(12):
    own = np.sqrt(np.sum((features[i] - shifted[i]) ** 2))
    others = {
      j: np.sqrt(np.sum((features[i] - features[j]) ** 2))
      for j in range(12)
      if labels[j] != labels[i]
    }
    nearest = min(others, key=others.get)
    assert comparison.own[i] == pytest.approx(own)
    assert comparison.other[i] == pytest.approx(others[nearest])
    assert comparison.nearest[i] == nearest
  ratios = [comparison.own[i] / comparison.other[i] for i in range(12)]
  assert comparison.median_ratio == pytest.approx(np.median(ratios))
  closer = np.mean([comparison.other[i] < comparison.own[i] for i in range(12)])
  assert comparison.fraction_other_closer == pytest.approx(closer)
  with pytest.raises(ValueError, match="two classes"):
    pixels.compare_shift_to_other_class(features, shifted, np.zeros(12, int))


def test_candidates_and_closest_of_match_brute_force():
  rng = np.random.default_rng(4)
  features, shifted = rng.normal(size=(10, 6)), rng.normal(size=(10, 6))
  versions = [rng.normal(size=(10, 6)) for _ in range(3)]  # e.g. shifted copies of the images
  labels = rng.integers(0, 3, 10)
  combined = pixels.closest_of(
    [pixels.compare_shift_to_other_class(features, shifted, labels, v) for v in versions]
  )
  for i in range(10):
    others = {
      (k, j): np.linalg.norm(features[i] - v[j])
      for k, v in enumerate(versions)
      for j in range(10)
      if labels[j] != labels[i]
    }
    (_, nearest), distance = min(others.items(), key=lambda item: item[1])
    assert combined.other[i] == pytest.approx(distance)
    assert combined.nearest[i] == nearest
    assert combined.own[i] == pytest.approx(np.linalg.norm(features[i] - shifted[i]))


def test_pixel_distance_prefers_another_class_to_a_one_pixel_shift():
  # The claim on the 360 held-out digits padded to 16x16 (measured: 100% at 1 px, 5% at 0.5 px).
  images, labels = load_digits("test", size=16)
  one = pixels.compare_shift_to_other_class(images, pixels.shift(images, 1.0), labels)
  half = pixels.compare_shift_to_other_class(images, pixels.shift(images, 0.5), labels)
  assert one.fraction_other_closer > 0.9
  assert one.median_ratio > 1.2
  # Bilinear interpolation is linear in the shift away from the border's fill: the half-pixel
  # distance is exactly half the one-pixel distance (a - shift(a, t) = t (a - shift(a, 1))).
  np.testing.assert_allclose(half.own, one.own / 2, rtol=1e-5)
