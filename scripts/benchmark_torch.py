"""One DCGAN D + G step (28x28x1, batch 64): PyTorch eager against JAX, side by side.

  .venv/bin/pip install torch==2.13.0     # the CPU wheel; torch is used by this script only
  python scripts/benchmark_torch.py [--rounds=5] [--iters=10] [--batch=64] [--base-features=64]
      [--torch-threads=N]

The same networks in both: jaxgen's DCGANGenerator / DCGANDiscriminator (base_features=64: z(100)
-> 7x7x128 -> 14x14x64 -> 28x28x1; 28x28x1 -> 14x14x64 -> 7x7x128 -> logit), rebuilt layer for layer
in torch (parameter counts checked equal), Adam(2e-4, beta1=0.5) per player. One step: a
discriminator update on a real and a fake batch, then a non-saturating generator update against the
updated discriminator, as in the PyTorch DCGAN example. JAX runs it as one jitted function holding
two `jax.grad`s over the two players' parameters, twice: with jaxgen's ConvTranspose (fast kernel
gradient) and with flax's. The generator's gradient runs G forward again, as jaxgen's loop does,
where torch reuses the fake batch (sharing it through `jax.vjp` measured 9% faster on one thread
here, 212 -> 193 ms).

Reported: median ms per step after warm-up (`block_until_ready`), over `--rounds` rounds of
`--iters` steps that take turns between the three, so that load from other processes on a shared
machine falls on all three alike. On a loaded machine torch's OpenMP threads suffer most (measured
here: 151 ms with 1 thread, 763 ms with 2 while other jobs ran); pass `--torch-threads=1` there,
and to compare one thread with one thread run JAX under
XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from benchmark_layers import sample_ms  # scripts/ is on sys.path when this file runs

from jaxgen.nn import gan

IMAGE_SHAPE = (28, 28, 1)
LATENT_DIM = 100  # Radford et al. 2016, sec. 4
LEARNING_RATE, BETA1, BETA2 = 2e-4, 0.5, 0.999  # Radford et al. 2016, sec. 4


# ---------------------------------------------------------------------------------------------
# PyTorch: the same layers as jaxgen.nn.gan (4x4 kernels, stride 2, padding 1 == 'SAME' here).
# ---------------------------------------------------------------------------------------------


def _torch_batch_norm(features: int) -> torch.nn.BatchNorm2d:
  # torch's momentum is the weight of the new batch: 1 - flax's decay.
  return torch.nn.BatchNorm2d(
    features, eps=gan.BATCH_NORM_EPSILON, momentum=1 - gan.BATCH_NORM_MOMENTUM
  )


class TorchGenerator(torch.nn.Module):
  def __init__(self, base_features: int):
    super().__init__()
    height, width, channels = IMAGE_SHAPE
    steps = gan.resolution_steps(height, width)
    features = base_features * 2 ** (steps - 1)
    self.base_shape = (features, height >> steps, width >> steps)
    self.project = torch.nn.Linear(LATENT_DIM, math.prod(self.base_shape), bias=False)
    self.project_norm = _torch_batch_norm(features)
    blocks = []
    for _ in range(steps - 1):
      blocks += [
        torch.nn.ConvTranspose2d(features, features // 2, 4, 2, 1, bias=False),
        _torch_batch_norm(features // 2),
        torch.nn.ReLU(),
      ]
      features //= 2
    blocks += [torch.nn.ConvTranspose2d(features, channels, 4, 2, 1), torch.nn.Tanh()]
    self.blocks = torch.nn.Sequential(*blocks)

  def forward(self, z):
    h = self.project(z).view(-1, *self.base_shape)
    return self.blocks(torch.relu(self.project_norm(h)))


class TorchDiscriminator(torch.nn.Module):
  def __init__(self, base_features: int):
    super().__init__()
    height, width, channels = IMAGE_SHAPE
    steps = gan.resolution_steps(height, width)
    layers, features = [], channels
    for i in range(steps):
      out = base_features * 2**i
      layers.append(torch.nn.Conv2d(features, out, 4, 2, 1, bias=i == 0))
      if i > 0:
        layers.append(_torch_batch_norm(out))
      layers.append(torch.nn.LeakyReLU(gan.LEAKY_RELU_SLOPE))
      features = out
    self.body = torch.nn.Sequential(*layers)
    self.head = torch.nn.Linear(features * (height >> steps) * (width >> steps), 1)

  def forward(self, x):
    return self.head(self.body(x).flatten(1))[:, 0]


def torch_stepper(x: np.ndarray, z: np.ndarray, base_features: int):
  """(a function running one torch D + G step, generator params, discriminator params)."""
  torch.manual_seed(0)
  generator, discriminator = TorchGenerator(base_features), TorchDiscriminator(base_features)
  g_opt = torch.optim.Adam(generator.parameters(), LEARNING_RATE, betas=(BETA1, BETA2))
  d_opt = torch.optim.Adam(discriminator.parameters(), LEARNING_RATE, betas=(BETA1, BETA2))
  x, z = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(z)
  ones, zeros = torch.ones(x.shape[0]), torch.zeros(x.shape[0])
  bce = torch.nn.functional.binary_cross_entropy_with_logits

  def step():
    fake = generator(z)
    d_opt.zero_grad(set_to_none=True)
    d_loss = bce(discriminator(x), ones) + bce(discriminator(fake.detach()), zeros)
    d_loss.backward()
    d_opt.step()
    g_opt.zero_grad(set_to_none=True)
    g_loss = bce(discriminator(fake), ones)  # non-saturating: -log D(G(z))
    g_loss.backward()
    g_opt.step()

  count = lambda module: sum(p.numel() for p in module.parameters())
  return step, count(generator), count(discriminator)


# ---------------------------------------------------------------------------------------------
# JAX: jaxgen's modules, the step written out.
# ---------------------------------------------------------------------------------------------


def jax_stepper(x: np.ndarray, z: np.ndarray, base_features: int, conv_transpose):
  """(a function running one jitted JAX D + G step, compile s, G params, D params)."""
  generator = gan.DCGANGenerator(IMAGE_SHAPE, base_features, conv_transpose=conv_transpose)
  discriminator = gan.DCGANDiscriminator(base_features)
  optimizer = optax.adam(LEARNING_RATE, b1=BETA1, b2=BETA2)
  g_key, d_key = jax.random.split(jax.random.key(0))
  g_vars = generator.init(g_key, z, train=False)
  d_vars = discriminator.init(d_key, x, train=False)
  state = {
    "g": (g_vars["params"], g_vars["batch_stats"], optimizer.init(g_vars["params"])),
    "d": (d_vars["params"], d_vars["batch_stats"], optimizer.init(d_vars["params"])),
  }

  def run(module, params, stats, inputs):
    out, updated = module.apply(
      {"params": params, "batch_stats": stats}, inputs, train=True, mutable=["batch_stats"]
    )
    return out, updated["batch_stats"]

  def d_loss(d_params, d_stats, real, fake):
    # -E[log D(x)] - E[log(1 - D(G(z)))] from logits: log sigmoid(l) = -softplus(-l) and
    # log(1 - sigmoid(l)) = -softplus(l) (Goodfellow et al. 2014, eq. 1).
    real_logits, d_stats = run(discriminator, d_params, d_stats, real)
    fake_logits, d_stats = run(discriminator, d_params, d_stats, fake)
    loss = jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
    return loss, d_stats

  def g_loss(g_params, g_stats, d_params, d_stats, z):
    fake, g_stats = run(generator, g_params, g_stats, z)
    logits, _ = run(discriminator, d_params, d_stats, fake)
    return jnp.mean(jax.nn.softplus(-logits)), g_stats  # non-saturating: -E[log D(G(z))]

  def update(grads, params, opt_state):
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  def step(state, x, z):
    (g_params, g_stats, g_opt), (d_params, d_stats, d_opt) = state["g"], state["d"]
    fake, _ = run(generator, g_params, g_stats, z)
    d_grads, d_stats = jax.grad(d_loss, has_aux=True)(d_params, d_stats, x, fake)
    d_params, d_opt = update(d_grads, d_params, d_opt)
    g_grads, g_stats = jax.grad(g_loss, has_aux=True)(g_params, g_stats, d_params, d_stats, z)
    g_params, g_opt = update(g_grads, g_params, g_opt)
    return {"g": (g_params, g_stats, g_opt), "d": (d_params, d_stats, d_opt)}

  started = time.perf_counter()
  compiled = jax.jit(step, donate_argnums=0).lower(state, x, z).compile()
  compile_s = time.perf_counter() - started

  def run_once():
    nonlocal state
    state = jax.block_until_ready(compiled(state, x, z))

  count = lambda params: sum(p.size for p in jax.tree.leaves(params))
  return run_once, compile_s, count(g_vars["params"]), count(d_vars["params"])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--iters", type=int, default=10, help="timed steps per contender per round")
  parser.add_argument("--batch", type=int, default=64)
  parser.add_argument("--base-features", type=int, default=64)
  parser.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
  args = parser.parse_args()
  if args.torch_threads:
    torch.set_num_threads(args.torch_threads)
  rng = np.random.default_rng(0)
  x = rng.uniform(-1, 1, (args.batch, *IMAGE_SHAPE)).astype(np.float32)
  z = rng.standard_normal((args.batch, LATENT_DIM)).astype(np.float32)

  torch_step, torch_g, torch_d = torch_stepper(x, z, args.base_features)
  ours_step, ours_compile, jax_g, jax_d = jax_stepper(x, z, args.base_features, gan.ConvTranspose)
  flax_step, flax_compile, _, _ = jax_stepper(x, z, args.base_features, nn.ConvTranspose)
  if (torch_g, torch_d) != (jax_g, jax_d):
    raise RuntimeError(f"parameter counts differ: torch {torch_g, torch_d}, jax {jax_g, jax_d}")
  steps = {"torch": torch_step, "ours": ours_step, "flax": flax_step}
  times = {name: sample_ms(step, 0, warmup=3) for name, step in steps.items()}
  for _ in range(args.rounds):
    for name, step in steps.items():
      times[name] += sample_ms(step, args.iters)
  ms = {name: statistics.median(samples) for name, samples in times.items()}

  print(
    f"DCGAN {'x'.join(map(str, IMAGE_SHAPE))}, batch {args.batch}, base_features "
    f"{args.base_features}: G {jax_g:,} / D {jax_d:,} params; torch {torch.__version__} "
    f"({torch.get_num_threads()} threads), jax {jax.__version__} on "
    f"{jax.devices()[0].device_kind}; {args.rounds} x {args.iters} steps each"
  )
  print("| D + G step | PyTorch eager | JAX, jaxgen ConvTranspose | JAX, flax ConvTranspose |")
  print("|---|---|---|---|")
  print(f"| median ms | {ms['torch']:.1f} | {ms['ours']:.1f} | {ms['flax']:.1f} |")
  print(f"| / PyTorch | 1.00 | {ms['ours'] / ms['torch']:.2f} | {ms['flax'] / ms['torch']:.2f} |")
  print(f"| compile s | - | {ours_compile:.1f} | {flax_compile:.1f} |")


if __name__ == "__main__":
  main()
