"""`jaxgen.load`, `jaxgen.sample` and the one-call image metrics (`jaxgen.metrics.fid`, ...)."""

import importlib
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import numpy as np
import pytest
import tiny_ring8_config

import jaxgen
from jaxgen import metrics
from jaxgen.configs import dcgan_digits
from jaxgen.data import load_digits
from jaxgen.errors import CheckpointError, ConfigError
from jaxgen.run import load, train
from jaxgen.run.overrides import apply_overrides

ROOT = Path(__file__).resolve().parents[1]
TINY = {
  "batch_size": 32,
  "num_steps": 4,
  "eval_every": 4,
  "checkpoint_every": 2,
  "progress_bar": False,
  "eval.num_samples": 50,
}


@pytest.fixture(scope="module")
def ring_workdir(tmp_path_factory):
  """A gan_ring8 run with tiny networks: checkpoints at steps 2 and 4."""
  workdir = tmp_path_factory.mktemp("ring8")
  config = tiny_ring8_config.get_config()
  apply_overrides(config, TINY)
  train.train_and_evaluate(config, workdir)
  return workdir


@pytest.fixture(scope="module")
def digits_workdir(tmp_path_factory):
  """A dcgan_digits run with tiny networks, 2 steps."""
  workdir = tmp_path_factory.mktemp("digits")
  config = dcgan_digits.get_config()
  narrow = {"name": "dcgan", "base_features": 8}
  overrides = {"num_steps": 2, "eval_every": 2, "checkpoint_every": 2, "eval.extractor": ""}
  apply_overrides(config, {**TINY, **overrides})
  config.model.generator, config.model.discriminator = dict(narrow), dict(narrow)
  train.train_and_evaluate(config, workdir)
  return workdir


@pytest.fixture(scope="module")
def digits():
  return load_digits("train", 16)[0]


def test_load_and_sample_points(ring_workdir):
  run, state = jaxgen.load(ring_workdir)
  assert int(state.step) == 4 and run.config.data.name == "ring8"
  points = jaxgen.sample(run, state, 50, seed=1)
  assert points.shape == (50, 2) and points.dtype == np.float32
  np.testing.assert_array_equal(points, run.sample(state, 50, seed=1))  # the data's own units
  np.testing.assert_array_equal(points, jaxgen.sample(run, state, 50, seed=1))
  assert not np.array_equal(points, jaxgen.sample(run, state, 50, seed=2))
  _, earlier = jaxgen.load(ring_workdir, step=2)
  assert int(earlier.step) == 2


def test_load_and_sample_images(digits_workdir):
  run, state = jaxgen.load(digits_workdir)
  images = jaxgen.sample(run, state, 20)
  assert images.shape == (20, 16, 16, 1) and images.dtype == np.uint8
  raw = run.sample(state, 20, seed=0)
  expected = np.round((np.clip(raw, -1, 1) + 1) * 127.5).astype(np.uint8)
  np.testing.assert_array_equal(images, expected)


def test_pixels_clip_and_count_what_lies_outside_the_data_range():
  values = np.array([-2.47, -1.0, 0.0, 0.5, 1.0, 1.85, np.nan], np.float32)
  pixels, clipped = load.pixels(values)
  np.testing.assert_array_equal(pixels, [0, 0, 128, 191, 255, 255, 0])
  assert (clipped.count, clipped.total, clipped.nonfinite) == (3, 7, 1)
  assert clipped.low == pytest.approx(-2.47) and clipped.high == pytest.approx(1.85)
  assert clipped.describe() == (
    "3 of 7 sample values (42.86%) lay outside the data range [-1, 1] (from -2.47 to 1.85) and "
    "were clipped to it; 1 were NaN/inf."
  )


def test_sample_warns_when_it_clips():
  """A generator with a linear output (ProGAN's) leaves [-1, 1]: the clipping is said."""
  raw = np.linspace(-2.0, 2.0, 16, dtype=np.float32).reshape(1, 4, 4, 1)
  run = types.SimpleNamespace(
    sample=lambda state, num, seed: np.repeat(raw, num, axis=0),
    dataset=types.SimpleNamespace(example_shape=(4, 4, 1)),
  )
  with pytest.warns(load.ClippedSamplesWarning, match="8 of 16 sample values"):
    images = jaxgen.sample(run, None, 1)
  assert images.min() == 0 and images.max() == 255
  assert load.draw(run, None, 2).clipped.fraction == 0.5


def test_load_and_sample_refuse_bad_input(tmp_path, ring_workdir):
  with pytest.raises(ConfigError, match="config.json not found"):
    jaxgen.load(tmp_path)
  with pytest.raises(CheckpointError, match=r"No checkpoint of step 3 .*available: 2, 4"):
    jaxgen.load(ring_workdir, step=3)
  run = types.SimpleNamespace()
  for bad in (0, -1, 2.5, True):
    with pytest.raises(ConfigError, match="n is the number of samples to draw"):
      jaxgen.sample(run, None, bad)


def test_fid_names_its_extractor_and_is_zero_against_the_same_set(digits):
  score = metrics.fid(digits[:400], digits[:400])
  assert abs(score.value) < 1e-6 and float(score) == score.value
  assert score.metric == "FID" and score.extractor.startswith("digits_cnn.")
  assert (score.feature_dim, score.num_a, score.num_b) == (128, 400, 400)
  assert str(score).startswith("FID = ") and "digits_cnn." in str(score)
  assert f"{score:.2f}" in ("0.00", "-0.00")
  as_pixels, _ = load.pixels(digits[:400])  # uint8 is read as [0, 255]
  assert abs(metrics.fid(as_pixels, digits[:400]).value) < 0.01
  noise = np.random.default_rng(0).uniform(-1, 1, (400, 16, 16, 1)).astype(np.float32)
  assert metrics.fid(digits[:400], noise).value > 100


def test_kid_and_precision_recall_on_images(digits):
  noise = np.random.default_rng(0).uniform(-1, 1, (200, 16, 16, 1)).astype(np.float32)
  same, far = metrics.kid(digits[:200], digits[200:400]), metrics.kid(digits[:200], noise)
  assert same.metric == "KID" and same.std is not None and abs(same.value) < far.value / 100
  scores = metrics.precision_recall(digits[:200], digits[:200], extractor="digits")
  assert {k: float(v) for k, v in scores.items()} == {"precision": 1.0, "recall": 1.0}
  assert scores["recall"].extractor.startswith("digits_cnn.")
  features = np.random.default_rng(1).normal(size=(20, 3))
  assert metrics.precision_recall(features, features) == {"precision": 1.0, "recall": 1.0}


@pytest.mark.parametrize(
  "call, message",
  [
    (lambda d: metrics.fid(d[:, :, :, 0], d), r"images_a must be images \[N, H, W, C\]"),
    (lambda d: metrics.fid(d, d, extractor="nope"), "choose one of digits, mnist"),
    (lambda d: metrics.fid(d, d, extractor="inception"), "fid: The FID Inception needs a weight"),
    (lambda d: metrics.kid(d.astype(np.int32), d), "uint8 in \\[0, 255\\] or floats"),
    (lambda d: metrics.fid(d[:1], d), "fid: The covariance needs at least two samples"),
    (
      lambda d: metrics.precision_recall(d[:5, :, 0, 0], d[:5, :, 0, 0], extractor="digits"),
      "precision_recall got features",
    ),
  ],
  ids=["not_images", "unknown_extractor", "no_weights", "int32", "one_image", "features+extr"],
)
def test_image_metrics_refuse_bad_input_in_one_line(digits, call, message):
  with pytest.raises(ConfigError, match=message) as error:
    call(digits[:20])
  assert "\n" not in str(error.value)


def test_metrics_fid_is_the_function_and_fid_py_still_imports():
  assert metrics.fid.__module__ == "jaxgen.metrics" and callable(metrics.kid)
  module = importlib.import_module("jaxgen.metrics.fid")  # importing it again rebinds nothing
  assert module.frechet_distance is metrics.frechet_distance and callable(metrics.fid)
  from jaxgen.metrics.kid import kernel_inception_distance

  assert kernel_inception_distance is metrics.kernel_inception_distance


def test_import_jaxgen_is_light_and_knows_its_version():
  """`load` and `sample` come lazily: lower layers import jaxgen without the run machinery."""
  code = (
    "import sys, jaxgen; print(jaxgen.__version__); "
    "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxgen')))"
  )
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  version, modules = result.stdout.splitlines()
  assert version == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
  assert modules == "['jaxgen']"
  assert jaxgen.load is load.load and jaxgen.sample is load.sample
  assert {"load", "sample", "metrics", "__version__"} <= set(dir(jaxgen))
  with pytest.raises(AttributeError, match="no attribute 'nope'"):
    jaxgen.nope  # noqa: B018
