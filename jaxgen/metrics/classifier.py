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
  path = pathlib.Path(path)
  return path.with_name(path.name.rsplit(".", 1)[0] + ".sha256")


def regenerate_command(dataset: str, path) -> str:
  out = "" if pathlib.Path(path) == DIGITS_CLASSIFIER_PATH else f" --out={path}"
  return f"python scripts/train_classifier.py --dataset={dataset}{out}"


def sha256_of(path) -> str:
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
    return self.module.feature_dim

  @property
  def num_classes(self) -> int:
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
      images = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=_BACKGROUND)
    return images

  def features_and_logits(self, images) -> tuple[jax.Array, jax.Array]:
    return _apply(self.module, self.params, self.prepare(images))

  def features(self, images) -> jax.Array:
    return self.features_and_logits(images)[0]

  def logits(self, images) -> jax.Array:
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
  expected = sums.read_text().split()[0] if sums.read_text().split() else ""
  actual = sha256_of(path)
  if actual != expected:
    raise _corrupt(path, dataset, f"SHA-256 {actual} does not match {expected!r} in {sums}")
  try:
    payload = flax.serialization.msgpack_restore(path.read_bytes())
  except Exception as error:  # msgpack raises several unrelated types on bad bytes.
    raise _corrupt(path, dataset, f"it does not decode as msgpack ({error})") from error
  if not isinstance(payload, dict) or payload.get("format") != FORMAT:
    raise _corrupt(path, dataset, f"it is not a {FORMAT} checkpoint")
  config = dict(payload["config"])
  config["widths"] = tuple(int(w) for w in config["widths"])
  module = ClassifierCNN(
      num_classes=int(config["num_classes"]),
      widths=config["widths"],
      feature_dim=int(config["feature_dim"]),
  )
  template = jax.eval_shape(
      module.init, jax.random.key(0), jnp.zeros((1, config["input_size"], config["input_size"], 1))
  )["params"]
  params = payload["params"]
  if jax.tree.structure(template) != jax.tree.structure(params) or any(
      t.shape != p.shape for t, p in zip(jax.tree.leaves(template), jax.tree.leaves(params))
  ):
    raise _corrupt(path, dataset, "its parameters do not fit the architecture in its config")
  return Classifier(module, jax.tree.map(jnp.asarray, params), config, actual)


def load_digits_classifier() -> Classifier:
  """The shipped digits classifier (checksum verified); see the module docstring."""
  return load_classifier(DIGITS_CLASSIFIER_PATH, "digits")


def _random_shift(images: jax.Array, key: jax.Array, max_shift: int) -> jax.Array:
  """Shifts each image by up to max_shift pixels per axis. The roll wraps around, which on
  background-padded digits only moves background pixels."""
  shifts = jax.random.randint(key, (images.shape[0], 2), -max_shift, max_shift + 1)
  return jax.vmap(lambda image, shift: jnp.roll(image, shift, axis=(0, 1)))(images, shifts)


def train_classifier(
    train: tuple[np.ndarray, np.ndarray],
    *,
    num_classes: int,
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    max_shift: int = 2,
    seed: int = 0,
    log_every: int = 0,
) -> tuple[ClassifierCNN, dict]:
  """Trains ClassifierCNN with Adam on softmax cross-entropy and random-shift augmentation.

  Args:
    train: (images [N, H, W, 1] in [-1, 1], integer labels [N]).
    num_classes, epochs, batch_size, learning_rate: the usual; max_shift: augmentation range in
      pixels (0 turns it off); seed: initialisation, shuffling and augmentation.
    log_every: print the mean loss every this many epochs (0: never).

  Returns:
    (module, params).
  """
  images, labels = np.asarray(train[0], np.float32), np.asarray(train[1], np.int32)
  if batch_size > images.shape[0]:
    raise ValueError(f"batch_size {batch_size} exceeds the {images.shape[0]} training images.")
  module = ClassifierCNN(num_classes=num_classes)
  key, init_key = jax.random.split(jax.random.key(seed))
  params = module.init(init_key, images[:1])["params"]
  optimizer = optax.adam(learning_rate)
  opt_state = optimizer.init(params)

  @jax.jit
  def step(params, opt_state, batch_images, batch_labels, key):
    def loss_fn(params):
      _, logits = module.apply({"params": params}, _random_shift(batch_images, key, max_shift))
      return optax.softmax_cross_entropy_with_integer_labels(logits, batch_labels).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  rng = np.random.default_rng(seed)
  steps_per_epoch = images.shape[0] // batch_size
  for epoch in range(epochs):
    order = rng.permutation(images.shape[0])
    losses = []
    for i in range(steps_per_epoch):
      index = order[i * batch_size : (i + 1) * batch_size]
      key, step_key = jax.random.split(key)
      params, opt_state, loss = step(params, opt_state, images[index], labels[index], step_key)
      losses.append(loss)
    if log_every and (epoch + 1) % log_every == 0:
      print(f"epoch {epoch + 1}/{epochs}: loss {float(np.mean(jax.device_get(losses))):.4f}")
  return module, params


def accuracy(classifier: Classifier, images, labels, batch_size: int = 512) -> float:
  """Top-1 accuracy of `classifier` on (images, labels)."""
  labels = np.asarray(labels)
  correct = 0
  for start in range(0, labels.shape[0], batch_size):
    logits = classifier.logits(images[start : start + batch_size])
    correct += int(np.sum(np.argmax(np.asarray(logits), axis=1) == labels[start : start + batch_size]))
  return correct / labels.shape[0]
