"""One DCGAN D + G step (28x28x1, batch 64): PyTorch eager against JAX, side by side.

  .venv/bin/pip install torch==2.13.0     # the CPU wheel; torch is used by this script only
  python scripts/benchmark_torch.py [--rounds=5] [--iters=10] [--batch=64] [--base-features=64]
      [--torch-threads=N]

The same networks in both: jaxgen's DCGANGenerator / DCGANDiscriminator (base_features=64: z(100)
-> 7x7x128 -> 14x14x64 -> 28x28x1; 28x28x1 -> 14x14x64 -> 7x7x128 -> logit), rebuilt layer for layer
in torch (parameter counts checked equal), Adam(2e-4, beta1=0.5) per player. One step: a
discriminator update on a real and a fake batch, then a non-saturating generator update against the
updated discriminator. JAX runs jaxgen's own jitted train step (`make_train_step` of the `gan`
algorithm with dcgan_mnist's config, metrics and finite checks included, state donated), twice:
by default (Goodfellow et al.'s Algorithm 1: G's step draws fresh z, a second G forward) and with
`algorithm.generator_reuses_fakes=True` (G's step on the D step's z, as the PyTorch DCGAN example
reuses its fake batch).

Reported: the median over `--rounds` rounds of each round's median ms per step after warm-up, and
jaxgen's time over PyTorch's per round (median, min-max), the rounds taking turns between the
contenders so that load from other processes on a shared machine falls on all alike. On a loaded
machine torch's OpenMP threads suffer most (measured here: 151 ms with 1 thread, 763 ms with 2 while
other jobs ran); pass `--torch-threads=1` there, and to compare one thread with one thread run JAX
under XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
import types

import jax
import numpy as np
import torch
from benchmark_layers import sample_ms  # scripts/ is on sys.path when this file runs

from jaxgen import algorithms
from jaxgen.algorithms.base import init_train_state, make_train_step
from jaxgen.configs import dcgan_mnist
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
# JAX: jaxgen's own train step (make_train_step of the `gan` algorithm, dcgan_mnist's config).
# ---------------------------------------------------------------------------------------------


def jaxgen_stepper(x: np.ndarray, base_features: int, **algorithm_options):
  """(a function running one jitted jaxgen train step, compile s, G params, D params): the real
  step `jaxgen.run.train` runs, with `config.algorithm` updated by `algorithm_options`."""
  config = dcgan_mnist.get_config()
  config.batch_size = x.shape[0]
  config.model.latent_dim = LATENT_DIM
  config.model.generator.base_features = base_features
  config.model.discriminator.base_features = base_features
  config.algorithm.update(algorithm_options)
  dataset = types.SimpleNamespace(name="mnist", example_shape=IMAGE_SHAPE, num_classes=10)
  algorithm = algorithms.get(config.algorithm.name)(config, dataset)
  phases = len(algorithm.schedule)  # a fresh batch per phase; the same images here
  batches = {"x": np.stack([x] * phases), "y": np.zeros((phases, x.shape[0]), np.int32)}
  first = jax.tree.map(lambda b: b[0], batches)
  state = jax.jit(lambda key: init_train_state(algorithm, key, first))(jax.random.key(0))
  started = time.perf_counter()
  step = jax.jit(make_train_step(algorithm), donate_argnums=0)
  compiled = step.lower(state, batches).compile()
  compile_s = time.perf_counter() - started

  def run_once():
    nonlocal state
    state, metrics = compiled(state, batches)
    jax.block_until_ready((state, metrics))

  count = lambda name: sum(p.size for p in jax.tree.leaves(state.players[name].params))
  return run_once, compile_s, count("generator"), count("discriminator")


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
  ours_step, ours_compile, jax_g, jax_d = jaxgen_stepper(x, args.base_features)
  reuse_step, reuse_compile, _, _ = jaxgen_stepper(
    x, args.base_features, generator_reuses_fakes=True
  )
  if (torch_g, torch_d) != (jax_g, jax_d):
    raise RuntimeError(f"parameter counts differ: torch {torch_g, torch_d}, jax {jax_g, jax_d}")
  steps = {"torch": torch_step, "ours": ours_step, "reuse": reuse_step}
  for step in steps.values():
    sample_ms(step, 0, warmup=3)
  rounds = {name: [] for name in steps}  # each round's median, for the spread
  for _ in range(args.rounds):
    for name, step in steps.items():
      rounds[name].append(statistics.median(sample_ms(step, args.iters)))
  ms = {name: statistics.median(medians) for name, medians in rounds.items()}
  ratios = {
    name: [ours / theirs for ours, theirs in zip(medians, rounds["torch"], strict=True)]
    for name, medians in rounds.items()
  }

  print(
    f"DCGAN {'x'.join(map(str, IMAGE_SHAPE))}, batch {args.batch}, base_features "
    f"{args.base_features}: G {jax_g:,} / D {jax_d:,} params; torch {torch.__version__} "
    f"({torch.get_num_threads()} threads), jax {jax.__version__} on "
    f"{jax.devices()[0].device_kind}; {args.rounds} x {args.iters} steps each; load average "
    f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
  )
  print("| D + G step | PyTorch eager | jaxgen | jaxgen, generator_reuses_fakes |")
  print("|---|---|---|---|")
  print(f"| median ms | {ms['torch']:.1f} | {ms['ours']:.1f} | {ms['reuse']:.1f} |")
  spread = lambda r: f"{statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f})"
  print(f"| / PyTorch, per round | 1.00 | {spread(ratios['ours'])} | {spread(ratios['reuse'])} |")
  print(f"| compile s | - | {ours_compile:.1f} | {reuse_compile:.1f} |")


if __name__ == "__main__":
  main()
