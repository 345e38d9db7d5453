"""Mixed precision: networks compute in bfloat16 while what they are trained with stays float32.

`config.precision = "bfloat16"` wraps every network an algorithm builds (`build_network`,
`Critic.build`) in `MixedPrecision`, which on each `apply`

- casts the floating `params` leaves and the floating array arguments to the compute dtype, so every
  Dense / Conv / ConvTranspose runs in bfloat16 (modules with a `dtype` field get it set too, so a
  layer that would promote back to float32, e.g. flax's `SpectralNorm` dividing by its float32
  sigma, still multiplies in bfloat16);
- leaves the other collections (batch_stats, spectral-norm vectors) float32 going in, and casts
  their updates, the sown intermediates and the outputs back to float32 coming out.

So the params tree, its dtypes and the checkpoints are those of float32 training; the gradient of a
float32 loss w.r.t. the float32 params is float32 (a cast is differentiable: its transpose casts
the cotangent back); optimizer state follows the params; losses and their reductions see float32
outputs. Batch norm reduces its statistics in float32 even on bfloat16 inputs
(`force_float32_reductions`), and the layers that need range (`minibatch_stddev`, `pixel_norm`,
the attention softmax) already promote to at least float32. `init` runs unchanged in float32.
This is the recipe of Micikevicius et al. 2018 ("Mixed Precision Training", sec. 3.1: float32
master weights, reduced-precision arithmetic); bfloat16's float32 exponent range makes their loss
scaling (sec. 3.2) unnecessary (Kalamkar et al. 2019, "A Study of BFLOAT16 for Deep Learning
Training", sec. 1).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.errors import ConfigError

# config.precision -> the dtype networks compute in.
PRECISIONS = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
DEFAULT = "float32"

# `apply` keywords that are not network inputs (never cast).
_CONTROL_KEYWORDS = ("mutable", "rngs", "method", "capture_intermediates")


def from_config(config) -> str:
  """`config.precision`, or float32 for a config that predates the switch."""
  return config.get("precision", DEFAULT)


def check_precision(precision: Any) -> Any:
  """The compute dtype `precision` names; a ConfigError naming the key and the choices if none."""
  if not isinstance(precision, str) or precision not in PRECISIONS:
    raise ConfigError(
      f"precision = {precision!r} is not one of {sorted(PRECISIONS)}; set precision to "
      "'float32' (everything in float32) or 'bfloat16' (bfloat16 compute, float32 params, "
      "optimizer state and losses)."
    )
  return PRECISIONS[precision]


def _cast_floating(tree, dtype):
  """Every floating array leaf of `tree` cast to `dtype`; other leaves as they are."""

  def cast(leaf):
    if hasattr(leaf, "astype") and jnp.issubdtype(getattr(leaf, "dtype", None), jnp.floating):
      return leaf.astype(dtype)
    return leaf

  return jax.tree.map(cast, tree)


@dataclasses.dataclass(frozen=True)
class MixedPrecision:
  """`inner` run in `compute_dtype` with float32 params, state and outputs; see the module doc.

  Not a flax module on purpose: a wrapping module would nest the params one level deeper. Every
  other attribute (`norm`, `image_shape`, ...) reads through to `inner`.
  """

  inner: nn.Module
  compute_dtype: Any = jnp.bfloat16

  def init(self, *args, **kwargs):
    """`inner.init` unchanged: float32 params and state, as the train state keeps them."""
    return self.inner.init(*args, **kwargs)

  def apply(self, variables, *args, **kwargs):
    """`inner.apply` in `compute_dtype` (params and float inputs cast); float outputs in float32."""
    variables = dict(variables)
    if "params" in variables:
      variables["params"] = _cast_floating(variables["params"], self.compute_dtype)
    args = _cast_floating(args, self.compute_dtype)
    kwargs = {
      key: value if key in _CONTROL_KEYWORDS else _cast_floating(value, self.compute_dtype)
      for key, value in kwargs.items()
    }
    # Outputs, updated batch statistics and sown features: back to float32 for the losses,
    # the optimizer and the train state (whose dtypes must not change from step to step).
    return _cast_floating(self.inner.apply(variables, *args, **kwargs), jnp.float32)

  def __getattr__(self, name: str):
    if name == "inner":  # not yet set (copy / unpickling): no recursion through __getattr__
      raise AttributeError(name)
    return getattr(self.inner, name)


def wrap(module: nn.Module, precision: str) -> nn.Module | MixedPrecision:
  """`module` computing in the dtype `precision` names: itself for float32, else wrapped."""
  dtype = check_precision(precision)
  if dtype == jnp.float32:
    return module
  if "dtype" in {field.name for field in dataclasses.fields(module)}:
    module = module.clone(dtype=dtype)
  return MixedPrecision(module, dtype)
