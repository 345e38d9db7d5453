"""A transposed convolution whose kernel gradient XLA:CPU computes quickly.

`lax.conv_transpose` is a convolution with *input* dilation (`lhs_dilation`). Autodiff turns its
kernel gradient into another input-dilated convolution, which XLA:CPU runs at ~10 GFLOP/s (190-225
ms for one DCGAN layer against 26 ms in PyTorch). `conv_transpose` below has the same forward pass
and a `jax.custom_vjp` that writes both gradients as convolutions with *kernel* dilation and window
strides only - an ordinary strided convolution and its weight gradient - which XLA:CPU runs fast.

`ConvTranspose` is a drop-in for `flax.linen.ConvTranspose` (same parameter names, shapes and
outputs for the same parameters) for the options GANs use; see its docstring.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax.linen.dtypes import promote_dtype
from jax import lax

Padding = str | int | Sequence[int | tuple[int, int]]
Pads = tuple[tuple[int, int], ...]

# Forward: y = conv(x dilated by s and padded by (lo, hi), k), window stride 1, kernel dilation d.
# Per spatial axis, with x of length N, kernel of length K and cotangent g = dL/dy of length
# M = s*(N - 1) + 1 + lo + hi - d*(K - 1):
#
#   y[o] = sum_{i, t : s*i + lo = o + d*t} x[i] k[t]      (channels: x[i, a] k[t, a, b], sum over a)
#
# Differentiating:
#
#   dx[i] = sum_t g[s*i + lo - d*t] k[t]       (g is zero outside [0, M))
#   dk[t] = sum_i x[i] g[s*i + lo - d*t]
#
# Substitute t' = K - 1 - t and let g_p be g padded by (d*(K-1) - lo, d*(K-1) - hi), so that
# g[s*i + lo - d*t] = g_p[s*i + d*t']. Then
#
#   dx[i] = sum_t' g_p[s*i + d*t'] k[K-1-t']
#     : the forward strided conv (stride s, kernel dilation d) of g with the same kernel, flipped in
#       space, its in/out channels swapped;
#   dk[K-1-t'] = sum_i g_p[s*i + d*t'] x[i]
#     : the weight gradient of that strided conv, with x as its output cotangent - a conv of g_p
#       with x as the kernel (window stride d, kernel dilation s, the batch axis contracted), then
#       flipped back in space. Neither conv dilates its input, the slow case on XLA:CPU.
#
# Output sizes check out: the strided conv gives (M + 2d(K-1) - lo - hi - d(K-1) - 1) // s + 1 = N
# positions and the weight-gradient conv (s(N-1) + 1 + d(K-1) - s(N-1) - 1) // d + 1 = K positions.
# Pads may be negative (a crop); XLA's convolution accepts that.


def _transposed_conv_pads(
  kernel_size: Sequence[int],
  strides: Sequence[int],
  kernel_dilation: Sequence[int],
  padding: str | Pads,
) -> Pads:
  """The (lo, hi) pads of the fractionally strided conv, as `lax.conv_transpose` computes them.

  'SAME' / 'VALID' name the padding of the forward conv whose transpose this is (the convention of
  `lax.conv_transpose` and `flax.linen.ConvTranspose`); explicit pairs are used as given.
  """
  if not isinstance(padding, str):
    return tuple(padding)
  pads = []
  for k, s, d in zip(kernel_size, strides, kernel_dilation, strict=True):
    k_eff = d * (k - 1) + 1  # the dilated kernel's extent
    # jax/_src/lax/convolution.py `_conv_transpose_padding`: SAME gives output size s * N, VALID
    # gives s * N + max(k_eff - s, 0).
    if padding == "SAME":
      pad_len = k_eff + s - 2
      pad_lo = k_eff - 1 if s > k_eff - 1 else -(-pad_len // 2)
    else:
      pad_len = k_eff + s - 2 + max(k_eff - s, 0)
      pad_lo = k_eff - 1
    pads.append((pad_lo, pad_len - pad_lo))
  return tuple(pads)


def _dimension_numbers(num_spatial: int) -> dict[str, lax.ConvDimensionNumbers]:
  """Dimension numbers, as (batch/out, feature/in, spatial...) axis indices, for the three convs.

  Arrays are channels-last: x [B, *S, C_in], g [B, *S', C_out], kernel [*K, C_in, C_out].
  """
  spatial_act = tuple(range(1, num_spatial + 1))  # spatial axes of x and g
  spatial_ker = tuple(range(num_spatial))  # spatial axes of the kernel
  act = (0, num_spatial + 1, *spatial_act)  # activations: batch 0, channels last
  c_in, c_out = num_spatial, num_spatial + 1  # kernel channel axes
  return {
    # y = conv(x, k): the kernel maps C_in -> C_out.
    "forward": lax.ConvDimensionNumbers(act, (c_out, c_in, *spatial_ker), act),
    # dx = conv(g, k): the same kernel read the other way, C_out -> C_in.
    "input_grad": lax.ConvDimensionNumbers(act, (c_in, c_out, *spatial_ker), act),
    # dk = conv(g, x): the batch axis is contracted; g's channels become the output "batch" (C_out,
    # the last kernel axis), x's channels the output features (C_in): dk is [*K, C_in, C_out].
    "kernel_grad": lax.ConvDimensionNumbers(
      (num_spatial + 1, 0, *spatial_act),
      (num_spatial + 1, 0, *spatial_act),
      (c_out, c_in, *spatial_ker),
    ),
  }


def _flip_spatial(kernel: jax.Array) -> jax.Array:
  return jnp.flip(kernel, axis=tuple(range(kernel.ndim - 2)))


def _cotangent_pads(
  kernel_shape: Sequence[int], kernel_dilation: Sequence[int], pads: Pads
) -> Pads:
  # g_p = g padded by (d(K-1) - lo, d(K-1) - hi): see the derivation at the top of the module.
  return tuple(
    (d * (k - 1) - lo, d * (k - 1) - hi)
    for k, d, (lo, hi) in zip(kernel_shape[:-2], kernel_dilation, pads, strict=True)
  )


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _conv_transpose(x, kernel, strides, pads, kernel_dilation, precision):
  num_spatial = x.ndim - 2
  return lax.conv_general_dilated(
    x,
    kernel,
    window_strides=(1,) * num_spatial,
    padding=pads,
    lhs_dilation=strides,
    rhs_dilation=kernel_dilation,
    dimension_numbers=_dimension_numbers(num_spatial)["forward"],
    precision=precision,
  )


def _conv_transpose_fwd(x, kernel, strides, pads, kernel_dilation, precision):
  y = _conv_transpose(x, kernel, strides, pads, kernel_dilation, precision)
  return y, (x, kernel)


def _conv_transpose_bwd(strides, pads, kernel_dilation, precision, residuals, g):
  x, kernel = residuals
  dims = _dimension_numbers(x.ndim - 2)
  g_pads = _cotangent_pads(kernel.shape, kernel_dilation, pads)
  dx = lax.conv_general_dilated(
    g,
    _flip_spatial(kernel),
    window_strides=strides,
    padding=g_pads,
    rhs_dilation=kernel_dilation,
    dimension_numbers=dims["input_grad"],
    precision=precision,
  )
  dkernel_flipped = lax.conv_general_dilated(
    g,
    x,
    window_strides=kernel_dilation,
    padding=g_pads,
    rhs_dilation=strides,
    dimension_numbers=dims["kernel_grad"],
    precision=precision,
  )
  return dx.astype(x.dtype), _flip_spatial(dkernel_flipped).astype(kernel.dtype)


_conv_transpose.defvjp(_conv_transpose_fwd, _conv_transpose_bwd)


def _positive_ints(name: str, value: int | Sequence[int] | None, rank: int) -> tuple[int, ...]:
  values = (1,) * rank if value is None else (value,) * rank if isinstance(value, int) else value
  values = tuple(values)
  if len(values) != rank or not all(isinstance(v, int) and v >= 1 for v in values):
    raise ValueError(f"{name} must be None, an int >= 1 or {rank} ints >= 1; got {value!r}.")
  return values


def _canonical_padding(padding: Padding, rank: int) -> str | Pads:
  if isinstance(padding, str):
    if padding not in ("SAME", "VALID"):
      raise ValueError(
        f"padding must be 'SAME', 'VALID', an int or {rank} ints / (lo, hi) pairs; got "
        f"{padding!r} ('CIRCULAR' of flax.linen.ConvTranspose is not supported)."
      )
    return padding
  if isinstance(padding, int):
    return ((padding, padding),) * rank
  pads = tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)
  if len(pads) != rank or not all(len(p) == 2 and all(isinstance(v, int) for v in p) for p in pads):
    raise ValueError(
      f"padding must be 'SAME', 'VALID', an int or {rank} ints / (lo, hi) pairs; got {padding!r}."
    )
  return pads


def conv_transpose(
  inputs: jax.Array,
  kernel: jax.Array,
  strides: int | Sequence[int] | None = None,
  padding: Padding = "SAME",
  kernel_dilation: int | Sequence[int] | None = None,
  precision: lax.PrecisionLike = None,
) -> jax.Array:
  """`lax.conv_transpose` (channels-last, `transpose_kernel=False`) with fast gradients.

  Args:
    inputs: [batch, *spatial, in_features].
    kernel: [*kernel_size, in_features, out_features].
    strides: the upsampling factor per spatial axis (int or sequence; None means 1).
    padding: 'SAME' or 'VALID' (the padding of the forward conv this is the transpose of, as in
      `lax.conv_transpose`), or explicit (lo, hi) pads of the fractionally strided conv.
    kernel_dilation: kernel dilation per spatial axis (None means 1).
    precision: passed to every convolution, forward and backward.

  Returns:
    [batch, *out_spatial, out_features], equal to `lax.conv_transpose` with the same arguments.

  Differentiable in reverse mode (`jax.grad`, `jax.vjp`, also reverse-over-reverse); a
  `jax.custom_vjp` has no forward-mode rule, so `jax.jvp` / `jax.jacfwd` raise a TypeError.
  """
  rank = kernel.ndim - 2
  if inputs.ndim != rank + 2 or inputs.shape[-1] != kernel.shape[-2]:
    raise ValueError(
      f"inputs {inputs.shape} and kernel {kernel.shape} do not match: expected inputs of shape "
      f"[batch, {rank} spatial axes, {kernel.shape[-2]}]."
    )
  strides = _positive_ints("strides", strides, rank)
  kernel_dilation = _positive_ints("kernel_dilation", kernel_dilation, rank)
  pads = _transposed_conv_pads(
    kernel.shape[:-2], strides, kernel_dilation, _canonical_padding(padding, rank)
  )
  return _conv_transpose(inputs, kernel, strides, pads, kernel_dilation, precision)


class ConvTranspose(nn.Module):
  """Drop-in for `flax.linen.ConvTranspose`, backed by `conv_transpose` (fast kernel gradient).

  Same parameters (`kernel` [*kernel_size, in_features, features], `bias` [features]), initialisers
  and outputs as flax's module for the attributes below. Not supported: 'CIRCULAR' padding (a
  ValueError), `mask`, `transpose_kernel`, `preferred_element_type`.

  Attributes:
    features: number of output channels.
    kernel_size: int (1-D) or a sequence, one entry per spatial axis.
    strides: upsampling factor, int or sequence (None means 1).
    padding: 'SAME', 'VALID', an int, or per-axis ints / (lo, hi) pairs, as in flax.
    kernel_dilation: int or sequence (None means 1).
    use_bias: whether to add a bias.
    dtype: computation dtype (None: inferred from inputs and params, as in flax).
    param_dtype: dtype of the parameters.
    precision: precision of the convolutions.
    kernel_init: kernel initialiser (flax's default: LeCun normal).
    bias_init: bias initialiser (zeros).
  """

  features: int
  kernel_size: int | Sequence[int]
  strides: int | Sequence[int] | None = None
  padding: Padding = "SAME"
  kernel_dilation: int | Sequence[int] | None = None
  use_bias: bool = True
  dtype: Any = None
  param_dtype: Any = jnp.float32
  precision: lax.PrecisionLike = None
  kernel_init: nn.initializers.Initializer = nn.linear.default_kernel_init
  bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()

  @nn.compact
  def __call__(self, inputs: jax.Array) -> jax.Array:
    """Applies the transposed conv to [*batch_dims, *spatial, in_features] (channels-last)."""
    kernel_size = (
      (self.kernel_size,) if isinstance(self.kernel_size, int) else tuple(self.kernel_size)
    )
    rank = len(kernel_size)
    if self.features < 1 or not all(isinstance(k, int) and k >= 1 for k in kernel_size):
      raise ValueError(
        f"features and kernel_size must be ints >= 1; got features={self.features!r}, "
        f"kernel_size={self.kernel_size!r}."
      )
    if inputs.ndim < rank + 1:
      raise ValueError(
        f"inputs of shape {inputs.shape} have too few axes for a {rank}-D transposed conv: "
        f"expected [*batch_dims, {rank} spatial axes, features]."
      )
    # As flax: any number of leading batch axes (zero included) is flattened into one.
    batch_shape = inputs.shape[: inputs.ndim - rank - 1]
    flat_inputs = inputs.reshape((-1, *inputs.shape[inputs.ndim - rank - 1 :]))

    kernel = self.param(
      "kernel",
      self.kernel_init,
      (*kernel_size, inputs.shape[-1], self.features),
      self.param_dtype,
    )
    bias = (
      self.param("bias", self.bias_init, (self.features,), self.param_dtype)
      if self.use_bias
      else None
    )
    flat_inputs, kernel, bias = promote_dtype(flat_inputs, kernel, bias, dtype=self.dtype)
    y = conv_transpose(
      flat_inputs, kernel, self.strides, self.padding, self.kernel_dilation, self.precision
    )
    if bias is not None:
      y = y + bias
    return y.reshape((*batch_shape, *y.shape[1:]))
