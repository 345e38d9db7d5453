"""Per-layer timings on this machine's XLA backend behind two design choices of jaxgen.

  python scripts/benchmark_layers.py [--batch=64] [--iters=20] [--steps=5] [--loop-iters=5]

1. Forward + backward (gradients w.r.t. input and kernel) of each transposed conv of the DCGAN
   generators for 28x28x1 and 32x32x3 images (base_features=64): `flax.linen.ConvTranspose`
   against `jaxgen.nn.conv.ConvTranspose`, whose custom VJP avoids XLA:CPU's slow input-dilated
   kernel-gradient conv.
2. `--steps` gradient-descent steps on a conv layer's kernel (a training loop's inner body, as in
   k discriminator steps), in a rolled `lax.scan` against a Python-unrolled loop.

Times are medians over `--iters` (loops: `--loop-iters`) calls of the jitted function after
warm-up, each waited for with `block_until_ready`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxgen.nn.conv import ConvTranspose, conv_transpose

# (name, input [H, W, C_in], C_out): the transposed convs of DCGANGenerator, base_features=64.
TRANSPOSED_CONV_LAYERS = [
  ("28x28 G: 7x7x128 -> 14x14x64", (7, 7, 128), 64),
  ("28x28 G: 14x14x64 -> 28x28x1", (14, 14, 64), 1),
  ("32x32 G: 4x4x256 -> 8x8x128", (4, 4, 256), 128),
  ("32x32 G: 8x8x128 -> 16x16x64", (8, 8, 128), 64),
  ("32x32 G: 16x16x64 -> 32x32x3", (16, 16, 64), 3),
]
KERNEL_SIZE = (4, 4)


def sample_ms(run_once: Callable[[], Any], iters: int, warmup: int = 0) -> list[float]:
  """Wall times of `iters` calls of `run_once()` in ms; `run_once` must wait for its own result."""
  for _ in range(warmup):
    run_once()
  times = []
  for _ in range(iters):
    started = time.perf_counter()
    run_once()
    times.append(1e3 * (time.perf_counter() - started))
  return times


def median_ms(run_once: Callable[[], Any], iters: int, warmup: int = 3) -> float:
  return statistics.median(sample_ms(run_once, iters, warmup))


def _jax_ms(fn: Callable[..., Any], args: tuple, iters: int, warmup: int = 3) -> float:
  compiled = jax.jit(fn).lower(*args).compile()
  return median_ms(lambda: jax.block_until_ready(compiled(*args)), iters, warmup)


def transposed_conv_ms(layer: nn.Module, x: jax.Array, iters: int) -> float:
  """Forward + backward of `layer`, gradients w.r.t. its input and its params."""
  params = layer.init(jax.random.key(0), x)
  cotangent = jax.random.normal(jax.random.key(1), jax.eval_shape(layer.apply, params, x).shape)

  def forward_backward(params, x):
    return jax.grad(lambda p, x: jnp.vdot(layer.apply(p, x), cotangent), (0, 1))(params, x)

  return _jax_ms(forward_backward, (params, x), iters)


def _strided_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
  return lax.conv_general_dilated(
    x, kernel, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
  )


def _fast_conv_transpose(x: jax.Array, kernel: jax.Array) -> jax.Array:
  return conv_transpose(x, kernel, 2, "SAME")


# (name, conv, input [H, W, C_in], kernel [kh, kw, C_in, C_out]): bodies for the loop comparison.
LOOP_BODIES = [
  ("strided conv 14x14x64 -> 7x7x128 (D)", _strided_conv, (14, 14, 64), (4, 4, 64, 128)),
  (
    "our conv_transpose 7x7x128 -> 14x14x64 (G)",
    _fast_conv_transpose,
    (7, 7, 128),
    (4, 4, 128, 64),
  ),
]


def loop_ms(conv: Callable, x: jax.Array, kernel: jax.Array, steps: int, iters: int):
  """(rolled lax.scan ms, unrolled ms) of `steps` gradient steps on sum(conv(x, kernel)^2)."""
  grad = jax.grad(lambda k: jnp.mean(conv(x, k) ** 2))

  def step(kernel, _):
    return kernel - 0.1 * grad(kernel), None

  def rolled(kernel):
    return lax.scan(step, kernel, None, length=steps)[0]

  def unrolled(kernel):
    for _ in range(steps):
      kernel, _ = step(kernel, None)
    return kernel

  # The two loops compute the same thing; only XLA's code for them differs.
  rolled_result, unrolled_result = jax.jit(rolled)(kernel), jax.jit(unrolled)(kernel)
  np.testing.assert_allclose(rolled_result, unrolled_result, rtol=1e-4, atol=1e-6)
  return _jax_ms(rolled, (kernel,), iters, warmup=1), _jax_ms(unrolled, (kernel,), iters, warmup=1)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch", type=int, default=64)
  parser.add_argument("--iters", type=int, default=20)
  parser.add_argument("--steps", type=int, default=5, help="loop length of the scan comparison")
  parser.add_argument("--loop-iters", type=int, default=5, help="timed calls per loop variant")
  args = parser.parse_args()
  rng = np.random.default_rng(0)
  print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}, batch {args.batch}\n")

  print("| transposed conv, forward + backward | flax ms | jaxgen ms | flax / jaxgen |")
  print("|---|---|---|---|")
  for name, input_shape, features in TRANSPOSED_CONV_LAYERS:
    x = jnp.asarray(rng.standard_normal((args.batch, *input_shape)), jnp.float32)
    layer_args = dict(features=features, kernel_size=KERNEL_SIZE, strides=(2, 2), use_bias=False)
    flax_ms = transposed_conv_ms(nn.ConvTranspose(**layer_args), x, args.iters)
    ours_ms = transposed_conv_ms(ConvTranspose(**layer_args), x, args.iters)
    print(f"| {name} | {flax_ms:.1f} | {ours_ms:.1f} | {flax_ms / ours_ms:.1f}x |")

  print(f"\n| {args.steps} gradient steps on | rolled scan ms | unrolled ms | rolled / unrolled |")
  print("|---|---|---|---|")
  for name, conv, input_shape, kernel_shape in LOOP_BODIES:
    x = jnp.asarray(rng.standard_normal((args.batch, *input_shape)), jnp.float32)
    kernel = jnp.asarray(0.05 * rng.standard_normal(kernel_shape), jnp.float32)
    rolled_ms, unrolled_ms = loop_ms(conv, x, kernel, args.steps, args.loop_iters)
    print(f"| {name} | {rolled_ms:.1f} | {unrolled_ms:.1f} | {rolled_ms / unrolled_ms:.1f}x |")


if __name__ == "__main__":
  main()
