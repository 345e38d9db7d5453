"""Tests of the shipped digits classifier, its checkpoint checks, and the evaluator built on it."""

import hashlib
import importlib.util
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

from jaxgen.data import load_digits
from jaxgen.metrics import (
  ImageEvaluator,
  classifier,
  get_extractor,
  load_digits_classifier,
  reference_statistics,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "jaxgen" / "assets" / "digits_classifier.msgpack"


@pytest.fixture(scope="module")
def shipped():
  return load_digits_classifier()


def _load_script():
  spec = importlib.util.spec_from_file_location(
    "train_classifier", ROOT / "scripts" / "train_classifier.py"
  )
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_shipped_checksum_matches_the_file_and_is_small(shipped):
  recorded = (ROOT / "jaxgen" / "assets" / "digits_classifier.sha256").read_text().split()
  assert recorded == [hashlib.sha256(SHIPPED.read_bytes()).hexdigest(), SHIPPED.name]
  assert shipped.sha256 == recorded[0]
  assert SHIPPED.stat().st_size < 400 * 1024


@pytest.mark.parametrize("size", [16, 8])
def test_shipped_classifier_reaches_97_percent_on_the_test_split(shipped, size):
  # 8x8 digits are padded by the classifier exactly as the 16x16 data are.
  images, labels = load_digits("test", size)
  predictions = np.argmax(np.asarray(shipped.logits(images)), axis=1)
  assert np.mean(predictions == labels) >= 0.97


def test_features_and_logits_shapes_and_bad_inputs(shipped):
  images, _ = load_digits("test", 16)
  features, logits = shipped.features_and_logits(images[:5])
  assert features.shape == (5, 128) and logits.shape == (5, 10)
  np.testing.assert_allclose(shipped.features(images[:5, :, :, 0]), features, rtol=1e-6)
  with pytest.raises(ValueError, match=r"\(16, 16, 1\)"):
    shipped.features(np.zeros((2, 28, 28, 1)))


def _copy_shipped(tmp_path):
  path = tmp_path / "digits_classifier.msgpack"
  shutil.copy(SHIPPED, path)
  shutil.copy(SHIPPED.with_suffix(".sha256"), tmp_path / "digits_classifier.sha256")
  return path


def test_corrupt_checkpoint_fails_checksum_with_a_clear_error(tmp_path):
  path = _copy_shipped(tmp_path)
  raw = bytearray(path.read_bytes())
  raw[len(raw) // 2] ^= 0xFF
  path.write_bytes(bytes(raw))
  with pytest.raises(
    ValueError, match=r"(?s)digits_classifier\.msgpack.*SHA-256.*train_classifier\.py"
  ):
    classifier.load_classifier(path)


def test_undecodable_checkpoint_with_matching_checksum_fails_clearly(tmp_path):
  path = tmp_path / "broken.msgpack"
  path.write_bytes(SHIPPED.read_bytes()[:1000])
  (tmp_path / "broken.sha256").write_text(
    hashlib.sha256(path.read_bytes()).hexdigest() + "  broken.msgpack\n"
  )
  with pytest.raises(ValueError, match=r"(?s)broken\.msgpack.*does not decode.*--out="):
    classifier.load_classifier(path)


@pytest.mark.parametrize("missing", ["digits_classifier.msgpack", "digits_classifier.sha256"])
def test_missing_checkpoint_or_checksum_names_the_file_and_the_command(tmp_path, missing):
  path = _copy_shipped(tmp_path)
  (tmp_path / missing).unlink()
  with pytest.raises(FileNotFoundError, match=rf"(?s){missing}.*is missing.*train_classifier\.py"):
    classifier.load_classifier(path)


def test_get_extractor_names_choices_and_requires_weights_for_tfds_classifiers():
  with pytest.raises(ValueError, match="choose one of.*digits_classifier"):
    get_extractor("lenet")
  with pytest.raises(ValueError, match="--dataset=mnist --out=PATH"):
    get_extractor("mnist_classifier")


def test_script_reports_missing_mnist_data(tmp_path):
  script = _load_script()
  with pytest.raises(FileNotFoundError, match=r"(?s)'mnist'.*not prepared.*download=True"):
    script.main(
      ["--dataset=mnist", f"--out={tmp_path / 'mnist.msgpack'}", f"--data_dir={tmp_path}"]
    )
  assert not (tmp_path / "mnist.msgpack").exists()


@pytest.mark.slow
def test_script_trains_and_writes_a_tfds_classifier_on_mock_data(tmp_path):
  script = _load_script()
  out = tmp_path / "mnist.msgpack"
  common = [
    "--dataset=mnist",
    f"--out={out}",
    f"--data_dir={tmp_path}",
    "--num_steps=3",
    "--batch_size=16",
  ]
  with tfds.testing.mock_data(num_examples=48, policy=tfds.testing.MockPolicy.USE_CODE):
    # Random mock labels cannot be learnt, hence no accuracy bar.
    assert script.main([*common, "--min_accuracy=0"]) == 0
  loaded = get_extractor("mnist_classifier", str(out))
  assert loaded.name.startswith("mnist_cnn.") and loaded.config["input_size"] == 28
  assert loaded.features(np.zeros((3, 28, 28, 1))).shape == (3, 128)
  assert (tmp_path / "mnist.sha256").read_text().split()[1] == "mnist.msgpack"


def test_script_refuses_to_write_weights_below_min_accuracy(tmp_path, monkeypatch, shipped, capsys):
  script = _load_script()
  # Skip the training: hand the script the shipped weights (98.9% on the test split).
  monkeypatch.setattr(
    script.classifier, "train_classifier", lambda *a, **k: (shipped.module, shipped.params)
  )
  out = tmp_path / "digits.msgpack"
  assert script.main([f"--out={out}", "--min_accuracy=0.999"]) == 1
  assert not out.exists()
  assert "weights NOT written" in capsys.readouterr().err


def test_script_requires_out_for_tfds_data_sets(capsys):
  with pytest.raises(SystemExit):
    _load_script().main(["--dataset=fashion_mnist"])
  assert "--out=PATH is required" in capsys.readouterr().err


def test_image_evaluator_ranks_real_digits_above_noise(shipped):
  test_images, _ = load_digits("test", 16)
  train_images, _ = load_digits("train", 16)
  evaluate = ImageEvaluator(shipped, test_images[:200], kid_subsets=10, kid_subset_size=100)
  real = evaluate(train_images[:200])
  noise = evaluate(np.random.default_rng(0).uniform(-1, 1, (200, 8, 8, 1)))
  assert set(real) == {
    "fid",
    "kid",
    "kid_std",
    "inception_score",
    "inception_score_std",
    "precision",
    "recall",
  }
  assert real["fid"] < noise["fid"] / 10 and real["kid"] < noise["kid"] / 10
  assert real["precision"] > 0.8 and real["recall"] > 0.8
  # Noise features cluster near one class (mostly 9s): some precision, little recall.
  assert noise["precision"] < real["precision"] and noise["recall"] < 0.3
  # Real digits spread over the 10 classes with confident predictions: IS near 10.
  assert real["inception_score"] > 7


def test_reference_statistics_stream_batches_and_are_cached(shipped, tmp_path):
  images, _ = load_digits("test", 16)
  calls = []

  def image_batches():
    calls.append(1)
    return (images[i : i + 50] for i in range(0, len(images), 50))

  stats = reference_statistics(shipped, "digits", "test", image_batches, cache_dir=tmp_path)
  again = reference_statistics(shipped, "digits", "test", image_batches, cache_dir=tmp_path)
  assert len(calls) == 1 and (tmp_path / f"digits-test-{shipped.name}.npz").is_file()
  features = np.asarray(shipped.features(images), np.float64)
  np.testing.assert_allclose(stats.mean, features.mean(axis=0), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(stats.covariance, np.cov(features, rowvar=False), rtol=1e-5, atol=1e-5)
  np.testing.assert_array_equal(again.covariance, stats.covariance)
