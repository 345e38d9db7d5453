"""Tests of jaxgen.data: digits, 2-D mixtures, TFDS sources and the (seed, step) batch stream."""

import socket
import sys

import numpy as np
import pytest
import scipy.stats
import sklearn.datasets
import tensorflow_datasets as tfds

from jaxgen import data
from jaxgen.data import tfds_source

DIGITS_CLASS_COUNTS = np.bincount(sklearn.datasets.load_digits().target)


def _sorted_rows(array):
  flat = array.reshape(len(array), -1)
  return flat[np.lexsort(flat.T[::-1])]


# ----------------------------------------------------------------------------------------- digits


@pytest.mark.parametrize("split, num", [("train", 1437), ("test", 360)])
@pytest.mark.parametrize("size", [8, 16])
def test_digits_shapes_dtypes_range(split, num, size):
  images, labels = data.load_digits(split, size)
  assert images.shape == (num, size, size, 1) and images.dtype == np.float32
  assert labels.shape == (num,) and labels.dtype == np.int32
  assert images.min() == -1.0 and images.max() == 1.0
  assert set(np.unique(labels)) == set(range(10))


def _rows_with_labels(images, labels):
  return np.concatenate([images.reshape(len(images), -1), labels[:, None]], axis=1)


def test_digits_split_is_a_partition_of_the_raw_data_scaled():
  raw = sklearn.datasets.load_digits()
  expected = _rows_with_labels(raw.images / 8.0 - 1.0, raw.target)
  parts = [_rows_with_labels(*data.load_digits(split)) for split in ("train", "test")]
  # Equal multisets of (image, label) rows with 1437 + 360 = 1797 rows: the halves are disjoint.
  np.testing.assert_array_equal(_sorted_rows(np.concatenate(parts)), _sorted_rows(expected))


def test_digits_split_is_stratified():
  _, test_labels = data.load_digits("test")
  expected = 360 * DIGITS_CLASS_COUNTS / DIGITS_CLASS_COUNTS.sum()
  assert np.all(np.abs(np.bincount(test_labels, minlength=10) - expected) <= 1)


def test_digits_split_is_fixed_across_calls():
  first, second = data.load_digits("test"), data.load_digits("test")
  np.testing.assert_array_equal(first[0], second[0])
  np.testing.assert_array_equal(first[1], second[1])
  first[0][:] = 0  # The caller owns its copy: the cached split is untouched.
  assert data.load_digits("test")[0].min() == -1.0


def test_digits_16_is_the_8x8_image_padded_with_background():
  small, _ = data.load_digits("train", 8)
  large, _ = data.load_digits("train", 16)
  np.testing.assert_array_equal(large[:, 4:12, 4:12], small)
  border = np.ones((16, 16), bool)
  border[4:12, 4:12] = False
  assert np.all(large[:, border] == -1.0)


@pytest.mark.parametrize(
  "kwargs, message", [({"split": "valid"}, "valid"), ({"size": 12}, "12"), ({"size": 28}, "28")]
)
def test_digits_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    data.load_digits(**kwargs)


def test_digits_dataset_attributes():
  dataset = data.get("digits", size=16)
  assert (dataset.name, dataset.example_shape, dataset.num_classes) == ("digits", (16, 16, 1), 10)
  held_out = dataset.eval_data()
  np.testing.assert_array_equal(held_out["x"], data.load_digits("test", 16)[0])
  subset = dataset.eval_data(num=50, seed=3)
  assert subset["x"].shape == (50, 16, 16, 1)
  np.testing.assert_array_equal(subset["x"], dataset.eval_data(num=50, seed=3)["x"])
  assert not np.array_equal(subset["x"], dataset.eval_data(num=50, seed=4)["x"])
  with pytest.raises(ValueError, match="361"):
    dataset.eval_data(num=361)


# ------------------------------------------------------------------------------------- mixtures


def test_ring8_has_8_distinct_modes_on_the_unit_circle():
  half = np.sqrt(0.5)
  expected = [(1, 0), (half, half), (0, 1), (-half, half), (-1, 0), (-half, -half), (0, -1)]
  expected.append((half, -half))
  ring = data.get("ring8")
  np.testing.assert_allclose(ring.centers, expected, atol=1e-7)
  assert ring.std == 0.01 and ring.num_classes == 8
  np.testing.assert_allclose(
    data.get("ring8", radius=2.0).centers, 2 * np.array(expected), atol=1e-6
  )


def test_grid25_has_the_25_modes_of_the_grid():
  grid = data.get("grid25")
  expected = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
  assert {tuple(center) for center in grid.centers.tolist()} == expected
  assert grid.std == 0.05 and grid.num_classes == 25 and len(grid.centers) == 25


@pytest.mark.parametrize("name", ["ring8", "grid25"])
@pytest.mark.parametrize("num_examples", [None, 1000])
def test_mixture_samples_cluster_around_their_labelled_mode(name, num_examples):
  mixture = data.get(name, num_examples=num_examples)
  batch = mixture.batch(seed=0, step=0, batch_size=4000)
  offsets = batch["x"] - mixture.centers[batch["y"]]
  assert batch["x"].dtype == np.float32 and batch["y"].dtype == np.int32
  # Within 5 std of the own mode (chance per sample to lie outside: exp(-12.5) ~ 4e-6).
  assert np.all(np.linalg.norm(offsets, axis=1) < 5 * mixture.std)
  np.testing.assert_allclose(offsets.std(axis=0), mixture.std, rtol=0.1)
  counts = np.bincount(batch["y"], minlength=mixture.num_classes)
  # Equal weights: each count is Binomial(4000, 1/M), so within 5 standard deviations of 4000/M.
  p = 1 / mixture.num_classes
  assert np.all(np.abs(counts - 4000 * p) < 5 * np.sqrt(4000 * p * (1 - p)))


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mixture_log_prob_matches_scipy(name):
  mixture = data.get(name)
  points = mixture.eval_data(num=20)["x"] + np.float32(0.02)
  densities = [
    scipy.stats.multivariate_normal(center, mixture.std**2 * np.eye(2)).pdf(points)
    for center in mixture.centers.astype(np.float64)
  ]
  expected = np.log(np.mean(densities, axis=0))
  np.testing.assert_allclose(mixture.log_prob(points), expected, rtol=1e-6, atol=1e-6)


def test_swissroll_without_noise_lies_on_the_spiral():
  roll = data.get("swissroll", noise=0.0, num_examples=None)
  points = roll.batch(seed=1, step=0, batch_size=500)["x"].astype(np.float64)
  t = np.linalg.norm(points, axis=1) * 7.5  # |(t cos t, t sin t)| = t.
  assert np.all((t > 1.5 * np.pi - 1e-4) & (t < 4.5 * np.pi + 1e-4))
  np.testing.assert_allclose(points * 7.5, np.stack([t * np.cos(t), t * np.sin(t)], 1), atol=1e-4)


def test_swissroll_attributes_and_range():
  roll = data.get("swissroll")
  batch = roll.batch(seed=0, step=0, batch_size=2000)
  assert roll.num_classes == 0 and roll.example_shape == (2,)
  assert np.all(batch["y"] == 0)
  assert np.abs(batch["x"]).max() < 2.5  # 4.5 pi / 7.5 = 1.88 plus the noise.


def test_mixture_eval_data_is_fixed_and_fresh():
  ring = data.get("ring8")
  first = ring.eval_data()
  assert first["x"].shape == (2500, 2)
  np.testing.assert_array_equal(first["x"], ring.eval_data()["x"])
  assert not np.array_equal(first["x"], ring.eval_data(seed=1)["x"])
  training = {tuple(row) for row in ring.batch(0, 0, 2500)["x"].tolist()}
  assert not training & {tuple(row) for row in first["x"].tolist()}


@pytest.mark.parametrize(
  "options, message",
  [
    ({"std": 0.0}, "std"),
    ({"radius": -1.0}, "radius"),
    ({"num_examples": 0}, "num_examples"),
    ({"data_seed": -1}, "data_seed"),
  ],
)
def test_mixture_bad_option_values(options, message):
  with pytest.raises(ValueError, match=message):
    data.get("ring8", **options)


def test_gaussian1d_moments_density_and_quantiles():
  gaussian = data.get("gaussian1d", mean=2.0, std=0.5)
  assert gaussian.example_shape == (1,) and data.facts("gaussian1d").example_shape == (1,)
  x = gaussian.batch(seed=0, step=0, batch_size=20_000)["x"].astype(np.float64)
  assert x.shape == (20_000, 1)
  # Standard errors of the mean and std at n = 20000: 0.5 / sqrt(n) = 0.0035, 0.5 / sqrt(2n).
  assert abs(x.mean() - 2.0) < 5 * 0.0036 and abs(x.std() - 0.5) < 5 * 0.0025
  grid = np.array([-1.0, 2.0, 2.7])
  by_hand = -((grid - 2.0) ** 2) / (2 * 0.25) - np.log(np.sqrt(2 * np.pi) * 0.5)
  np.testing.assert_allclose(gaussian.log_prob(grid), by_hand, rtol=1e-12)
  np.testing.assert_allclose(gaussian.quantile(np.array([0.5, 0.8413447460685429])), [2.0, 2.5])


def test_segment_is_uniform_on_its_vertical_segment():
  segment = data.get("segment", offset=1.5, low=0.0, high=2.0)
  points = segment.batch(seed=0, step=0, batch_size=20_000)["x"]
  assert segment.example_shape == (2,)
  np.testing.assert_array_equal(points[:, 0], 1.5)
  assert points[:, 1].min() >= 0.0 and points[:, 1].max() <= 2.0
  # U(0, 2): mean 1, variance 1/3; standard error of the mean sqrt(1/3 / n) = 0.004.
  assert abs(points[:, 1].mean() - 1.0) < 0.02 and abs(points[:, 1].var() - 1 / 3) < 0.01


@pytest.mark.parametrize(
  "name, options, message",
  [
    ("gaussian1d", {"std": 0.0}, "std"),
    ("gaussian1d", {"mean": float("nan")}, "mean"),
    ("segment", {"low": 1.0, "high": 1.0}, "low < high"),
    ("segment", {"offset": float("inf")}, "finite"),
  ],
)
def test_low_dimensional_bad_option_values(name, options, message):
  with pytest.raises(ValueError, match=message):
    data.get(name, **options)


# ------------------------------------------------------------------------------- batch stream

STREAM_CASES = [
  ("digits", {}),
  ("ring8", {}),
  ("ring8", {"num_examples": None}),
  ("grid25", {"num_examples": 300}),
  ("swissroll", {"num_examples": None}),
  ("gaussian1d", {}),
  ("segment", {"num_examples": 100}),
]


@pytest.mark.parametrize("name, options", STREAM_CASES)
def test_batch_is_a_pure_function_of_seed_and_step(name, options):
  dataset = data.get(name, **options)
  first = dataset.batch(seed=5, step=7, batch_size=32)
  # A fresh object: no state carried between calls or instances.
  again = data.get(name, **options).batch(seed=5, step=7, batch_size=32)
  np.testing.assert_array_equal(first["x"], again["x"])
  np.testing.assert_array_equal(first["y"], again["y"])
  assert not np.array_equal(first["x"], dataset.batch(seed=5, step=8, batch_size=32)["x"])
  assert not np.array_equal(first["x"], dataset.batch(seed=6, step=7, batch_size=32)["x"])


@pytest.mark.parametrize("name, options", STREAM_CASES)
@pytest.mark.parametrize("process_count", [2, 4])
def test_process_slices_concatenate_to_the_global_batch(name, options, process_count):
  dataset = data.get(name, **options)
  whole = dataset.batch(seed=2, step=3, batch_size=16)
  parts = [
    dataset.batch(2, 3, 16, process_index=index, process_count=process_count)
    for index in range(process_count)
  ]
  assert all(part["x"].shape == (16 // process_count, *dataset.example_shape) for part in parts)
  for key in ("x", "y"):
    np.testing.assert_array_equal(np.concatenate([part[key] for part in parts]), whole[key])


def test_each_epoch_visits_every_example_exactly_once():
  num_examples, batch_size = 23, 5  # Batches straddle epoch boundaries.
  ids = np.arange(num_examples)
  dataset = data.ArrayDataset(
    "ids",
    train=(ids[:, None].astype(np.float32), ids.astype(np.int32)),
    held_out=(ids, ids),
    num_classes=0,
  )
  stream = np.concatenate([dataset.batch(9, step, batch_size)["y"] for step in range(14)])
  epochs = stream[: 3 * num_examples].reshape(3, num_examples)
  for epoch in epochs:
    np.testing.assert_array_equal(np.sort(epoch), ids)
  assert not np.array_equal(epochs[0], epochs[1])  # A new permutation per epoch.
  assert not np.array_equal(epochs[0], ids)


def test_finite_mixture_epoch_covers_its_training_set_once():
  ring = data.get("ring8", num_examples=40)
  epoch = np.concatenate([ring.batch(0, step, 8)["x"] for step in range(5)])
  assert len(np.unique(epoch, axis=0)) == 40
  next_epoch = np.concatenate([ring.batch(0, step, 8)["x"] for step in range(5, 10)])
  np.testing.assert_array_equal(_sorted_rows(next_epoch), _sorted_rows(epoch))


@pytest.mark.parametrize(
  "kwargs, message",
  [
    ({"batch_size": 10, "process_count": 4}, "not divisible"),
    ({"batch_size": 8, "process_count": 2, "process_index": 2}, "process_index"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 8, "seed": -1}, "seed"),
    ({"batch_size": 8, "step": 1.5}, "step"),
    ({"batch_size": True}, "batch_size"),
  ],
)
def test_batch_bad_arguments(kwargs, message):
  kwargs = {"seed": 0, "step": 0, **kwargs}
  with pytest.raises(ValueError, match=message):
    data.get("ring8").batch(**kwargs)


# ------------------------------------------------------------------------------------ registry


def test_unknown_data_set_lists_the_choices():
  with pytest.raises(ValueError, match="imagenet.*cifar10.*digits.*ring8"):
    data.get("imagenet")


def test_unknown_option_lists_the_valid_options():
  with pytest.raises(ValueError, match=r"\['colour'\].*\['size'\]"):
    data.get("digits", colour=True)
  with pytest.raises(ValueError, match="crop.*data_dir.*download.*size"):
    data.get("celeb_a", resolution=32)


# ---------------------------------------------------------------------------------------- TFDS

MOCK_EXPECTATIONS = {
  "mnist": ((28, 28, 1), 10),
  "fashion_mnist": ((28, 28, 1), 10),
  "cifar10": ((32, 32, 3), 10),
  "celeb_a": ((64, 64, 3), 0),
}


@pytest.mark.parametrize("name", sorted(MOCK_EXPECTATIONS))
def test_tfds_through_mock_data_without_tensorflow(name, tmp_path):
  example_shape, num_classes = MOCK_EXPECTATIONS[name]
  with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
    dataset = data.get(name, data_dir=str(tmp_path))
    batch = dataset.batch(seed=0, step=1, batch_size=8, process_index=1, process_count=2)
    again = dataset.batch(seed=0, step=1, batch_size=8, process_index=1, process_count=2)
    held_out = dataset.eval_data(num=5)
  assert (dataset.example_shape, dataset.num_classes) == (example_shape, num_classes)
  assert batch["x"].shape == (4, *example_shape) and batch["x"].dtype == np.float32
  assert batch["y"].shape == (4,) and batch["y"].dtype == np.int32
  assert -1.0 <= batch["x"].min() and batch["x"].max() <= 1.0
  assert np.all((0 <= batch["y"]) & (batch["y"] < max(num_classes, 1)))
  np.testing.assert_array_equal(batch["x"], again["x"])
  assert held_out["x"].shape == (5, *example_shape)
  assert "tensorflow" not in sys.modules


def test_tfds_center_crop_and_resize(tmp_path):
  with tfds.testing.mock_data(num_examples=4, policy=tfds.testing.MockPolicy.USE_CODE):
    raw = tfds.data_source("celeb_a", split="test", data_dir=str(tmp_path), download=False)
    image = np.asarray(raw[2]["image"], dtype=np.float64)
    cropped = data.TfdsImages("c", "celeb_a", data_dir=tmp_path, label_key=None, crop=140)
    resized = data.TfdsImages("r", "celeb_a", data_dir=tmp_path, label_key=None, crop=140, size=70)
    crop = cropped.eval_data()["x"][2]  # All of the held-out split, in stored order.
    small = resized.eval_data()["x"][2]
  # CelebA is 218 x 178: the central 140 x 140 square starts at row 39, column 19.
  np.testing.assert_allclose(crop, image[39:179, 19:159] / 127.5 - 1, atol=1e-6)
  assert small.shape == (70, 70, 3)
  # Any normalised interpolation filter keeps the mean of i.i.d. pixel noise.
  np.testing.assert_allclose(small.mean(), crop.mean(), atol=0.02)


class JaxgenTestImages(tfds.core.GeneratorBasedBuilder):
  """A tiny data set prepared on disk without TensorFlow (a Tensor feature needs no encoder)."""

  VERSION = tfds.core.Version("1.0.0")

  def _info(self):
    features = {
      "image": tfds.features.Tensor(shape=(4, 4, 1), dtype=np.uint8),
      "label": tfds.features.ClassLabel(num_classes=3),
    }
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

  def _split_generators(self, dl_manager):
    del dl_manager
    return {"train": self._generate_examples(10), "test": self._generate_examples(4)}

  def _generate_examples(self, num):
    for index in range(num):
      yield index, {"image": np.full((4, 4, 1), 25 * index, np.uint8), "label": index % 3}


def test_tfds_reads_prepared_array_record_files(tmp_path):
  JaxgenTestImages(data_dir=tmp_path, file_format="array_record").download_and_prepare()
  dataset = data.TfdsImages("tiny", "jaxgen_test_images", data_dir=tmp_path)
  assert (dataset.num_examples, dataset.example_shape, dataset.num_classes) == (10, (4, 4, 1), 3)
  epoch = np.concatenate([dataset.batch(seed=1, step=step, batch_size=5)["x"] for step in (0, 1)])
  labels = np.concatenate([dataset.batch(seed=1, step=step, batch_size=5)["y"] for step in (0, 1)])
  index = np.round((epoch[:, 0, 0, 0] + 1) * 127.5 / 25).astype(int)
  np.testing.assert_array_equal(np.sort(index), np.arange(10))
  expected = np.broadcast_to(25 * index[:, None, None, None] / 127.5 - 1, epoch.shape)
  np.testing.assert_allclose(epoch, expected, rtol=1e-6)
  np.testing.assert_array_equal(labels, index % 3)
  held_out = np.sort(dataset.eval_data()["x"][:, 0, 0, 0])  # tfds shuffles records when writing.
  np.testing.assert_allclose(held_out, np.arange(4) * 25 / 127.5 - 1, rtol=1e-6)


@pytest.fixture
def no_network(monkeypatch):
  """Refuses every connection (and the name lookup before one) and records the attempts: the
  list it returns must stay empty. A refusal alone could be caught and retried by the code under
  test; the record cannot."""
  attempts = []

  def refuse(name, method):
    def refused(*args, **kwargs):
      attempts.append(f"socket.{name}{args[1:] if method else args}")
      raise AssertionError(f"network access attempted: {attempts[-1]}")

    return refused

  for owner, name in [
    (socket.socket, "connect"),
    (socket.socket, "connect_ex"),
    (socket, "create_connection"),
    (socket, "getaddrinfo"),
  ]:
    monkeypatch.setattr(owner, name, refuse(name, owner is socket.socket))
  return attempts


@pytest.mark.parametrize("name", ["mnist", "celeb_a"])
def test_missing_tfds_data_fails_fast_with_the_prepare_command(name, tmp_path, no_network):
  data_dir = str(tmp_path / "tfds")
  with pytest.raises(FileNotFoundError) as failure:
    data.get(name, data_dir=data_dir)
  # Fast because it never tries to download: tfds's download retries hang for minutes (204 s here).
  assert no_network == []
  message = str(failure.value)
  assert repr(name) in message and data_dir in message
  assert tfds_source.prepare_command(name, data_dir) in message
  assert "download=True" in message


def test_tfds_data_in_an_unreadable_form_names_the_reason(tmp_path, no_network):
  (tmp_path / "mnist" / "3.0.1").mkdir(parents=True)
  with pytest.raises(FileNotFoundError, match="not readable as ArrayRecord.*tfds said"):
    data.get("mnist", data_dir=str(tmp_path))
  assert no_network == []


def test_tfds_data_dir_defaults_to_the_environment(monkeypatch, tmp_path):
  monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
  assert tfds_source.resolve_data_dir(None) == str(tmp_path)
  monkeypatch.delenv("TFDS_DATA_DIR")
  assert tfds_source.resolve_data_dir(None).endswith("tensorflow_datasets")


@pytest.mark.parametrize(
  "kwargs, message",
  [({"crop": 300}, "crop"), ({"size": 0}, "size"), ({"download": "no"}, "download")],
)
def test_tfds_bad_option_values(kwargs, message, tmp_path):
  with tfds.testing.mock_data(num_examples=2, policy=tfds.testing.MockPolicy.USE_CODE):
    with pytest.raises(ValueError, match=message):
      data.get("celeb_a", data_dir=str(tmp_path), **kwargs)
