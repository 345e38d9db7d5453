"""The `image_folder` data set: PNG/JPEG files decoded once with Pillow into a memory-mapped cache,
labels from class sub-folders, a one-line ConfigError for every bad input, and a short training."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from jaxgen import configs, data
from jaxgen.data import image_folder
from jaxgen.errors import ConfigError
from jaxgen.run import config_check, train
from jaxgen.run.overrides import apply_overrides

CLASSES = ("cat", "dog", "owl")
PER_CLASS = 13  # 39 images: round(0.1 * 39) = 4 held out, 35 to train on
SIDE = 12


def _save(array: np.ndarray, path) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(array).save(path)


def _random_pixels(rng, shape) -> np.ndarray:
  return rng.integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture
def folder(tmp_path):
  """Three class sub-folders of 12x12 RGB PNGs; returns (root, {file: (pixels, class id)})."""
  root, rng, images = tmp_path / "images", np.random.default_rng(0), {}
  for label, name in enumerate(CLASSES):
    for index in range(PER_CLASS):
      pixels = _random_pixels(rng, (SIDE, SIDE, 3))
      _save(pixels, root / name / f"{index:02d}.png")
      images[f"{name}/{index:02d}.png"] = (pixels, label)
  return root, images


def _model_range(pixels: np.ndarray) -> np.ndarray:
  """uint8 0..255 -> float32 [-1, 1], the rule every jaxgen image data set follows."""
  return pixels.astype(np.float32) / 127.5 - 1.0


def _all_examples(dataset) -> dict[str, np.ndarray]:
  """One training epoch (a permutation of the training set) and the held-out split together."""
  epoch = dataset.batch(seed=0, step=0, batch_size=dataset.num_examples)
  held_out = dataset.eval_data()
  return {key: np.concatenate([epoch[key], held_out[key]]) for key in ("x", "y")}


def test_every_image_is_served_once_in_the_model_range_with_its_folder_as_label(folder):
  root, images = folder
  dataset = data.get("image_folder", path=str(root))
  assert (dataset.example_shape, dataset.num_classes) == ((SIDE, SIDE, 3), 3)
  assert dataset.class_names == CLASSES and dataset.files == tuple(sorted(images))
  assert dataset.num_examples == 35 and len(dataset.eval_data()["x"]) == 4
  served = _all_examples(dataset)
  assert served["x"].dtype == np.float32 and served["y"].dtype == np.int32
  assert -1.0 <= served["x"].min() and served["x"].max() <= 1.0
  expected = {_model_range(pixels).tobytes(): label for pixels, label in images.values()}
  got = {x.tobytes(): int(y) for x, y in zip(served["x"], served["y"], strict=True)}
  assert got == expected  # every image once, exact pixels, its own label


def test_facts_read_the_file_list_and_one_header_without_decoding(folder, monkeypatch):
  root, _ = folder
  monkeypatch.setattr(image_folder, "decode", _must_not_decode)
  assert data.facts("image_folder", path=str(root)) == ((SIDE, SIDE, 3), 3)
  assert data.facts("image_folder", path=str(root), size=8, channels=1, labels="none") == (
    (8, 8, 1),
    0,
  )
  assert not (root / ".jaxgen_cache").exists()


def _must_not_decode(*args):
  raise AssertionError(f"decoded {args[0]} although the cache holds it")


def test_the_cache_is_written_once_memory_mapped_and_reused_without_decoding(folder, monkeypatch):
  root, _ = folder
  first = data.get("image_folder", path=str(root))
  cached = list((root / ".jaxgen_cache").iterdir())
  assert len(cached) == 1 and cached[0].name.startswith("image_folder-")
  assert np.load(cached[0]).shape == (len(first.files), SIDE, SIDE, 3)
  monkeypatch.setattr(image_folder, "decode", _must_not_decode)
  second = data.get("image_folder", path=str(root), labels="none", held_out=0.2)
  assert isinstance(second.stored_examples, np.memmap)
  assert list((root / ".jaxgen_cache").iterdir()) == cached  # labels and held_out: same pixels
  third = data.get("image_folder", path=str(root))
  for step in (0, 7):
    a, b = (dataset.batch(seed=3, step=step, batch_size=8) for dataset in (first, third))
    np.testing.assert_array_equal(a["x"], b["x"])
    np.testing.assert_array_equal(a["y"], b["y"])


def test_a_changed_image_or_pixel_option_decodes_again(folder, monkeypatch):
  root, _ = folder
  data.get("image_folder", path=str(root))
  decoded = []
  real_decode = image_folder.decode

  def counting(*args):
    decoded.append(args[0].name)
    return real_decode(*args)

  monkeypatch.setattr(image_folder, "decode", counting)
  data.get("image_folder", path=str(root), size=8)
  assert len(decoded) == 3 * PER_CLASS
  _save(np.zeros((SIDE, SIDE, 3), np.uint8), root / "cat" / "00.png")
  decoded.clear()
  dataset = data.get("image_folder", path=str(root))
  assert len(decoded) == 3 * PER_CLASS
  assert len(list((root / ".jaxgen_cache").iterdir())) == 3
  assert np.any(np.all(_all_examples(dataset)["x"] == -1.0, axis=(1, 2, 3)))  # the black image


def test_batches_are_a_pure_function_of_seed_and_step(folder):
  root, _ = folder
  dataset = data.get("image_folder", path=str(root))
  again = data.get("image_folder", path=str(root))
  whole = dataset.batch(seed=1, step=5, batch_size=8)
  np.testing.assert_array_equal(whole["x"], again.batch(seed=1, step=5, batch_size=8)["x"])
  halves = [again.batch(1, 5, 8, process_index=p, process_count=2)["x"] for p in (0, 1)]
  np.testing.assert_array_equal(whole["x"], np.concatenate(halves))
  assert not np.array_equal(whole["x"], dataset.batch(seed=1, step=6, batch_size=8)["x"])
  assert not np.array_equal(whole["x"], dataset.batch(seed=2, step=5, batch_size=8)["x"])


def test_cache_dir_and_the_environment_move_the_cache_out_of_the_folder(folder, monkeypatch):
  root, _ = folder
  data.get("image_folder", path=str(root), cache_dir=str(root.parent / "option"))
  monkeypatch.setenv("JAXGEN_CACHE", str(root.parent / "environment"))
  data.get("image_folder", path=str(root))
  assert len(list((root.parent / "option").iterdir())) == 1
  assert len(list((root.parent / "environment").iterdir())) == 1
  assert not (root / ".jaxgen_cache").exists()


def test_grayscale_images_give_one_channel_and_colour_converts_by_option(tmp_path):
  rng = np.random.default_rng(1)
  gray = [_random_pixels(rng, (SIDE, SIDE)) for _ in range(4)]
  for index, pixels in enumerate(gray):
    _save(pixels, tmp_path / "gray" / f"{index}.png")
  dataset = data.get("image_folder", path=str(tmp_path / "gray"), held_out=0.25)
  assert (dataset.example_shape, dataset.num_classes) == ((SIDE, SIDE, 1), 0)
  expected = sorted(_model_range(p[..., None]).tobytes() for p in gray)
  assert sorted(x.tobytes() for x in _all_examples(dataset)["x"]) == expected

  colour = _random_pixels(rng, (SIDE, SIDE, 3))
  _save(colour, tmp_path / "colour" / "0.png")
  _save(colour, tmp_path / "colour" / "1.png")
  dataset = data.get("image_folder", path=str(tmp_path / "colour"), channels=1, held_out=0.5)
  luma = np.asarray(Image.fromarray(colour).convert("L"))  # ITU-R 601-2, Pillow's own rule
  np.testing.assert_array_equal(dataset.eval_data()["x"][0], _model_range(luma[..., None]))


def test_center_crop_then_resize_and_exif_orientation(tmp_path):
  rng = np.random.default_rng(2)
  wide = _random_pixels(rng, (SIDE, 16, 3))  # height 12, width 16: the centre square is 2..14
  _save(wide, tmp_path / "wide" / "0.png")
  _save(wide, tmp_path / "wide" / "1.png")
  options = dict(path=str(tmp_path / "wide"), crop="center", held_out=0.5)
  square = data.get("image_folder", **options).eval_data()["x"][0]
  np.testing.assert_array_equal(square, _model_range(wide[:, 2:14]))
  small = data.get("image_folder", size=8, **options).eval_data()["x"][0]
  resized = Image.fromarray(wide[:, 2:14]).resize((8, 8), Image.Resampling.BICUBIC)
  np.testing.assert_array_equal(small, _model_range(np.asarray(resized)))

  # A JPEG whose EXIF says "rotate 90 degrees": stored 12 high and 16 wide, upright 16 x 12.
  exif = Image.Exif()
  exif[0x0112] = 6
  (tmp_path / "turned").mkdir()
  for index in range(2):
    Image.fromarray(wide).save(tmp_path / "turned" / f"{index}.jpg", exif=exif)
  assert data.facts("image_folder", path=str(tmp_path / "turned")) == ((16, SIDE, 3), 0)
  turned = data.get("image_folder", path=str(tmp_path / "turned"), held_out=0.5)
  assert turned.eval_data()["x"].shape == (1, 16, SIDE, 3)


def test_labels_auto_needs_every_image_in_one_of_several_sub_folders(folder, tmp_path):
  root, _ = folder
  assert data.facts("image_folder", path=str(root), labels="none")[1] == 0
  _save(np.zeros((SIDE, SIDE, 3), np.uint8), root / "loose.png")
  assert data.facts("image_folder", path=str(root))[1] == 0  # "auto": a loose image, no labels
  one = tmp_path / "one"
  for index in range(3):
    _save(np.zeros((SIDE, SIDE, 3), np.uint8), one / "only" / f"{index}.png")
  assert data.facts("image_folder", path=str(one))[1] == 0
  assert data.facts("image_folder", path=str(one), labels="folders")[1] == 1


def _png_bytes(pixels: np.ndarray) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, format="PNG")
  return buffer.getvalue()


def _bad_folders(root):
  """name -> (folder, options, a phrase of the message) for every bad input."""
  rng = np.random.default_rng(3)
  rgb = lambda side=SIDE: _random_pixels(rng, (side, side, 3))
  made = {}

  def make(name, files):
    where = root / name
    where.mkdir()
    for relative, content in files.items():
      (where / relative).parent.mkdir(parents=True, exist_ok=True)
      (where / relative).write_bytes(content)
    return where

  made["empty"] = (make("empty", {".hidden.png": _png_bytes(rgb())}), {}, "No PNG/JPEG images")
  corrupt = make("corrupt", {"a.png": _png_bytes(rgb()), "z.png": b"not an image"})
  made["corrupt"] = (corrupt, {}, "Cannot read the image 'z.png'")
  truncated = make("truncated", {"a.png": _png_bytes(rgb()), "z.png": _png_bytes(rgb())[:200]})
  made["truncated"] = (truncated, {}, "Cannot read the image 'z.png'")
  mixed = make("mixed", {"a.png": _png_bytes(rgb()), "b.png": _png_bytes(rgb(10))})
  made["mixed sizes"] = (mixed, {}, "set data.options.size")
  gray = _png_bytes(_random_pixels(rng, (SIDE, SIDE)))
  both = make("both", {"a.png": _png_bytes(rgb()), "b.png": gray})
  made["mixed channels"] = (both, {}, "'b.png' is grayscale but the first image 'a.png' is colour")
  loose = make("loose", {"a.png": _png_bytes(rgb()), "cat/b.png": _png_bytes(rgb())})
  made["loose image"] = (loose, {"labels": "folders"}, "'a.png' lies directly in it")
  other = make("other", {"a.png": _png_bytes(rgb()), "notes.txt": b"hello"})
  made["other file"] = (other, {}, "'notes.txt'")
  buffer = io.BytesIO()
  Image.fromarray(rng.integers(0, 65535, (SIDE, SIDE), dtype=np.uint16)).save(buffer, "PNG")
  deep = make("deep", {"a.png": _png_bytes(rgb()), "b.png": buffer.getvalue()})
  made["16-bit"] = (deep, {"channels": 1}, "16-bit, 32-bit or float pixels")
  single = make("single", {"a.png": _png_bytes(rgb())})
  made["one image"] = (single, {}, "leaving none to train on")
  return made


BAD_OPTIONS = {
  "crop": ("middle", "data.options.crop = 'middle' is not one of"),
  "channels": (2, "data.options.channels = 2 must be 1"),
  "size": (0, "data.options.size = 0 must be"),
  "labels": ("yes", "data.options.labels = 'yes' is not one of"),
  "held_out": (1.0, "data.options.held_out = 1.0 must be a share"),
  "cache_dir": (5, "data.options.cache_dir = 5 must be"),
}


def _refused(phrase, build, **options):
  """`build(**options)` raises a one-line ConfigError holding `phrase`."""
  with pytest.raises(ConfigError) as raised:
    build(**options)
  message = str(raised.value)
  assert phrase in message and "\n" not in message, message


def _facts(**options):
  return data.facts("image_folder", **options)


def _build(**options):
  return data.get("image_folder", **options)


def test_every_bad_input_is_one_line_naming_the_problem(folder, tmp_path):
  root, _ = folder
  for option, (value, phrase) in BAD_OPTIONS.items():
    _refused(phrase, _facts, path=str(root), **{option: value})
  _refused("data.options.path is required", _facts)
  _refused("does not exist", _facts, path=str(tmp_path / "nowhere"))
  _refused("is a file, not a folder", _facts, path=str(root / "cat" / "00.png"))
  (tmp_path / "bad").mkdir()
  for name, (where, options, phrase) in _bad_folders(tmp_path / "bad").items():
    _refused(phrase, _build, path=str(where), **options)
    assert not list(where.glob(".jaxgen_cache/*")), name  # a failed decode leaves no file
  blocked = tmp_path / "a_file_not_a_folder"
  blocked.write_text("")
  phrase = "set data.options.cache_dir (or $JAXGEN_CACHE) to a writable folder"
  _refused(phrase, _build, path=str(root), cache_dir=str(blocked))


def _tiny_dcgan(**overrides):
  config = configs.load("dcgan_digits")
  apply_overrides(
    config,
    {
      "data.name": "image_folder",
      "model.generator.base_features": "4",
      "model.discriminator.base_features": "4",
      "eval.extractor": "",  # the digits classifier reads digits only
      "num_steps": "3",
      "eval_every": "3",
      "checkpoint_every": "3",
      "batch_size": "8",
      "log_every": "1",
      "eval.num_samples": "16",
      "progress_bar": "false",
      **overrides,
    },
    parse_strings=True,  # as the command line gives them
  )
  return config


def test_a_missing_path_is_refused_by_the_config_check():
  _refused("data.options.path is required", config_check.check_config, config=_tiny_dcgan())


def test_a_dcgan_trains_a_few_steps_on_an_image_folder(folder, tmp_path):
  root, _ = folder
  # dcgan_digits' data option size=16 carries over (image_folder takes it): 12x12 -> 16x16.
  config = _tiny_dcgan(**{"data.options.path": str(root), "conditional": "true"})
  assert dict(config.data.options) == {"path": str(root), "size": 16}
  state = train.train_and_evaluate(config, tmp_path / "run")
  assert int(state.step) == 3
  records = [
    json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
  ]
  assert all(np.isfinite(r["generator/loss"]) for r in records if "generator/loss" in r)
  assert (tmp_path / "run" / "samples_0000003.png").exists()
