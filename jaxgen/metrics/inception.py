"""A Flax port of the Inception-v3 network that FID implementations use (pool3 features, logits).

The network is pytorch-fid's `fid_inception_v3` (mseitzer/pytorch-fid, `inception.py`), itself a
port of TensorFlow's `inception-2015-12-05` graph used by the original FID code (bioinf-jku/TTUR):
torchvision's Inception-v3 without the auxiliary head, with 1008 output classes, and with the blocks
patched the way that graph computes them:

- FIDInceptionA / FIDInceptionC / FIDInceptionE_1 (Mixed_5b-d, 6b-e, 7b): the pool branch averages
  over the window without the zero padding (`count_include_pad=False`, TensorFlow's average pool);
- FIDInceptionE_2 (Mixed_7c): the pool branch is a 3x3 *max* pool.

Every conv is bias-free and followed by batch norm (eps 1e-3) and ReLU (torchvision's
`BasicConv2d`). Outputs: pool3, the 2048-d global average of Mixed_7c (FID features), and the
1008-class logits of `fc` (for the Inception Score); the blocks pytorch-fid can return
(64-, 192-, 768- and 2048-channel maps) are also sown into the `intermediates` collection. Parameter
count: 23,850,960 (batch-norm scale and bias counted, running statistics not).

Input: NHWC images in [-1, 1], any size, 1 or 3 channels. One channel is repeated to three; images
are resized to 299 x 299 bilinearly without antialiasing (torch's `F.interpolate(mode="bilinear",
align_corners=False)`), as pytorch-fid does. pytorch-fid maps inputs from [0, 1] to [-1, 1] first;
jaxgen images are already in [-1, 1].

Weights are not bundled (about 95 MB). `load_fid_inception(path)` reads either
- an `.npz` of pytorch-fid's state dict `pt_inception-2015-12-05-6726825d.pth`, keys as in PyTorch:
  `<block>[.<branch>].conv.weight` [O, I, kH, kW], `<...>.bn.weight`, `.bn.bias`,
  `.bn.running_mean`, `.bn.running_var` [O] (`.bn.num_batches_tracked` is ignored), `fc.weight`
  [1008, 2048], `fc.bias` [1008]. Convert it once on a machine with PyTorch (see CONVERT_COMMAND);
- or a `.msgpack` of the Flax variables {"params", "batch_stats"} written by `save_fid_inception`.

Speed: `FIDInceptionV3` is the reference definition (and the checkpoint layout). The extractor runs
an inference-only twin of it, `fast_forward`, on weights prepared once at load (`fold_variables`):
each batch norm folded into its conv (conv + bias + ReLU: one pass fewer over every activation,
since XLA:CPU fuses no elementwise op into a conv), the 1x1 convs of a block that read the block
input fused into one wider conv, and the resize done as two small matmuls. Same outputs up to
float32 rounding (tests/test_metrics_inception.py); timings in scripts/benchmark_inception.py.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import pathlib

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util
from jax import lax

INPUT_SIZE = 299
NUM_CLASSES = 1008
FEATURE_DIM = 2048
WEIGHTS_URL = (
  "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
  "pt_inception-2015-12-05-6726825d.pth"
)
BN_EPSILON = 1e-3
CONVERT_COMMAND = (
  'python -c "import numpy as np, torch; '
  "sd = torch.load('pt_inception-2015-12-05-6726825d.pth', map_location='cpu'); "
  "np.savez('fid_inception.npz', **{k: v.numpy() for k, v in sd.items()})\""
)


class BasicConv(nn.Module):
  """Bias-free conv + batch norm (eps 1e-3, inference statistics) + ReLU (torchvision)."""

  features: int
  kernel_size: tuple[int, int]
  strides: int = 1
  padding: tuple[int, int] = (0, 0)

  @nn.compact
  def __call__(self, x):
    """ReLU(BN(conv(x))) [N, H', W', features] of x [N, H, W, C], zero-padded by `padding`."""
    pad_h, pad_w = self.padding
    x = nn.Conv(
      self.features,
      self.kernel_size,
      strides=self.strides,
      padding=((pad_h, pad_h), (pad_w, pad_w)),
      use_bias=False,
      name="conv",
    )(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=BN_EPSILON, name="bn")(x)
    return nn.relu(x)


def _avg_pool_same(x):
  # TensorFlow's average pool divides by the number of real (unpadded) pixels in the window.
  return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_same(x):
  return nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))


def _max_pool_reduce(x):
  return nn.max_pool(x, (3, 3), strides=(2, 2))


class InceptionA(nn.Module):
  """FIDInceptionA: 1x1, 5x5, double 3x3 and pooled branches at 35 x 35."""

  pool_features: int

  @nn.compact
  def __call__(self, x):
    """The four branches concatenated: [N, 35, 35, 224 + pool_features]."""
    branch1x1 = BasicConv(64, (1, 1), name="branch1x1")(x)
    branch5x5 = BasicConv(48, (1, 1), name="branch5x5_1")(x)
    branch5x5 = BasicConv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(branch5x5)
    branch3x3dbl = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
    branch3x3dbl = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(branch3x3dbl)
    branch3x3dbl = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(branch3x3dbl)
    branch_pool = BasicConv(self.pool_features, (1, 1), name="branch_pool")(_avg_pool_same(x))
    return jnp.concatenate([branch1x1, branch5x5, branch3x3dbl, branch_pool], axis=-1)


class InceptionB(nn.Module):
  """InceptionB (Mixed_6a): grid reduction 35 -> 17."""

  @nn.compact
  def __call__(self, x):
    """x [N, 35, 35, C] -> [N, 17, 17, 480 + C]: two strided conv branches and a max pool."""
    branch3x3 = BasicConv(384, (3, 3), strides=2, name="branch3x3")(x)
    branch3x3dbl = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
    branch3x3dbl = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(branch3x3dbl)
    branch3x3dbl = BasicConv(96, (3, 3), strides=2, name="branch3x3dbl_3")(branch3x3dbl)
    return jnp.concatenate([branch3x3, branch3x3dbl, _max_pool_reduce(x)], axis=-1)


class InceptionC(nn.Module):
  """FIDInceptionC: factorised 7x7 branches at 17 x 17."""

  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    """The four branches concatenated: [N, 17, 17, 768]."""
    c7 = self.channels_7x7
    branch1x1 = BasicConv(192, (1, 1), name="branch1x1")(x)
    branch7x7 = BasicConv(c7, (1, 1), name="branch7x7_1")(x)
    branch7x7 = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(branch7x7)
    branch7x7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7_3")(branch7x7)
    dbl = BasicConv(c7, (1, 1), name="branch7x7dbl_1")(x)
    dbl = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(dbl)
    dbl = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(dbl)
    dbl = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(dbl)
    dbl = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(dbl)
    branch_pool = BasicConv(192, (1, 1), name="branch_pool")(_avg_pool_same(x))
    return jnp.concatenate([branch1x1, branch7x7, dbl, branch_pool], axis=-1)


class InceptionD(nn.Module):
  """InceptionD (Mixed_7a): grid reduction 17 -> 8."""

  @nn.compact
  def __call__(self, x):
    """x [N, 17, 17, C] -> [N, 8, 8, 512 + C]: two strided conv branches and a max pool."""
    branch3x3 = BasicConv(192, (1, 1), name="branch3x3_1")(x)
    branch3x3 = BasicConv(320, (3, 3), strides=2, name="branch3x3_2")(branch3x3)
    branch7x7x3 = BasicConv(192, (1, 1), name="branch7x7x3_1")(x)
    branch7x7x3 = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(branch7x7x3)
    branch7x7x3 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(branch7x7x3)
    branch7x7x3 = BasicConv(192, (3, 3), strides=2, name="branch7x7x3_4")(branch7x7x3)
    return jnp.concatenate([branch3x3, branch7x7x3, _max_pool_reduce(x)], axis=-1)


class InceptionE(nn.Module):
  """FIDInceptionE_1 (average pool) or FIDInceptionE_2 (`max_pool=True`) at 8 x 8."""

  max_pool: bool = False

  @nn.compact
  def __call__(self, x):
    """The four branches (two of them split 1x3 / 3x1) concatenated: [N, 8, 8, 2048]."""
    branch1x1 = BasicConv(320, (1, 1), name="branch1x1")(x)
    branch3x3 = BasicConv(384, (1, 1), name="branch3x3_1")(x)
    branch3x3 = jnp.concatenate(
      [
        BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(branch3x3),
        BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(branch3x3),
      ],
      axis=-1,
    )
    dbl = BasicConv(448, (1, 1), name="branch3x3dbl_1")(x)
    dbl = BasicConv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(dbl)
    dbl = jnp.concatenate(
      [
        BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(dbl),
        BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(dbl),
      ],
      axis=-1,
    )
    # The FID graph max-pools in Mixed_7c (pytorch-fid's FIDInceptionE_2 patch).
    pooled = _max_pool_same(x) if self.max_pool else _avg_pool_same(x)
    branch_pool = BasicConv(192, (1, 1), name="branch_pool")(pooled)
    return jnp.concatenate([branch1x1, branch3x3, dbl, branch_pool], axis=-1)


def preprocess(images: jax.Array) -> jax.Array:
  """[N, H, W, 1 or 3] in [-1, 1] -> [N, 299, 299, 3]: grey repeated, bilinear, no antialias."""
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"Inception takes images [N, H, W, 1 or 3]; got shape {images.shape}.")
  if images.shape[-1] == 1:
    images = jnp.repeat(images, 3, axis=-1)
  shape = (images.shape[0], INPUT_SIZE, INPUT_SIZE, 3)
  return jax.image.resize(images, shape, method="bilinear", antialias=False)


class FIDInceptionV3(nn.Module):
  """pytorch-fid's FID Inception-v3; returns (pool3 [N, 2048], logits [N, 1008])."""

  @nn.compact
  def __call__(self, images):
    """(pool3 [N, 2048], logits [N, 1008]) of images [N, H, W, 1 or 3] in [-1, 1] (`preprocess`)."""
    x = preprocess(jnp.asarray(images, jnp.float32))
    x = BasicConv(32, (3, 3), strides=2, name="Conv2d_1a_3x3")(x)
    x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)
    x = BasicConv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
    x = _max_pool_reduce(x)
    self.sow("intermediates", "block0", x)
    x = BasicConv(80, (1, 1), name="Conv2d_3b_1x1")(x)
    x = BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x)
    x = _max_pool_reduce(x)
    self.sow("intermediates", "block1", x)
    x = InceptionA(32, name="Mixed_5b")(x)
    x = InceptionA(64, name="Mixed_5c")(x)
    x = InceptionA(64, name="Mixed_5d")(x)
    x = InceptionB(name="Mixed_6a")(x)
    x = InceptionC(128, name="Mixed_6b")(x)
    x = InceptionC(160, name="Mixed_6c")(x)
    x = InceptionC(160, name="Mixed_6d")(x)
    x = InceptionC(192, name="Mixed_6e")(x)
    self.sow("intermediates", "block2", x)
    x = InceptionD(name="Mixed_7a")(x)
    x = InceptionE(name="Mixed_7b")(x)
    x = InceptionE(max_pool=True, name="Mixed_7c")(x)
    pool3 = jnp.mean(x, axis=(1, 2))
    self.sow("intermediates", "block3", pool3)
    return pool3, nn.Dense(NUM_CLASSES, name="fc")(pool3)


@functools.cache
def _traced_variable_shapes() -> dict:
  images = jax.ShapeDtypeStruct((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32)
  return jax.eval_shape(FIDInceptionV3().init, jax.random.key(0), images)


def variable_shapes() -> dict:
  """The Flax variables' shapes ({"params", "batch_stats"}) from `jax.eval_shape`: no compute."""
  # A fresh copy of the cached tree (tracing the network takes seconds), safe for callers to edit.
  return jax.tree.map(lambda leaf: leaf, _traced_variable_shapes())


# (layer, PyTorch leaf) -> (Flax collection, Flax leaf); conv and dense weights are transposed.
_TORCH_LEAVES = {
  ("conv", "weight"): ("params", "kernel"),
  ("bn", "weight"): ("params", "scale"),
  ("bn", "bias"): ("params", "bias"),
  ("bn", "running_mean"): ("batch_stats", "mean"),
  ("bn", "running_var"): ("batch_stats", "var"),
  ("fc", "weight"): ("params", "kernel"),
  ("fc", "bias"): ("params", "bias"),
}
_IGNORED_TORCH_LEAF = "num_batches_tracked"


def _to_flax_layout(array: np.ndarray) -> np.ndarray:
  if array.ndim == 4:
    return np.transpose(array, (2, 3, 1, 0))  # OIHW -> HWIO
  if array.ndim == 2:
    return array.T  # [out, in] -> [in, out]
  return array


def _checked_variables(flat: dict[str, dict[tuple[str, ...], np.ndarray]]) -> dict:
  """Flattened {"params", "batch_stats"} -> nested variables, after checking names and shapes."""
  if set(flat) != {"params", "batch_stats"}:
    raise ValueError(f"FID Inception variables need params and batch_stats; got {sorted(flat)}.")
  for collection, expected in variable_shapes().items():
    expected = traverse_util.flatten_dict(expected)
    given = flat.get(collection, {})
    missing = sorted(".".join(path) for path in set(expected) - set(given))
    unexpected = sorted(".".join(path) for path in set(given) - set(expected))
    if missing or unexpected:
      raise ValueError(
        f"FID Inception {collection} do not match the architecture: missing {missing[:5]} "
        f"({len(missing)} in all), unexpected {unexpected[:5]} ({len(unexpected)} in all)."
      )
    for path, leaf in expected.items():
      if np.shape(given[path]) != leaf.shape:
        raise ValueError(
          f"FID Inception {collection} entry {'.'.join(path)} has shape "
          f"{np.shape(given[path])}; expected {leaf.shape} (Flax layout)."
        )
  return {collection: traverse_util.unflatten_dict(leaves) for collection, leaves in flat.items()}


def torch_state_to_variables(state) -> dict:
  """pytorch-fid's state dict (name -> array) -> Flax {"params", "batch_stats"}, checked."""
  flat = {"params": {}, "batch_stats": {}}
  for key, value in state.items():
    *modules, leaf = key.split(".")
    if leaf == _IGNORED_TORCH_LEAF:
      continue
    layer = modules[-1] if modules else ""
    if (layer, leaf) not in _TORCH_LEAVES:
      raise ValueError(
        f"Unexpected key {key!r} for the FID Inception: keys end in one of "
        f"{sorted('.'.join(k) for k in _TORCH_LEAVES)}."
      )
    collection, flax_leaf = _TORCH_LEAVES[(layer, leaf)]
    flat[collection][(*modules, flax_leaf)] = _to_flax_layout(np.asarray(value, np.float32))
  return _checked_variables(flat)


@dataclasses.dataclass(frozen=True)
class InceptionExtractor:
  """Loaded FID Inception: jitted `features(x)` (pool3), `logits(x)`; NHWC images in [-1, 1]."""

  variables: dict
  sha256: str
  feature_dim: int = FEATURE_DIM
  num_classes: int = NUM_CLASSES
  # `variables` prepared for `fast_forward` (folded batch norms, fused 1x1 convs), set at creation.
  folded: dict = dataclasses.field(init=False, repr=False, compare=False)

  def __post_init__(self):
    object.__setattr__(self, "folded", fold_variables(self.variables))

  @property
  def name(self) -> str:
    """Identity for statistics caches: "fid_inception." and the weights' first 12 hex digits."""
    return f"fid_inception.{self.sha256[:12]}"

  def features_and_logits(self, images):
    """(pool3 [N, 2048], logits [N, 1008]) of NHWC images in [-1, 1], by `fast_forward`."""
    return _apply(self.folded, jnp.asarray(images, jnp.float32))

  def features(self, images):
    """The pool3 features [N, 2048] FID and KID compare."""
    return self.features_and_logits(images)[0]

  def logits(self, images):
    """The 1008-class logits [N, 1008] the Inception Score reads."""
    return self.features_and_logits(images)[1]


@jax.jit
def _apply(folded, images):
  return fast_forward(folded, images)


@jax.jit
def apply_reference(variables, images):
  """The reference module, jitted (what the extractor ran before `fast_forward`)."""
  return FIDInceptionV3().apply(variables, images)


def save_fid_inception(path, variables) -> None:
  """Writes Flax variables as msgpack (loads faster than the .npz of the PyTorch layout)."""
  pathlib.Path(path).write_bytes(
    flax.serialization.msgpack_serialize(jax.tree.map(np.asarray, variables))
  )


def load_fid_inception(path) -> InceptionExtractor:
  """Loads the FID Inception weights from a user-supplied .npz or .msgpack (module docstring)."""
  how = (
    f"Download {WEIGHTS_URL} on a machine with internet and convert it with\n  {CONVERT_COMMAND}\n"
    "then pass the .npz path."
  )
  if not path:
    raise ValueError(f"The FID Inception needs a weights file and none was given. {how}")
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"FID Inception weights {path} do not exist. {how}")
  raw = path.read_bytes()
  digest = hashlib.sha256(raw).hexdigest()
  if path.suffix == ".npz":
    with np.load(path) as stored:
      variables = torch_state_to_variables(dict(stored))
  elif path.suffix == ".msgpack":
    restored = flax.serialization.msgpack_restore(raw)
    variables = _checked_variables(
      {collection: traverse_util.flatten_dict(tree) for collection, tree in restored.items()}
    )
  else:
    raise ValueError(f"FID Inception weights must be .npz or .msgpack; got {path}. {how}")
  return InceptionExtractor(jax.tree.map(jnp.asarray, variables), digest)


def parameter_count() -> int:
  """Number of trainable parameters (batch-norm statistics excluded), from shapes only."""
  return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(variable_shapes()["params"]))


# --- Inference-only twin of FIDInceptionV3 on folded weights (what the extractor runs) -----------

# 1x1 convs that read a block's input, fused into one conv in this output-channel order. A pool
# branch whose pool is an average comes last: conv and bias commute with the average pool (linear,
# window weights summing to 1), so that 1x1 conv runs before its pool, on fewer channels.
_FUSED_1X1 = {
  "Mixed_5": ("branch1x1", "branch5x5_1", "branch3x3dbl_1", "branch_pool"),
  "Mixed_6a": (),
  "Mixed_6": ("branch1x1", "branch7x7_1", "branch7x7dbl_1", "branch_pool"),
  "Mixed_7a": ("branch3x3_1", "branch7x7x3_1"),
  "Mixed_7b": ("branch1x1", "branch3x3_1", "branch3x3dbl_1", "branch_pool"),
  "Mixed_7c": ("branch1x1", "branch3x3_1", "branch3x3dbl_1"),  # its pool is a max: not linear
}
_FUSED = "fused_1x1"


def _fused_names(block: str) -> tuple[str, ...]:
  return _FUSED_1X1.get(block, _FUSED_1X1.get(block[:7], ()))


def fold_batch_norm(conv: dict, bn: dict, stats: dict) -> dict:
  """Bias-free conv then inference batch norm -> one conv with bias (same function).

  BN(Wx) = gamma (Wx - mean) / sqrt(var + eps) + beta = (W s) x + (beta - mean s),
  s = gamma / sqrt(var + eps) (Ioffe & Szegedy 2015, Alg. 2, inference), per output channel.
  """
  scale = bn["scale"] / np.sqrt(stats["var"] + np.float32(BN_EPSILON))
  return {"kernel": conv["kernel"] * scale, "bias": bn["bias"] - stats["mean"] * scale}


def fold_variables(variables: dict) -> dict:
  """Flax {"params", "batch_stats"} -> {block: {layer: {"kernel", "bias"}}} for `fast_forward`."""
  params = jax.tree.map(np.asarray, variables["params"])
  stats = jax.tree.map(np.asarray, variables["batch_stats"])
  folded = {"fc": dict(params["fc"])}
  for block, layers in params.items():
    if block == "fc":
      continue
    if "conv" in layers:  # a stem BasicConv
      folded[block] = fold_batch_norm(layers["conv"], layers["bn"], stats[block]["bn"])
      continue
    folded[block] = {
      name: fold_batch_norm(layer["conv"], layer["bn"], stats[block][name]["bn"])
      for name, layer in layers.items()
    }
    fused = [folded[block].pop(name) for name in _fused_names(block)]
    if fused:
      folded[block][_FUSED] = {
        leaf: np.concatenate([layer[leaf] for layer in fused], axis=-1)
        for leaf in ("kernel", "bias")
      }
  return jax.tree.map(jnp.asarray, folded)


def _conv(layer, x, strides=1, padding=(0, 0), relu=True):
  """Conv + bias (+ ReLU) of a folded BasicConv; padding (h, w) on both sides as in BasicConv."""
  pad_h, pad_w = padding
  y = lax.conv_general_dilated(
    x,
    layer["kernel"],
    (strides, strides),
    ((pad_h, pad_h), (pad_w, pad_w)),
    dimension_numbers=("NHWC", "HWIO", "NHWC"),
  )
  y = y + layer["bias"]
  return jax.nn.relu(y) if relu else y


def _split_fused(block, x, sizes, pooled_last):
  """Runs a block's fused 1x1 conv; returns the branches (ReLU'd; a pool branch pooled first)."""
  y = _conv(block[_FUSED], x, relu=False)
  parts = jnp.split(y, np.cumsum(sizes)[:-1], axis=-1)
  if pooled_last:
    parts[-1] = _avg_pool_same(parts[-1])
  return [jax.nn.relu(part) for part in parts]


def _fast_a(p, x):
  pool = p[_FUSED]["kernel"].shape[-1] - (64 + 48 + 64)
  branch1x1, b5, b3, branch_pool = _split_fused(p, x, (64, 48, 64, pool), pooled_last=True)
  b5 = _conv(p["branch5x5_2"], b5, padding=(2, 2))
  b3 = _conv(p["branch3x3dbl_2"], b3, padding=(1, 1))
  b3 = _conv(p["branch3x3dbl_3"], b3, padding=(1, 1))
  return jnp.concatenate([branch1x1, b5, b3, branch_pool], axis=-1)


def _fast_b(p, x):
  b3 = _conv(p["branch3x3"], x, strides=2)
  dbl = _conv(p["branch3x3dbl_1"], x)
  dbl = _conv(p["branch3x3dbl_2"], dbl, padding=(1, 1))
  dbl = _conv(p["branch3x3dbl_3"], dbl, strides=2)
  return jnp.concatenate([b3, dbl, _max_pool_reduce(x)], axis=-1)


def _fast_c(p, x):
  c7 = p["branch7x7_2"]["kernel"].shape[2]
  branch1x1, b7, dbl, branch_pool = _split_fused(p, x, (192, c7, c7, 192), pooled_last=True)
  b7 = _conv(p["branch7x7_2"], b7, padding=(0, 3))
  b7 = _conv(p["branch7x7_3"], b7, padding=(3, 0))
  for name, padding in (("2", (3, 0)), ("3", (0, 3)), ("4", (3, 0)), ("5", (0, 3))):
    dbl = _conv(p[f"branch7x7dbl_{name}"], dbl, padding=padding)
  return jnp.concatenate([branch1x1, b7, dbl, branch_pool], axis=-1)


def _fast_d(p, x):
  b3, b7 = _split_fused(p, x, (192, 192), pooled_last=False)
  b3 = _conv(p["branch3x3_2"], b3, strides=2)
  b7 = _conv(p["branch7x7x3_2"], b7, padding=(0, 3))
  b7 = _conv(p["branch7x7x3_3"], b7, padding=(3, 0))
  b7 = _conv(p["branch7x7x3_4"], b7, strides=2)
  return jnp.concatenate([b3, b7, _max_pool_reduce(x)], axis=-1)


def _fast_e(p, x, max_pool):
  sizes = (320, 384, 448) if max_pool else (320, 384, 448, 192)
  parts = _split_fused(p, x, sizes, pooled_last=not max_pool)
  branch1x1, b3, dbl = parts[:3]
  branch_pool = _conv(p["branch_pool"], _max_pool_same(x)) if max_pool else parts[3]
  b3 = [_conv(p["branch3x3_2a"], b3, padding=(0, 1)), _conv(p["branch3x3_2b"], b3, padding=(1, 0))]
  dbl = _conv(p["branch3x3dbl_2"], dbl, padding=(1, 1))
  dbl = [
    _conv(p["branch3x3dbl_3a"], dbl, padding=(0, 1)),
    _conv(p["branch3x3dbl_3b"], dbl, padding=(1, 0)),
  ]
  return jnp.concatenate([branch1x1, *b3, *dbl, branch_pool], axis=-1)


def _resize_matrix(size: int) -> np.ndarray:
  """[299, size]: `preprocess`'s bilinear resize along one axis, as a matrix (resize of I)."""
  with jax.ensure_compile_time_eval():
    eye = jnp.eye(size, dtype=jnp.float32)
    return np.asarray(jax.image.resize(eye, (INPUT_SIZE, size), "bilinear", antialias=False))


def preprocess_matmul(images: jax.Array) -> jax.Array:
  """`preprocess` as two matmuls (a separable linear map) per image; grey repeated afterwards."""
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"Inception takes images [N, H, W, 1 or 3]; got shape {images.shape}.")
  rows, cols = _resize_matrix(images.shape[1]), _resize_matrix(images.shape[2])
  x = jnp.einsum("ph,nhwc->npwc", rows, images)
  x = jnp.einsum("qw,npwc->npqc", cols, x)
  return jnp.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


def fast_forward(folded: dict, images) -> tuple[jax.Array, jax.Array]:
  """`FIDInceptionV3` on `fold_variables` weights: (pool3, logits), equal up to float32 rounding."""
  x = preprocess_matmul(jnp.asarray(images, jnp.float32))
  x = _conv(folded["Conv2d_1a_3x3"], x, strides=2)
  x = _conv(folded["Conv2d_2a_3x3"], x)
  x = _conv(folded["Conv2d_2b_3x3"], x, padding=(1, 1))
  x = _max_pool_reduce(x)
  x = _conv(folded["Conv2d_3b_1x1"], x)
  x = _conv(folded["Conv2d_4a_3x3"], x)
  x = _max_pool_reduce(x)
  for block in ("Mixed_5b", "Mixed_5c", "Mixed_5d"):
    x = _fast_a(folded[block], x)
  x = _fast_b(folded["Mixed_6a"], x)
  for block in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
    x = _fast_c(folded[block], x)
  x = _fast_d(folded["Mixed_7a"], x)
  x = _fast_e(folded["Mixed_7b"], x, max_pool=False)
  x = _fast_e(folded["Mixed_7c"], x, max_pool=True)
  pool3 = jnp.mean(x, axis=(1, 2))
  return pool3, pool3 @ folded["fc"]["kernel"] + folded["fc"]["bias"]
