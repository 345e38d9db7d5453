"""MS-SSIM (`jaxgen.metrics.ms_ssim`) and the "ms_ssim" evaluator: single-scale SSIM equals
scikit-image's in float64; two-scale MS-SSIM of striped and flat images equals its closed form;
identical images give 1 and independent noise little; the diversity score ranks copies above a
varied set and is the mean over the pairs; the evaluator scores a digits run in the loop and
through `jaxgen eval`; bad input is refused in one line."""

import itertools
import json
import sys
from pathlib import Path

import hang_guard
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from jaxgen import evaluators
from jaxgen.algorithms.cyclegan import CycleGAN
from jaxgen.configs import cgan_digits, dcgan_digits
from jaxgen.data import load_digits
from jaxgen.errors import ConfigError
from jaxgen.evaluators import ms_ssim as ms_ssim_evaluator
from jaxgen.metrics import ms_ssim as metric
from jaxgen.metrics import msssim_diversity
from jaxgen.run import train
from jaxgen.run.overrides import apply_overrides

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, cross-scale calibration
C1, C2 = 0.01**2, 0.03**2  # (K1 L)^2, (K2 L)^2 with L = 1


def _structured(rng, size: int) -> np.ndarray:
  """A smooth gradient with a bright square and a little noise, in [-1, 1]."""
  rows, columns = np.mgrid[0:size, 0:size] / (size - 1)
  image = 0.8 * (rows - columns)
  image[size // 4 : size // 2, size // 3 : 2 * size // 3] = 0.9
  return np.clip(image + 0.05 * rng.normal(size=image.shape), -1, 1)


def _digits(count: int) -> np.ndarray:
  """The first `count` held-out 16x16 digits [count, 16, 16, 1] in [-1, 1], float64."""
  return load_digits("test", 16)[0][:count].astype(np.float64)


def _skimage(a: np.ndarray, b: np.ndarray, sigma: float, data_range: float) -> float:
  """scikit-image's SSIM of two [H, W, C] images with Wang et al.'s settings."""
  return structural_similarity(
    a,
    b,
    gaussian_weights=True,
    sigma=sigma,
    use_sample_covariance=False,
    data_range=data_range,
    channel_axis=-1,
  )


# --- (a) single-scale SSIM against scikit-image -------------------------------------------------

# (window, sigma): scikit-image's Gaussian spans 2 int(3.5 sigma + 0.5) + 1 pixels.
WINDOWS = [(11, 1.5), (7, 0.8), (5, 0.5)]


@pytest.mark.parametrize("window_size, sigma", WINDOWS)
@pytest.mark.parametrize("kind", ["noise", "structured", "digits"])
def test_ssim_equals_scikit_image_in_float64(window_size, sigma, kind):
  """Per pair and per channel (averaged), on [-1, 1] images: scikit-image reads them shifted to
  [0, 2] with data_range 2 (our convention); the one-scale MS-SSIM is its non-negative part."""
  rng = np.random.default_rng(window_size)
  if kind == "noise":
    a = rng.uniform(-1, 1, (3, 16, 16, 2))
    b = np.clip(a + 0.4 * rng.normal(size=a.shape), -1, 1)
  elif kind == "structured":
    a = np.stack([_structured(rng, 19) for _ in range(6)]).reshape(3, 19, 19, 2)
    b = np.stack([_structured(rng, 19) for _ in range(6)]).reshape(3, 19, 19, 2)
  else:
    a, b = _digits(6)[:3], _digits(6)[3:]
  ours = metric.ssim(a, b, window_size=window_size, sigma=sigma)
  reference = [_skimage(x + 1, y + 1, sigma, 2.0) for x, y in zip(a, b, strict=True)]
  np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)
  one_scale = metric.ms_ssim(a, b, num_scales=1, window_size=window_size, sigma=sigma)
  np.testing.assert_allclose(one_scale, np.maximum(reference, 0), rtol=0, atol=1e-12)


def test_ssim_of_uint8_images_with_their_own_range():
  """value_range=(0, 255): scikit-image on the pixels as they are, data_range 255."""
  rng = np.random.default_rng(1)
  a = rng.integers(0, 256, (2, 16, 16, 1), dtype=np.uint8)
  b = np.clip(a + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
  ours = metric.ssim(a, b, value_range=(0, 255))
  pairs = zip(a.astype(np.float64), b.astype(np.float64), strict=True)
  reference = [_skimage(x, y, 1.5, 255.0) for x, y in pairs]
  np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)


# --- (b) by hand ---------------------------------------------------------------------------------


def test_the_pieces_by_hand():
  """The renormalised weights, the scales an image holds, and TF's pooling of an odd side."""
  np.testing.assert_allclose(metric.scale_weights(5), PUBLISHED)
  np.testing.assert_allclose(metric.scale_weights(2), np.array([0.0448, 0.2856]) / 0.3304)
  # Sides halve rounding up: M scales of n x n need (n - 1) 2^(M - 1) + 1 pixels.
  assert metric.largest_num_scales(16, 16, 11) == 1 and metric.largest_num_scales(16, 16, 7) == 2
  assert metric.largest_num_scales(161, 170, 11) == 5 and metric.largest_num_scales(160, 160) == 4
  assert metric.largest_num_scales(10, 16, 11) == 0
  image = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)  # padded with its last row and column
  np.testing.assert_array_equal(metric.downsample(image)[0, ..., 0], [[3, 4.5], [7.5, 9]])


def _stripes(size: int, low: float, high: float) -> np.ndarray:
  """[1, size, size, 1] columns alternating low, high."""
  columns = np.where(np.arange(size) % 2, high, low)
  return np.broadcast_to(columns, (size, size)).reshape(1, size, size, 1).astype(np.float64)


@pytest.mark.parametrize("window_size, sigma", [(3, 1.0), (5, 1.5)])
@pytest.mark.parametrize("q", [0.5, 0.2, 0.9])
def test_two_scales_of_stripes_against_flat_grey_by_hand(window_size, sigma, q):
  """a: columns alternating 0 and 1; b: flat q; on [0, 1] (L = 1).

  Scale 1: under the window, a's mean is the weight on its 1-columns, m = W_even or W_odd (the
  window's weight on even or odd offsets), so var_a = m - m^2 = W_even W_odd everywhere; b is
  flat, so var_b = cov = 0 and cs_1 = C2 / (W_even W_odd + C2). Scale 2: 2x2 pooling makes a flat
  0.5: cs_2 = 1, l_2 = (2 * 0.5 q + C1) / (0.25 + q^2 + C1). MS-SSIM = cs_1^w1 l_2^w2 with the
  first two published weights renormalised. The same on [-1, 1] (L = 2) gives the same value."""
  size = 2 * window_size
  offsets = np.arange(window_size) - window_size // 2
  weights = np.exp(-(offsets**2) / (2 * sigma**2))
  weights /= weights.sum()
  w_odd = weights[offsets % 2 == 1].sum()
  cs_1 = C2 / (w_odd * (1 - w_odd) + C2)
  l_2 = (q + C1) / (0.25 + q**2 + C1)
  w1, w2 = 0.0448 / 0.3304, 0.2856 / 0.3304
  expected = cs_1**w1 * l_2**w2
  a, b = _stripes(size, 0.0, 1.0), np.full((1, size, size, 1), q)
  options = dict(window_size=window_size, sigma=sigma)
  unit = metric.ms_ssim(a, b, value_range=(0, 1), **options)
  assert metric.largest_num_scales(size, size, window_size) == 2
  np.testing.assert_allclose(unit, [expected], rtol=1e-12)
  symmetric = metric.ms_ssim(2 * a - 1, 2 * b - 1, **options)  # jaxgen's range
  np.testing.assert_allclose(symmetric, [expected], rtol=1e-12)


def test_two_flat_images_give_the_luminance_term_to_its_weight():
  """Flat p and q: every variance is 0, so cs = 1 at each scale and MS-SSIM is l^w_M with
  l = (2 p q + C1) / (p^2 + q^2 + C1), the same at every scale (Wang et al. 2003, eq. 7)."""
  p, q = 0.3, 0.7
  a, b = np.full((1, 20, 20, 1), p), np.full((1, 20, 20, 1), q)
  luminance = (2 * p * q + C1) / (p**2 + q**2 + C1)
  for scales in (1, 2, 3):
    value = metric.ms_ssim(a, b, num_scales=scales, window_size=5, value_range=(0, 1))
    last = PUBLISHED[scales - 1] / sum(PUBLISHED[:scales])
    np.testing.assert_allclose(value, [luminance**last], rtol=1e-12)


# --- (c) identical images and independent noise --------------------------------------------------


@pytest.mark.parametrize("size, window_size, scales", [(16, 11, 1), (16, 7, 2), (161, 11, 5)])
def test_identical_images_give_one(size, window_size, scales):
  """MS-SSIM(x, x) = 1 at every number of scales, the published five included."""
  images = np.random.default_rng(size).uniform(-1, 1, (2, size, size, 1))
  assert metric.largest_num_scales(size, size, window_size) == scales
  np.testing.assert_allclose(metric.ms_ssim(images, images, window_size=window_size), 1.0)


def test_independent_noise_is_far_from_similar():
  """Independent uniform noise: single-scale SSIM within 0.05 of 0 on 64x64 images; MS-SSIM,
  whose finest scale weighs little (0.07 of 3 scales), under 0.1 on average."""
  rng = np.random.default_rng(3)
  a, b = rng.uniform(-1, 1, (2, 40, 64, 64, 1))
  assert np.abs(metric.ssim(a, b)).max() < 0.05
  assert metric.ms_ssim(a, b, window_size=7).mean() < 0.1


# --- (d) the diversity score ----------------------------------------------------------------------


def test_copies_score_one_and_rank_above_a_varied_set():
  """40 copies of one digit: 1.0 exactly; 40 held-out digits: far lower; the copies with a little
  noise: in between."""
  digits = _digits(40)
  copies = np.repeat(digits[:1], 40, axis=0)
  rng = np.random.default_rng(0)
  noisy = np.clip(copies + 0.2 * rng.normal(size=copies.shape), -1, 1)
  options = dict(num_pairs=200, window_size=7)
  same = msssim_diversity(copies, **options)
  near = msssim_diversity(noisy, **options)
  varied = msssim_diversity(digits, **options)
  assert same.value == pytest.approx(1.0, abs=1e-12) and float(same) == same.value
  assert same.value > near.value > varied.value
  assert (same.num_pairs, same.num_scales, same.window_size, same.per_class) == (200, 2, 7, {})


def test_all_pairs_when_asked_for_more_equal_the_mean_of_scikit_image_over_every_pair():
  """num_pairs above n (n - 1) / 2 scores every pair once: one scale, so the mean of
  scikit-image's SSIM over all pairs (positive for digits against digits here)."""
  digits = _digits(9)
  score = msssim_diversity(digits, num_pairs=1000)
  pairs = list(itertools.combinations(range(9), 2))
  reference = [_skimage(digits[i] + 1, digits[j] + 1, 1.5, 2.0) for i, j in pairs]
  assert min(reference) > 0 and score.num_pairs == 36 and score.num_scales == 1
  assert score.value == pytest.approx(np.mean(reference), abs=1e-12)


def test_pairs_are_distinct_and_drawn_without_replacement():
  """Every draw is a pair i < j, never repeated; all but one of the pairs of 30 items are 434
  distinct ones of the 435."""
  first, second = metric.pair_indices(30, 434, np.random.default_rng(0))
  pairs = set(zip(first.tolist(), second.tolist(), strict=True))
  assert len(pairs) == 434 and all(0 <= i < j < 30 for i, j in pairs)


def test_classes_are_scored_apart_and_weigh_the_same():
  """Class 7: copies (1.0); class 3: varied digits; the score is the mean of the two, and each
  class's mean is the score of its images alone."""
  digits = _digits(30)
  images = np.concatenate([np.repeat(digits[:1], 5, axis=0), digits[5:30]])
  labels = np.array([7] * 5 + [3] * 25)
  score = msssim_diversity(images, labels, num_pairs=50, seed=1, window_size=7)
  alone = msssim_diversity(digits[5:30], num_pairs=1000, window_size=7)
  assert score.per_class[7] == pytest.approx(1.0) and score.num_pairs == 10 + 50
  assert score.per_class[3] < 0.9 and abs(score.per_class[3] - alone.value) < 0.05
  assert score.value == pytest.approx((score.per_class[7] + score.per_class[3]) / 2)


# --- (e) the evaluator ---------------------------------------------------------------------------


def _tiny(config, **overrides):
  """A digits config with tiny DCGAN networks and a small evaluation by "ms_ssim" only."""
  config.model.generator = {"name": "dcgan", "base_features": 4}
  config.model.discriminator = {"name": "dcgan", "base_features": 4}
  entry = {"name": "ms_ssim", "num_pairs": 20, "window_size": 7}
  settings = {"batch_size": 8, "eval.extractor": "", "eval.num_samples": 60}
  apply_overrides(config, settings | {"eval.evaluators": (entry,), **overrides})
  return config


def test_the_evaluator_pairs_samples_within_their_classes_and_the_held_out_digits_too():
  """A conditional run: sample i has class i % 10 and the held-out digits their labels; the
  evaluator's scores are the diversity of exactly those (the same pairs, by the eval seed)."""
  config = _tiny(cgan_digits.get_config())
  run = train.Run(config)
  state = run.init_state()
  scores = train.Evaluator(run)(state, 0, None)
  seed = config.seed + 1  # the evaluation's seed
  samples = np.clip(run.sample(state, 60, seed=seed), -1, 1)
  held = run.dataset.eval_data(None, seed=seed)
  options = dict(num_pairs=20, seed=seed, window_size=7)
  expected = msssim_diversity(samples, np.arange(60) % 10, **options).value
  real = msssim_diversity(held["x"], held["y"], **options).value
  assert scores == {"eval/ms_ssim": pytest.approx(expected), "eval/ms_ssim_real": real}


def test_misfits_are_refused_before_the_run():
  """Scales the 16x16 digits cannot hold, an even window, points."""
  config = _tiny(dcgan_digits.get_config())
  config.eval.evaluators = ({"name": "ms_ssim", "num_scales": 3},)
  with pytest.raises(ConfigError, match="needs images of at least 41x41; got 16x16"):
    train.Run(config)
  config.eval.evaluators = ({"name": "ms_ssim", "window_size": 6},)
  with pytest.raises(ConfigError, match="window_size = 6 is refused: must be an odd integer"):
    train.Run(config)
  points = evaluators.get("ms_ssim").check
  facts = type("Facts", (), {"example_shape": (2,), "num_classes": 0})
  options = type("Options", (), {"num_scales": 0, "window_size": 11})
  with pytest.raises(ValueError, match="compares \\(H, W, C\\) images"):
    points(options, None, facts)


def test_samples_outside_the_data_range_are_clipped_with_a_warning():
  """As `jaxgen.sample` does: values beyond [-1, 1] are clipped to it, NaN becomes -1, and a
  warning counts them."""
  samples = np.array([-1.5, -1.0, 0.25, 1.0, 2.0, np.nan])
  with pytest.warns(UserWarning, match="ms_ssim: 3 of 6 sample values lay outside the data range"):
    clipped = ms_ssim_evaluator._in_range(samples)
  np.testing.assert_array_equal(clipped, [-1.0, -1.0, 0.25, 1.0, 1.0, -1.0])


def test_a_translator_is_refused():
  """CycleGAN's samples are translations of held-out images, not draws of a generator."""
  facts = type("Facts", (), {"example_shape": (16, 16, 1), "num_classes": 10})
  options = type("Options", (), {"num_scales": 0, "window_size": 11})
  with pytest.raises(ValueError, match="CycleGAN's samples translate held-out images"):
    evaluators.get("ms_ssim").check(options, CycleGAN, facts)


def test_jaxgen_eval_scores_a_trained_run_by_name(tmp_path):
  """`jaxgen eval W --evaluators=ms_ssim` on a 2-step DCGAN run: unconditional, so all pairs;
  the held-out digits over all pairs with the evaluator's defaults (11x11 window: 1 scale)."""
  config = _tiny(dcgan_digits.get_config(), num_steps=2, eval_every=2, checkpoint_every=2)
  config.progress_bar = False
  train.train_and_evaluate(config, tmp_path)
  command = [sys.executable, "-m", "jaxgen.cli", "eval", str(tmp_path), "--evaluators=ms_ssim"]
  result = hang_guard.run(command, capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 0, result.stderr[-3000:]
  (record,) = json.loads((tmp_path / "evaluation.json").read_text())
  assert result.stdout.startswith("| step |") and "| ms_ssim | ms_ssim_real |" in result.stdout
  held = load_digits("test", 16)[0]
  real = msssim_diversity(held, seed=config.seed + 1).value  # 1000 pairs
  assert record["step"] == 2 and 0 <= record["ms_ssim"] <= 1
  assert record["ms_ssim_real"] == pytest.approx(real)


# --- (f) one-line refusals -----------------------------------------------------------------------

GOOD = np.zeros((2, 16, 16, 1))
BAD_INPUTS = [
  (lambda: metric.ms_ssim(GOOD[0], GOOD[0]), "must be images \\[N, H, W, C\\]; got shape"),
  (lambda: metric.ms_ssim(GOOD, GOOD[:1]), "must have one shape"),
  (lambda: metric.ms_ssim(GOOD, GOOD, num_scales=2), "needs images of at least 21x21"),
  (lambda: metric.ms_ssim(GOOD, GOOD, num_scales=6), "num_scales must be an integer in \\[1, 5\\]"),
  (lambda: metric.ssim(GOOD[:, :8, :8], GOOD[:, :8, :8]), "smaller than the 11x11 window"),
  (lambda: metric.ms_ssim(GOOD, GOOD, window_size=4), "window_size must be an odd integer"),
  (lambda: metric.ms_ssim(GOOD, GOOD, sigma=0.0), "sigma must be a finite number > 0"),
  (lambda: metric.ms_ssim(GOOD + 1.5, GOOD), "outside value_range \\(-1, 1\\); clip them"),
  (lambda: metric.ms_ssim(GOOD * np.nan, GOOD), "holds NaN or inf"),
  (lambda: metric.ms_ssim(GOOD, GOOD, value_range=(1, 1)), "value_range must be \\(low, high\\)"),
  (lambda: msssim_diversity(GOOD, num_pairs=0), "num_pairs must be an integer >= 1; got 0"),
  (lambda: msssim_diversity(GOOD[:1]), "at least two images"),
  (lambda: msssim_diversity(GOOD, labels=[0]), "labels must be integers \\[N\\] for the 2"),
  (lambda: msssim_diversity(GOOD, labels=[0, 1]), "classes \\[0, 1\\] have a single image"),
  (lambda: msssim_diversity(GOOD[..., 0]), "images must be images \\[N, H, W, C\\]"),
]


@pytest.mark.parametrize("call, message", BAD_INPUTS)
def test_bad_input_is_refused_in_one_line(call, message):
  """Each error names what was wrong and what to do, on one line."""
  with pytest.raises(ValueError, match=message) as error:
    call()
  assert "\n" not in str(error.value)
