"""The `arrays` data set: a .npz (x, optional y) or .npy (x) of images or points, a fixed held-out
split, a one-line ConfigError for every bad input, and a short training."""

import json

import numpy as np
import pytest
import tiny_ring8_config

from jaxgen import data
from jaxgen.errors import ConfigError
from jaxgen.run import train
from jaxgen.run.overrides import apply_overrides


def _all_examples(dataset) -> dict[str, np.ndarray]:
  """One training epoch (a permutation of the training set) and the held-out split together."""
  epoch = dataset.batch(seed=0, step=0, batch_size=dataset.num_examples)
  held_out = dataset.eval_data()
  return {key: np.concatenate([epoch[key], held_out[key]]) for key in ("x", "y")}


def _rows(x: np.ndarray) -> list[bytes]:
  return sorted(row.tobytes() for row in x)


def test_uint8_images_with_labels_map_to_the_model_range(tmp_path):
  rng = np.random.default_rng(0)
  x = rng.integers(0, 256, (30, 8, 8, 3), dtype=np.uint8)
  y = np.arange(30) % 5
  np.savez(tmp_path / "images.npz", x=x, y=y)
  assert data.facts("arrays", path=str(tmp_path / "images.npz")) == ((8, 8, 3), 5)
  dataset = data.get("arrays", path=str(tmp_path / "images.npz"))
  assert (dataset.example_shape, dataset.num_classes) == ((8, 8, 3), 5)
  assert (dataset.num_examples, len(dataset.eval_data()["x"])) == (27, 3)  # round(0.1 * 30)
  served = _all_examples(dataset)
  assert served["x"].dtype == np.float32 and served["y"].dtype == np.int32
  expected = {(x[i].astype(np.float32) / 127.5 - 1.0).tobytes(): y[i] for i in range(30)}
  assert {a.tobytes(): b for a, b in zip(served["x"], served["y"], strict=True)} == expected


def test_float_images_in_a_npy_file_are_memory_mapped_and_served_unchanged(tmp_path):
  x = np.random.default_rng(1).uniform(-1, 1, (20, 4, 4, 1)).astype(np.float32)
  x[0, 0, 0, 0], x[1, 0, 0, 0] = -1.0, 1.0  # the ends of the range are in it
  np.save(tmp_path / "images.npy", x)
  dataset = data.get("arrays", path=str(tmp_path / "images.npy"), held_out=0.25)
  assert isinstance(dataset.stored_examples, np.memmap)
  assert (dataset.example_shape, dataset.num_classes, dataset.num_examples) == ((4, 4, 1), 0, 15)
  served = _all_examples(dataset)
  assert _rows(served["x"]) == _rows(x) and not served["y"].any()


def test_points_of_any_dimension(tmp_path):
  points = np.random.default_rng(2).normal(0, 5, (40, 3))  # float64, far outside [-1, 1]
  np.savez(tmp_path / "points.npz", x=points)
  dataset = data.get("arrays", path=str(tmp_path / "points.npz"))
  assert (dataset.example_shape, dataset.num_classes) == ((3,), 0)
  assert _rows(_all_examples(dataset)["x"]) == _rows(points.astype(np.float32))


def test_the_held_out_split_is_fixed_and_batches_a_pure_function_of_seed_and_step(tmp_path):
  np.save(tmp_path / "points.npy", np.arange(100, dtype=np.float32).reshape(50, 2))
  first, second = (data.get("arrays", path=str(tmp_path / "points.npy")) for _ in range(2))
  np.testing.assert_array_equal(first.eval_data()["x"], second.eval_data()["x"])
  train_rows = {tuple(r) for r in first.batch(0, 0, first.num_examples)["x"]}
  assert not train_rows & {tuple(r) for r in first.eval_data()["x"]}  # never trained on
  whole = first.batch(seed=4, step=9, batch_size=10)
  np.testing.assert_array_equal(whole["x"], second.batch(seed=4, step=9, batch_size=10)["x"])
  halves = [second.batch(4, 9, 10, process_index=p, process_count=2)["x"] for p in (0, 1)]
  np.testing.assert_array_equal(whole["x"], np.concatenate(halves))
  assert not np.array_equal(whole["x"], first.batch(seed=4, step=10, batch_size=10)["x"])


def _bad_files(root):
  """file name -> (arrays saved there, a phrase of the message)."""
  images = np.zeros((10, 4, 4, 1), np.uint8)
  return {
    "no_x.npz": ({"images": images}, "has no array 'x' (it holds ['images'])"),
    "short_y.npz": ({"x": images, "y": np.zeros(9, int)}, "y needs one label per example"),
    "float_y.npz": ({"x": images, "y": np.zeros(10)}, "must hold integer labels >= 0"),
    "negative_y.npz": ({"x": images, "y": -np.ones(10, int)}, "must hold integer labels >= 0"),
    "gray.npz": ({"x": images[..., 0]}, "give grayscale images their channel axis"),
    "line.npz": ({"x": np.zeros(10)}, "store 1-D points as [N, 1]"),
    "five.npz": ({"x": images[..., None]}, "must be [N, H, W, C] images or [N, D] points"),
    "nan.npz": ({"x": np.full((10, 2), np.nan)}, "holds NaN or infinite values"),
    "inf.npy": (np.full((10, 4, 4, 1), np.inf, np.float32), "holds NaN or infinite values"),
    "range.npy": (np.full((10, 4, 4, 1), 255.0), "outside the model's range [-1, 1]"),
    "int16.npz": ({"x": images.astype(np.int16)}, "holds int16 images; store uint8"),
    "int_points.npz": ({"x": np.zeros((10, 2), int)}, "store them as floats"),
    "one.npz": ({"x": images[:1]}, "leaving none to train on"),
  }


def _refused(phrase, build, **options):
  """`build(**options)` raises a one-line ConfigError holding `phrase`."""
  with pytest.raises(ConfigError) as raised:
    build(**options)
  message = str(raised.value)
  assert phrase in message and "\n" not in message, message


def _build(**options):
  return data.get("arrays", **options)


def test_every_bad_input_is_one_line_naming_the_problem(tmp_path):
  for name, (content, phrase) in _bad_files(tmp_path).items():
    path = tmp_path / name
    if name.endswith(".npy"):
      np.save(path, content)
    else:
      np.savez(path, **content)
    _refused(phrase, _build, path=str(path))
  _refused("data.options.path is required", data.facts, name="arrays")
  _refused("does not exist", _build, path=str(tmp_path / "nowhere.npz"))
  (tmp_path / "x.csv").write_text("1,2\n")
  _refused("is neither a .npy nor a .npz file", _build, path=str(tmp_path / "x.csv"))
  (tmp_path / "broken.npz").write_bytes(b"not a zip")
  _refused("is not a readable .npz file", _build, path=str(tmp_path / "broken.npz"))
  np.save(tmp_path / "fine.npy", np.zeros((10, 2), np.float32))
  for held_out in (0, 1, True, "0.1"):
    _refused("must be a share", _build, path=str(tmp_path / "fine.npy"), held_out=held_out)
  _refused("is not a path string", _build, path=12)


def test_a_gan_trains_a_few_steps_on_points_from_a_file(tmp_path):
  rng = np.random.default_rng(3)
  centres = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
  labels = rng.integers(0, 3, 300)
  np.savez(tmp_path / "blobs.npz", x=centres[labels] + 0.05 * rng.normal(size=(300, 2)), y=labels)
  config = tiny_ring8_config.get_config()
  raw = {"data.name": "arrays", "data.options.path": str(tmp_path / "blobs.npz")}
  raw |= {"num_steps": "4", "eval_every": "4", "checkpoint_every": "4", "batch_size": "16"}
  raw |= {"log_every": "1", "eval.num_samples": "50", "progress_bar": "false"}
  apply_overrides(config, raw, parse_strings=True)  # as the command line gives them
  assert dict(config.data.options) == {"path": str(tmp_path / "blobs.npz")}
  state = train.train_and_evaluate(config, tmp_path / "run")
  assert int(state.step) == 4
  records = [
    json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
  ]
  assert all(np.isfinite(r["generator/loss"]) for r in records if "generator/loss" in r)
  assert (tmp_path / "run" / "samples_0000004.png").exists()
