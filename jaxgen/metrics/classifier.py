"""A small CNN classifier whose features score generated digits (FID, KID, precision/recall) and
whose logits give the Inception Score; its weights ship in `jaxgen/assets/`.

Architecture (`ClassifierCNN`, pure linen, no batch norm so there is no train/eval difference):
two stages of two 3x3 ReLU convolutions (32 then 64 channels), each followed by 2x2 average
pooling, a global average pool, a 128-unit ReLU dense layer -- the *features* -- and a linear layer
to the class *logits*. About 75k parameters (about 300 KB in float32).

Input size. The digits classifier is trained on 16x16 images: `jaxgen.data.load_digits(size=16)`,
the 8x8 digits padded with 4 pixels of background (-1). It also accepts 8x8 digits and pads them the
same way itself, so generators of either size are scored by one network without any interpolation.
Images are NHWC with one channel, in [-1, 1].

Checkpoints are `flax.serialization` msgpack files holding {"format", "config", "params"}, each
with a sidecar `<name>.sha256` in `sha256sum` format. `load_classifier` checks the SHA-256 before
reading; a missing, altered or unreadable file raises an error that names the path and the command
regenerating it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import pathlib
from collections.abc import Sequence

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

FORMAT = "jaxgen.classifier/1"
ASSETS_DIR = pathlib.Path(__file__).resolve().parent.parent / "assets"
DIGITS_CLASSIFIER_PATH = ASSETS_DIR / "digits_classifier.msgpack"
# Value of the pixels the digits loader pads with (the background).
_BACKGROUND = -1.0


class ClassifierCNN(nn.Module):
  """Conv classifier returning (features, logits); see the module docstring."""

  num_classes: int = 10
  widths: Sequence[int] = (32, 64)
  feature_dim: int = 128

  @nn.compact
  def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(features [N, feature_dim], logits [N, num_classes]) of images [N, H, W, C] in [-1, 1]."""
    x = images
    for width in self.widths:
      x = nn.relu(nn.Conv(width, (3, 3))(x))
      x = nn.relu(nn.Conv(width, (3, 3))(x))
      x = nn.avg_pool(x, (2, 2), strides=(2, 2))
    x = jnp.mean(x, axis=(1, 2))
    features = nn.relu(nn.Dense(self.feature_dim)(x))
    logits = nn.Dense(self.num_classes)(features)
    return features, logits


def checksum_path(path) -> pathlib.Path:
  """The SHA-256 sidecar of a weights file: `<dir>/<stem>.sha256`."""
  path = pathlib.Path(path)
  return path.with_name(path.name.rsplit(".", 1)[0] + ".sha256")


def regenerate_command(dataset: str, path) -> str:
  """The shell command that trains `dataset`'s classifier and writes it to `path`."""
  out = "" if pathlib.Path(path) == DIGITS_CLASSIFIER_PATH else f" --out={path}"
  return f"python scripts/train_classifier.py --dataset={dataset}{out}"


def sha256_of(path) -> str:
  """The hex SHA-256 digest of the file at `path`."""
  return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def save_classifier(path, params, config: dict) -> str:
  """Writes weights (msgpack) and their SHA-256 sidecar; returns the hex digest."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  payload = {
    "format": FORMAT,
    "config": {**config, "widths": np.asarray(config["widths"], np.int64)},
    "params": jax.tree.map(np.asarray, params),
  }
  path.write_bytes(flax.serialization.msgpack_serialize(payload))
  digest = sha256_of(path)
  checksum_path(path).write_text(f"{digest}  {path.name}\n")
  return digest


@dataclasses.dataclass(frozen=True)
class Classifier:
  """A loaded classifier: jitted `features(x)` and `logits(x)` on NHWC images in [-1, 1]."""

  module: ClassifierCNN
  params: dict
  config: dict
  sha256: str

  @property
  def name(self) -> str:
    """Identity for statistics caches: the data set and the first 12 hex digits of the weights."""
    return f"{self.config['dataset']}_cnn.{self.sha256[:12]}"

  @property
  def feature_dim(self) -> int:
    """Width of `features`, the penultimate ReLU layer (128 for the shipped weights)."""
    return self.module.feature_dim

  @property
  def num_classes(self) -> int:
    """Number of classes, the width of `logits`."""
    return self.module.num_classes

  def prepare(self, images) -> jax.Array:
    """Checks the shape, adds a channel axis to [N, H, W] and pads 8x8 digits to 16x16."""
    images = jnp.asarray(images, jnp.float32)
    if images.ndim == 3:
      images = images[..., None]
    size = self.config["input_size"]
    accepted = {(size, size, 1)}
    if self.config["dataset"] == "digits":
      accepted.add((8, 8, 1))
    if images.ndim != 4 or images.shape[1:] not in accepted:
      raise ValueError(
        f"The {self.config['dataset']} classifier takes images [N, H, W, C] with (H, W, C) in "
        f"{sorted(accepted)}; got shape {images.shape}."
      )
    if images.shape[1] != size:
      pad = (size - images.shape[1]) // 2
      # The same padding as jaxgen.data.load_digits(size=16).
      images = jnp.pad(
        images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=_BACKGROUND
      )
    return images

  def features_and_logits(self, images) -> tuple[jax.Array, jax.Array]:
    """(features [N, feature_dim], logits [N, num_classes]) of `images` (as `prepare` takes)."""
    return _apply(self.module, self.params, self.prepare(images))

  def features(self, images) -> jax.Array:
    """The features [N, feature_dim] FID, KID and precision/recall compare."""
    return self.features_and_logits(images)[0]

  def logits(self, images) -> jax.Array:
    """The class logits [N, num_classes] the Inception Score reads."""
    return self.features_and_logits(images)[1]


@functools.partial(jax.jit, static_argnums=0)
def _apply(module: ClassifierCNN, params, images):
  return module.apply({"params": params}, images)


def _corrupt(path, dataset: str, reason: str) -> ValueError:
  return ValueError(
    f"Classifier weights {path} are unusable: {reason}. Regenerate them with "
    f"`{regenerate_command(dataset, path)}`."
  )


def load_classifier(path, dataset: str = "digits") -> Classifier:
  """Loads a classifier written by `save_classifier`, verifying its SHA-256 sidecar first.

  Args:
    path: the .msgpack weights file.
    dataset: the data set it was trained on; only used in the regeneration command of errors.

  Raises:
    FileNotFoundError: the weights or the checksum file is missing.
    ValueError: the checksum does not match, or the file does not decode to a classifier.
  """
  path = pathlib.Path(path)
  sums = checksum_path(path)
  for required in (path, sums):
    if not required.is_file():
      raise FileNotFoundError(
        f"Classifier file {required} is missing. Regenerate it with "
        f"`{regenerate_command(dataset, path)}`."
      )
  expected = (sums.read_text().split() or [""])[0]
  actual = sha256_of(path)
  if actual != expected:
    raise _corrupt(path, dataset, f"SHA-256 {actual} does not match {expected!r} in {sums}")
  try:
    payload = flax.serialization.msgpack_restore(path.read_bytes())
  except Exception as error:  # msgpack raises several unrelated types on bad bytes.
    raise _corrupt(path, dataset, f"it does not decode as msgpack ({error})") from error
  if not isinstance(payload, dict) or payload.get("format") != FORMAT:
    raise _corrupt(path, dataset, f"it is not a {FORMAT} checkpoint")
  try:
    config = dict(payload["config"])
    config["widths"] = tuple(int(w) for w in config["widths"])
    module = ClassifierCNN(
      num_classes=int(config["num_classes"]),
      widths=config["widths"],
      feature_dim=int(config["feature_dim"]),
    )
    size = int(config["input_size"])
    params = payload["params"]
  except (KeyError, TypeError, ValueError) as error:
    raise _corrupt(path, dataset, f"its config is incomplete ({error!r})") from error
  template = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, size, size, 1)))["params"]
  if jax.tree.structure(template) != jax.tree.structure(params) or any(
    t.shape != p.shape
    for t, p in zip(jax.tree.leaves(template), jax.tree.leaves(params), strict=True)
  ):
    raise _corrupt(path, dataset, "its parameters do not fit the architecture in its config")
  return Classifier(module, jax.tree.map(jnp.asarray, params), config, actual)


def load_digits_classifier() -> Classifier:
  """The shipped digits classifier (checksum verified); see the module docstring."""
  return load_classifier(DIGITS_CLASSIFIER_PATH, "digits")


def _random_shift(images: jax.Array, key: jax.Array, max_shift: int) -> jax.Array:
  """Translates each image by up to max_shift pixels per axis, filling with background (-1)."""
  if max_shift == 0:
    return images
  height, width, channels = images.shape[1:]
  pad = ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0))
  padded = jnp.pad(images, pad, constant_values=_BACKGROUND)
  offsets = jax.random.randint(key, (images.shape[0], 2), 0, 2 * max_shift + 1)

  def crop(image, offset):
    return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (height, width, channels))

  return jax.vmap(crop)(padded, offsets)


def train_classifier(
  dataset,
  *,
  num_steps: int,
  batch_size: int = 64,
  learning_rate: float = 1e-3,
  max_shift: int = 2,
  seed: int = 0,
  log_every: int = 0,
) -> tuple[ClassifierCNN, dict]:
  """Trains ClassifierCNN with Adam on softmax cross-entropy and random-shift augmentation.

  Args:
    dataset: a `jaxgen.data.Dataset` of images [H, W, 1] in [-1, 1] with labels; step t trains on
      `dataset.batch(seed, t, batch_size)`.
    num_steps, batch_size, learning_rate: the usual.
    max_shift: augmentation, a random translation of up to this many pixels (0 turns it off).
    seed: initialisation, batches and augmentation.
    log_every: print the mean loss every this many steps (0: never).

  Returns:
    (module, params).
  """
  if dataset.num_classes < 2:
    raise ValueError(f"Data set {dataset.name!r} has no class labels to train a classifier on.")
  module = ClassifierCNN(num_classes=dataset.num_classes)
  key, init_key = jax.random.split(jax.random.key(seed))
  # One compiled init instead of one dispatch per layer op.
  params = jax.jit(module.init)(init_key, jnp.zeros((1, *dataset.example_shape)))["params"]
  optimizer = optax.adam(learning_rate)
  opt_state = optimizer.init(params)

  @jax.jit
  def train_step(params, opt_state, images, labels, key):
    def loss_fn(params):
      _, logits = module.apply({"params": params}, _random_shift(images, key, max_shift))
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  losses = []
  for step in range(num_steps):
    batch = dataset.batch(seed, step, batch_size)
    params, opt_state, loss = train_step(
      params, opt_state, batch["x"], batch["y"], jax.random.fold_in(key, step)
    )
    losses.append(loss)
    if log_every and (step + 1) % log_every == 0:
      print(f"step {step + 1}/{num_steps}: loss {float(np.mean(jax.device_get(losses))):.4f}")
      losses = []
  return module, params


def accuracy(classifier: Classifier, images, labels, batch_size: int = 512) -> float:
  """Top-1 accuracy of `classifier` on (images, labels)."""
  labels = np.asarray(labels)
  correct = 0
  for start in range(0, labels.shape[0], batch_size):
    logits = classifier.logits(images[start : start + batch_size])
    correct += int(
      np.sum(np.argmax(np.asarray(logits), axis=1) == labels[start : start + batch_size])
    )
  return correct / labels.shape[0]
