"""Your own arrays as a data set: `arrays`, a `.npz` file holding `x` (and optionally `y`) or a
`.npy` file holding `x`.

`x` is one of
  - images, shape [N, H, W, C]: uint8 pixels 0..255, mapped to float32 [-1, 1] (v / 127.5 - 1, as
    every jaxgen image data set), or floats already in [-1, 1] (the range of a tanh generator),
    served as they are. Floats outside [-1, 1] are refused, not clipped: scale them yourself or
    store uint8. A grayscale stack [N, H, W] needs its channel axis, x[..., None].
  - points, shape [N, D] of floats, any finite values, like the 2-D mixtures
    (`jaxgen.data.mixtures`).
`y`, when given, holds N non-negative integer labels; the data set then has max(y) + 1 classes.
Without `y` it is unlabelled ("y" of every batch is 0).

A `.npy` file is memory-mapped (`np.load(mmap_mode="r")`), so an `x` larger than memory trains; a
batch reads only its own rows. The members of a `.npz` file cannot be memory-mapped (it is a zip
archive), so its `x` is read into memory. Float values are checked (no NaN or infinity, images in
[-1, 1]) by one pass over `x` when the data set is built, chunk by chunk. `jaxgen.data.image_folder`
serves its decoded cache the same way, through `StoredArrays`.

Held-out split: a fixed share `held_out` of the examples (round(held_out * N), at least 1) is kept
for `eval_data` and never trained on, chosen by a permutation drawn from a fixed seed; the rest is
the training set, read in epoch-wise permutations of (seed, epoch) like every finite data set
(`jaxgen.data.base`), so a batch is a pure function of (seed, step). The split changes when N does.
"""

from __future__ import annotations

import inspect
import numbers
import os
import zipfile
from pathlib import Path

import numpy as np

from jaxgen.data.base import Batch, FiniteDataset, declare, eval_indices, rng_for
from jaxgen.errors import ConfigError

SUFFIXES = (".npy", ".npz")
DEFAULT_HELD_OUT = 0.1
# The random stream of the held-out split (jaxgen.data.base uses 0..3, unpaired 10..12) and its
# fixed seed: every run and every training seed holds out the same examples.
HELD_OUT_STREAM = 20
SPLIT_SEED = 0
# Rows are checked for NaNs and range in chunks of about this many bytes, so an x larger than
# memory is scanned without being loaded.
_SCAN_CHUNK_BYTES = 1 << 26


def check_path(path, what: str) -> Path:
  """`data.options.path` as a Path; `what` says what it should point at."""
  if path is inspect.Parameter.empty or path is None or path == "":
    raise ConfigError(
      f"data.options.path is required: set --config.data.options.path=... to {what}."
    )
  if not isinstance(path, str | os.PathLike):
    raise ConfigError(
      f"data.options.path = {path!r} is not a path string; quote it on the command line, e.g. "
      f"--config.data.options.path=\"'{path}'\"."
    )
  return Path(path).expanduser()


def check_held_out(held_out) -> float:
  """`held_out` if it is a number strictly between 0 and 1."""
  if isinstance(held_out, bool) or not isinstance(held_out, numbers.Real) or not 0 < held_out < 1:
    raise ConfigError(
      f"data.options.held_out = {held_out!r} must be a share strictly between 0 and 1 of the "
      "examples kept for evaluation, e.g. 0.1."
    )
  return float(held_out)


def num_held_out(num_examples: int, held_out: float, source: str) -> int:
  """round(held_out * N), at least 1; ConfigError when no training example would be left."""
  count = max(1, round(held_out * num_examples))
  if count >= num_examples:
    raise ConfigError(
      f"{source} has {num_examples} example(s) and data.options.held_out = {held_out} keeps "
      f"{count} of them for evaluation, leaving none to train on; add examples or lower held_out."
    )
  return count


def split_indices(num_examples: int, num_held: int) -> tuple[np.ndarray, np.ndarray]:
  """(training, held-out) indices, each in stored order: a fixed permutation's first `num_held`
  entries are held out."""
  order = rng_for(HELD_OUT_STREAM, SPLIT_SEED).permutation(num_examples)
  return np.sort(order[num_held:]), np.sort(order[:num_held])


def as_model_input(x: np.ndarray) -> np.ndarray:
  """Stored examples as the model reads them: uint8 pixels 0..255 -> float32 [-1, 1]
  (v / 127.5 - 1), floats as float32 unchanged."""
  if x.dtype == np.uint8:
    return x.astype(np.float32) / 127.5 - 1.0
  return x.astype(np.float32)


class StoredArrays(FiniteDataset):
  """Examples stored in one array (in memory or memory-mapped), split once into a training set and
  a held-out set; every batch gathers its rows by index, so only those rows are read.

  Args:
    name: the registry name.
    x: [N, *example_shape], uint8 pixels or floats in the model's range (`as_model_input`).
    y: int32 [N] labels (zeros when unlabelled).
    num_classes: number of label values, 0 when unlabelled.
    num_held: how many examples `split_indices` holds out for `eval_data`.
  """

  def __init__(self, name: str, x: np.ndarray, y: np.ndarray, num_classes: int, num_held: int):
    self.name = name
    self.example_shape = tuple(x.shape[1:])
    self.num_classes = num_classes
    self._x, self._y = x, y
    self._train, self._held_out = split_indices(len(x), num_held)

  @property
  def num_examples(self) -> int:
    """Number of training examples (one epoch), the held-out share excluded."""
    return len(self._train)

  @property
  def stored_examples(self) -> np.ndarray:
    """All N examples as stored (training and held-out; a `np.memmap` when memory-mapped)."""
    return self._x

  def _gather(self, rows: np.ndarray) -> Batch:
    # np.asarray: indexing a memmap returns a memmap instance that no file backs.
    return {"x": as_model_input(np.asarray(self._x[rows])), "y": self._y[rows]}

  def _training_examples(self, indices: np.ndarray) -> Batch:
    return self._gather(self._train[indices])

  def eval_data(self, num: int | None = None, seed: int = 0) -> Batch:
    """The held-out examples: all of them in stored order, or `num` drawn from `seed`."""
    return self._gather(self._held_out[eval_indices(num, seed, len(self._held_out))])


# --- Reading and checking the file ---------------------------------------------------------------


def _check_file(path) -> Path:
  path = check_path(path, "your .npz (x, optional y) or .npy (x) file")
  if path.suffix not in SUFFIXES:
    raise ConfigError(
      f"data.options.path = {str(path)!r} is neither a .npy nor a .npz file; save x with "
      "np.save(path, x) or np.savez(path, x=x, y=y)."
    )
  if not path.is_file():
    raise ConfigError(f"data.options.path = {str(path)!r} does not exist or is not a file.")
  return path


# The .npy header readers NumPy makes public, by format version; np.save writes version 3.0 only
# for structured dtypes with non-Latin-1 field names, which no example array has.
_HEADER_READERS = {
  (1, 0): np.lib.format.read_array_header_1_0,
  (2, 0): np.lib.format.read_array_header_2_0,
}


def _npz_member_header(path: Path, key: str) -> tuple[tuple[int, ...], np.dtype] | None:
  """(shape, dtype) of array `key` of the .npz `path` from its .npy header, None when absent."""
  try:
    with zipfile.ZipFile(path) as archive:
      if f"{key}.npy" not in archive.namelist():
        return None
      with archive.open(f"{key}.npy") as member:
        version = np.lib.format.read_magic(member)
        if version not in _HEADER_READERS:
          raise ValueError(f"unsupported .npy format version {version}")
        shape, _, dtype = _HEADER_READERS[version](member)
  except (zipfile.BadZipFile, OSError, ValueError) as error:
    raise ConfigError(f"{path} is not a readable .npz file ({error}); re-save it.") from None
  return tuple(shape), np.dtype(dtype)


def _load(path: Path, key: str) -> np.ndarray | None:
  """Array `key` of the file: a .npy file's x memory-mapped, a .npz member read; None when an
  .npz file lacks `key`."""
  try:
    if path.suffix == ".npy":
      return np.load(path, mmap_mode="r", allow_pickle=False)
    with np.load(path, allow_pickle=False) as archive:
      return archive[key] if key in archive.files else None
  except (OSError, ValueError, zipfile.BadZipFile) as error:
    raise ConfigError(
      f"{path} is not a readable {path.suffix} file ({error}); re-save it."
    ) from None


def _x_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
  """(shape, dtype) of x without reading its values."""
  if path.suffix == ".npy":
    x = _load(path, "x")
    return tuple(x.shape), x.dtype
  header = _npz_member_header(path, "x")
  if header is None:
    with zipfile.ZipFile(path) as archive:
      keys = sorted(name.removesuffix(".npy") for name in archive.namelist())
    raise ConfigError(
      f"{path} has no array 'x' (it holds {keys}); save the examples as x: np.savez(path, x=x)."
    )
  return header


def _check_x_header(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> None:
  """x is [N, H, W, C] uint8 or float images, or [N, D] float points, with N >= 2."""
  if len(shape) == 3:
    raise ConfigError(
      f"x in {path} has shape {shape}: give grayscale images their channel axis (x[..., None], "
      "[N, H, W, 1]), or store points as [N, D]."
    )
  if len(shape) == 1:
    raise ConfigError(f"x in {path} has shape {shape}: store 1-D points as [N, 1] (x[:, None]).")
  if len(shape) not in (2, 4) or 0 in shape:
    raise ConfigError(
      f"x in {path} has shape {shape}; it must be [N, H, W, C] images or [N, D] points, none of "
      "them empty."
    )
  floats = np.issubdtype(dtype, np.floating)
  if len(shape) == 4 and not (floats or dtype == np.uint8):
    raise ConfigError(
      f"x in {path} holds {dtype} images; store uint8 pixels 0..255 or floats in [-1, 1]."
    )
  if len(shape) == 2 and not floats:
    raise ConfigError(f"x in {path} holds {dtype} points; store them as floats (x.astype(float)).")


def _check_y(path: Path, y: np.ndarray | None, num_examples: int) -> tuple[np.ndarray, int]:
  """(int32 labels, number of classes): y's labels, or zeros and 0 classes without y."""
  if y is None:
    return np.zeros(num_examples, np.int32), 0
  if y.ndim != 1 or len(y) != num_examples:
    raise ConfigError(
      f"y in {path} has shape {y.shape} but x has {num_examples} examples; y needs one label per "
      f"example, shape ({num_examples},)."
    )
  if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
    raise ConfigError(
      f"y in {path} must hold integer labels >= 0 (got {y.dtype}, min {y.min()}); store class "
      "indices 0..K-1."
    )
  return y.astype(np.int32), int(y.max()) + 1


def _check_values(path: Path, x: np.ndarray) -> None:
  """No NaN or infinity; float images lie in [-1, 1]. Scanned in chunks of rows."""
  if x.dtype == np.uint8:
    return
  row_bytes = max(1, x[0].nbytes)
  rows = max(1, _SCAN_CHUNK_BYTES // row_bytes)
  low, high, finite = np.inf, -np.inf, True
  for start in range(0, len(x), rows):
    chunk = np.asarray(x[start : start + rows])
    finite = finite and bool(np.isfinite(chunk).all())
    if not finite:
      break
    low, high = min(low, float(chunk.min())), max(high, float(chunk.max()))
  if not finite:
    raise ConfigError(f"x in {path} holds NaN or infinite values; remove or fix those examples.")
  if x.ndim == 4 and (low < -1 or high > 1):
    raise ConfigError(
      f"x in {path} holds float images in [{low:g}, {high:g}], outside the model's range [-1, 1]; "
      "scale them to [-1, 1] (e.g. x / 127.5 - 1 for 0..255) or store uint8 pixels."
    )


def _facts(path=inspect.Parameter.empty, held_out: float = DEFAULT_HELD_OUT):
  """(example_shape, num_classes) from the file's headers and y, without reading x's values."""
  path = _check_file(path)
  shape, dtype = _x_header(path)
  _check_x_header(path, shape, dtype)
  num_held_out(shape[0], check_held_out(held_out), str(path))
  y = None if path.suffix == ".npy" else _load(path, "y")
  return shape[1:], _check_y(path, y, shape[0])[1]


@declare(facts=_facts)
def arrays(path: str, held_out: float = DEFAULT_HELD_OUT) -> StoredArrays:
  """Your own arrays: a .npz file with x (and optional labels y) or a .npy file with x;
  [N, H, W, C] images (uint8, or floats in [-1, 1]) or [N, D] points."""
  path = _check_file(path)
  shape, dtype = _x_header(path)
  _check_x_header(path, shape, dtype)
  num_held = num_held_out(shape[0], check_held_out(held_out), str(path))
  x = _load(path, "x")
  _check_values(path, x)
  y = None if path.suffix == ".npy" else _load(path, "y")
  labels, num_classes = _check_y(path, y, shape[0])
  return StoredArrays("arrays", x, labels, num_classes, num_held)
