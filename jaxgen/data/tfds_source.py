"""Image data sets from tensorflow-datasets, read without TensorFlow.

`tfds.data_source` opens a prepared data set's ArrayRecord files for random access and decodes
examples with NumPy and Pillow, so reading needs neither TensorFlow nor a network. Preparing a data
set (download + conversion) does need both; it is done once on a machine with internet:

  pip install tensorflow tensorflow-datasets
  python -c "import tensorflow_datasets as tfds; \
             tfds.data_source('mnist', data_dir='DIR', download=True)"

after which DIR/mnist is copied to this machine's data_dir. jaxgen opens data with
`download=False` unless asked (`download=True`), and turns a missing data set into a
FileNotFoundError naming the data set, the data_dir and that command. (A call that downloads runs
`download_and_prepare`, which offline retries for minutes before failing.)

Images are mapped from uint8 [0, 255] to float32 [-1, 1] (v / 127.5 - 1). `celeb_a` images
(218 x 178) are center-cropped to 140 x 140 and resized to 64 x 64 by default, the preprocessing of
Tolstikhin et al. 2018 (WAE, Sec. 4), with Pillow's antialiased bicubic filter.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from jaxgen.data.base import Batch, FiniteDataset, check_int, declare, eval_indices

# tensorflow-datasets' own default, read when the call is made so TFDS_DATA_DIR set late counts.
_DEFAULT_DATA_DIR = os.path.join("~", "tensorflow_datasets")


def resolve_data_dir(data_dir: str | os.PathLike | None) -> str:
  """`data_dir`, else $TFDS_DATA_DIR, else ~/tensorflow_datasets (tfds's rule), made absolute."""
  chosen = data_dir or os.environ.get("TFDS_DATA_DIR") or _DEFAULT_DATA_DIR
  return os.path.abspath(os.path.expanduser(os.fspath(chosen)))


def prepare_command(tfds_name: str, data_dir: str) -> str:
  """The shell command that downloads and prepares `tfds_name` in ArrayRecord format."""
  code = (
    "import tensorflow_datasets as tfds; "
    f"tfds.data_source({tfds_name!r}, data_dir={data_dir!r}, download=True)"
  )
  return f'python -c "{code}"'


def open_source(tfds_name: str, split: str, data_dir: str, download: bool):
  """`tfds.data_source` for one split; a missing data set becomes a FileNotFoundError at once."""
  try:
    import tensorflow_datasets as tfds  # noqa: PLC0415 — 0.5 s of import, only for TFDS runs

    return tfds.data_source(tfds_name, split=split, data_dir=data_dir, download=download)
  except (KeyError, NotImplementedError, FileNotFoundError, OSError, ValueError) as error:
    if download:
      raise
    # tfds's own message can mislead here (an absent directory is reported as a data set prepared
    # in the TFRECORD format), so say first whether the data set's directory exists at all.
    dataset_dir = os.path.join(data_dir, tfds_name)
    if os.path.isdir(dataset_dir):
      problem = f"is not readable as ArrayRecord under {dataset_dir!r} (tfds said: {error})"
    else:
      problem = f"is not prepared: there is no directory {dataset_dir!r}"
    raise FileNotFoundError(
      f"TFDS data set {tfds_name!r} (split {split!r}) {problem}; data_dir={data_dir!r}.\n"
      "Prepare it on a machine with internet access and TensorFlow "
      "(pip install tensorflow tensorflow-datasets):\n"
      f"  {prepare_command(tfds_name, data_dir)}\n"
      f"then copy {dataset_dir} to this machine, or pass the data option download=True on a "
      "machine with internet."
    ) from error


# The stored image shape (H, W, C) and the number of classes (0: unlabelled, as `celeb_a` is read)
# of each TFDS set in `jaxgen.data.DATASETS`, from its dataset_info: a config is checked against
# them without opening the files.
PREPARED = {
  "mnist": ((28, 28, 1), 10),
  "fashion_mnist": ((28, 28, 1), 10),
  "cifar10": ((32, 32, 3), 10),
  "celeb_a": ((218, 178, 3), 0),
}


def example_shape(name: str, image_shape, crop: int | None, size: int | None) -> tuple[int, ...]:
  """The shape of one example of `name`: stored images of `image_shape` (H, W, C), centre-cropped
  to `crop` x `crop` and resized to `size` x `size` (None: not cropped / not resized)."""
  height, width, channels = image_shape
  if crop is not None and check_int("crop", crop, minimum=1) > min(height, width):
    raise ValueError(
      f"crop must be at most the image's smaller side {min(height, width)} for {name!r} "
      f"({height} x {width}); got {crop!r}."
    )
  if size is not None:
    check_int("size", size, minimum=1)
  side = size or crop
  return (side, side, channels) if side else (height, width, channels)


class TfdsImages(FiniteDataset):
  """An image data set read through `tfds.data_source`: a training split and a held-out split.

  Args:
    name: the registry name.
    tfds_name: the tensorflow-datasets name, e.g. "mnist".
    data_dir: where prepared data sets live (None: $TFDS_DATA_DIR or ~/tensorflow_datasets).
    download: let tfds download and prepare a missing data set (needs internet and TensorFlow).
    train_split, eval_split: the TFDS splits read by `batch` and by `eval_data`.
    label_key: the ClassLabel feature giving "y", or None for unlabelled data ("y" all 0).
    crop: side of the central square kept before resizing, or None to keep the whole image.
    size: side the (cropped) image is resized to, or None to keep it.
  """

  def __init__(
    self,
    name: str,
    tfds_name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    train_split: str = "train",
    eval_split: str = "test",
    label_key: str | None = "label",
    crop: int | None = None,
    size: int | None = None,
  ):
    if not isinstance(download, bool):
      raise ValueError(f"download must be True or False; got {download!r}.")
    self.name = name
    self.data_dir = resolve_data_dir(data_dir)
    self._train = open_source(tfds_name, train_split, self.data_dir, download)
    self._held_out = open_source(tfds_name, eval_split, self.data_dir, download)
    features = self._train.dataset_info.features
    self.example_shape = example_shape(name, features["image"].shape, crop, size)
    self._crop = None if crop is None else check_int("crop", crop, minimum=1)
    self._size = None if size is None else check_int("size", size, minimum=1)
    self._label_key = label_key
    self.num_classes = features[label_key].num_classes if label_key else 0

  @property
  def num_examples(self) -> int:
    """Number of training examples (one epoch): the records of the training split."""
    return len(self._train)

  def _preprocess(self, image: np.ndarray) -> np.ndarray:
    """uint8 [H, W, C] -> float32 [*example_shape] in [-1, 1]: center crop, resize, rescale."""
    if self._crop is not None:
      top = (image.shape[0] - self._crop) // 2
      left = (image.shape[1] - self._crop) // 2
      image = image[top : top + self._crop, left : left + self._crop]
    if self._size is not None and image.shape[:2] != (self._size, self._size):
      # Pillow wants a 2-D array for one channel; its bicubic filter widens when downscaling.
      pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
      resized = pil.resize((self._size, self._size), Image.Resampling.BICUBIC)
      image = np.asarray(resized).reshape(self.example_shape)
    # Linear map of [0, 255] onto [-1, 1].
    return image.astype(np.float32) / 127.5 - 1.0

  def _read(self, source, indices: np.ndarray) -> Batch:
    records = [source[int(index)] for index in indices]
    images = np.stack([self._preprocess(np.asarray(r["image"])) for r in records])
    if self._label_key:
      labels = np.array([r[self._label_key] for r in records], dtype=np.int32)
    else:
      labels = np.zeros(len(records), np.int32)
    return {"x": images.reshape(len(records), *self.example_shape), "y": labels}

  def _training_examples(self, indices: np.ndarray) -> Batch:
    return self._read(self._train, indices)

  def eval_data(self, num: int | None = None, seed: int = 0) -> Batch:
    """The held-out split: all of it in stored order, or `num` examples drawn from `seed`."""
    return self._read(self._held_out, eval_indices(num, seed, len(self._held_out)))


def _prepared_facts(name: str):
  """The facts of the TFDS set `name` from PREPARED (and its crop / size options)."""

  def facts(crop: int | None = None, size: int | None = None, **_locations):
    image_shape, num_classes = PREPARED[name]
    return example_shape(name, image_shape, crop, size), num_classes

  return facts


@declare(facts=_prepared_facts("mnist"))
def mnist(data_dir: str | None = None, download: bool = False) -> TfdsImages:
  """MNIST: 60000 training and 10000 test images, 28 x 28 x 1, labels 0..9."""
  return TfdsImages("mnist", "mnist", data_dir=data_dir, download=download)


@declare(facts=_prepared_facts("fashion_mnist"))
def fashion_mnist(data_dir: str | None = None, download: bool = False) -> TfdsImages:
  """Fashion-MNIST: 60000 training and 10000 test images, 28 x 28 x 1, labels 0..9."""
  return TfdsImages("fashion_mnist", "fashion_mnist", data_dir=data_dir, download=download)


@declare(facts=_prepared_facts("cifar10"))
def cifar10(data_dir: str | None = None, download: bool = False) -> TfdsImages:
  """CIFAR-10: 50000 training and 10000 test images, 32 x 32 x 3, labels 0..9."""
  return TfdsImages("cifar10", "cifar10", data_dir=data_dir, download=download)


@declare(facts=_prepared_facts("celeb_a"))
def celeb_a(
  size: int = 64, crop: int = 140, data_dir: str | None = None, download: bool = False
) -> TfdsImages:
  """CelebA: 162770 training, 19962 test faces; central `crop` square resized to `size`."""
  return TfdsImages(
    "celeb_a",
    "celeb_a",
    data_dir=data_dir,
    download=download,
    label_key=None,
    crop=crop,
    size=size,
  )
