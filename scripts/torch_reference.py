"""PyTorch eager twins of jaxgen's GAN step, for `scripts/benchmark.py --compare-torch`.

The networks are rebuilt layer for layer (parameter counts checked equal to jaxgen's) and the
step is the `gan` algorithm's: a discriminator update on a real batch and on fakes of fresh noise,
then a generator update on fakes of new noise against the updated discriminator (Goodfellow et
al. 2014, Algorithm 1 with k = 1), non-saturating loss, the config's Adam per player. D's
parameters are frozen during G's backward, as a careful torch user writes it (no wasted D grads).

  python scripts/torch_reference.py [--configs=gan_ring8,dcgan_mnist] [--rounds=5] [--iters=10]
      [--threads=T]

times the torch step alone in this process and prints `scripts/benchmark.py`'s table for it: the
lone figure that benchmark's torch column is read against. With `--worker` it is benchmark's
torch process instead: one JSON request per line on stdin, one answer per line on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import benchmark  # scripts/ is on sys.path when this file runs
import jax
import numpy as np
import torch
from benchmark_layers import sample_ms

from jaxgen.nn import gan

# torch's momentum is the weight of the new batch: 1 - flax's decay.
_BN_MOMENTUM = 1 - gan.BATCH_NORM_MOMENTUM


class MLPGenerator(torch.nn.Module):
  """jaxgen.nn.gan.MLPGenerator: [Linear (no bias under BN) -> BN -> ReLU] per hidden, Linear."""

  def __init__(self, latent_dim: int, output_dim: int, hidden, batch_norm: bool):
    super().__init__()
    layers, width = [], latent_dim
    for out in hidden:
      layers.append(torch.nn.Linear(width, out, bias=not batch_norm))
      if batch_norm:
        layers.append(torch.nn.BatchNorm1d(out, eps=gan.BATCH_NORM_EPSILON, momentum=_BN_MOMENTUM))
      layers.append(torch.nn.ReLU())
      width = out
    layers.append(torch.nn.Linear(width, output_dim))
    self.body = torch.nn.Sequential(*layers)

  def forward(self, z):
    return self.body(z)


class Maxout(torch.nn.Module):
  """Max over `pieces` affine maps (Goodfellow et al. 2013, eq. 1), jaxgen's piece layout."""

  def __init__(self, width_in: int, features: int, pieces: int):
    super().__init__()
    self.linear, self.features, self.pieces = (
      torch.nn.Linear(width_in, features * pieces),
      features,
      pieces,
    )

  def forward(self, x):
    return self.linear(x).view(-1, self.features, self.pieces).amax(-1)


class MLPDiscriminator(torch.nn.Module):
  """jaxgen.nn.gan.MLPDiscriminator: maxout (or Linear + LeakyReLU) hidden layers, one logit."""

  def __init__(self, input_dim: int, hidden, maxout_pieces: int):
    super().__init__()
    layers, width = [], input_dim
    for out in hidden:
      if maxout_pieces:
        layers.append(Maxout(width, out, maxout_pieces))
      else:
        layers += [torch.nn.Linear(width, out), torch.nn.LeakyReLU(gan.LEAKY_RELU_SLOPE)]
      width = out
    layers.append(torch.nn.Linear(width, 1))
    self.body = torch.nn.Sequential(*layers)

  def forward(self, x):
    return self.body(x)[:, 0]


def _networks(config, dataset):
  """(G, D, input layout) for the config's players, or None without a torch twin."""
  g_cfg, d_cfg = dict(config.model.generator), dict(config.model.discriminator)
  shape = tuple(dataset.example_shape)
  if g_cfg["name"] == d_cfg["name"] == "mlp" and len(shape) == 1 and not config.conditional:
    generator = MLPGenerator(
      config.model.latent_dim,
      shape[0],
      g_cfg.get("hidden", (400,) * 4),
      g_cfg.get("batch_norm", True),
    )
    discriminator = MLPDiscriminator(
      shape[0], d_cfg.get("hidden", (200,) * 3), d_cfg.get("maxout_pieces", 5)
    )
    return generator, discriminator
  if g_cfg["name"] == d_cfg["name"] == "dcgan" and shape == (28, 28, 1) and not config.conditional:
    import benchmark_torch  # noqa: PLC0415 — its twins are built for 28x28x1, latent 100

    base = g_cfg.get("base_features", 64)
    if (
      config.model.latent_dim != benchmark_torch.LATENT_DIM
      or d_cfg.get("base_features", 64) != base
    ):
      return None
    return benchmark_torch.TorchGenerator(base), benchmark_torch.TorchDiscriminator(base)
  return None


def _adam(module, options):
  return torch.optim.Adam(
    module.parameters(),
    options["learning_rate"],
    betas=(options.get("b1", 0.9), options.get("b2", 0.999)),
  )


def gan_step(config, dataset):
  """A function running one torch GAN step of `config` (and waiting for it), or None."""
  if config.algorithm.name != "gan" or config.algorithm.loss != "non_saturating":
    return None
  torch.manual_seed(0)
  networks = _networks(config, dataset)
  if networks is None:
    return None
  generator, discriminator = networks
  _check_sizes(config, dataset, generator, discriminator)
  g_opt = _adam(generator, dict(config.optimizer.generator))
  d_opt = _adam(discriminator, dict(config.optimizer.discriminator))
  rng = np.random.default_rng(0)
  real = torch.from_numpy(
    rng.uniform(-1, 1, (config.batch_size, *dataset.example_shape)).astype(np.float32)
  )
  if real.ndim == 4:
    real = real.permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
  ones, zeros = torch.ones(config.batch_size), torch.zeros(config.batch_size)
  bce = torch.nn.functional.binary_cross_entropy_with_logits
  latent = (config.batch_size, config.model.latent_dim)

  def step():
    with torch.no_grad():
      fake = generator(torch.randn(latent))
    d_opt.zero_grad(set_to_none=True)
    d_loss = bce(discriminator(real), ones) + bce(discriminator(fake), zeros)  # eq. 1
    d_loss.backward()
    d_opt.step()
    discriminator.requires_grad_(False)
    g_opt.zero_grad(set_to_none=True)
    g_loss = bce(discriminator(generator(torch.randn(latent))), ones)  # -log D(G(z))
    g_loss.backward()
    g_opt.step()
    discriminator.requires_grad_(True)

  return step


def _check_sizes(config, dataset, generator, discriminator) -> None:
  """The torch twins have exactly jaxgen's parameter counts (else the comparison is void)."""
  from jaxgen import algorithms  # noqa: PLC0415

  algorithm = algorithms.get("gan")(config, dataset)
  shape = (config.batch_size, *dataset.example_shape)
  batch = {"x": np.zeros(shape, np.float32), "y": np.zeros(shape[:1], np.int32)}
  # Shapes only: torch's process runs no XLA computation beside its own.
  variables = jax.eval_shape(lambda: algorithm.init_variables(jax.random.key(0), batch))
  ours = {
    name: sum(math.prod(p.shape) for p in jax.tree.leaves(v["params"]))
    for name, v in variables.items()
  }
  theirs = {
    "generator": sum(p.numel() for p in generator.parameters()),
    "discriminator": sum(p.numel() for p in discriminator.parameters()),
  }
  if ours != theirs:
    raise RuntimeError(f"parameter counts differ: jaxgen {ours}, torch {theirs}")


def contender(name: str, precision: str) -> benchmark.Contender | None:
  """The torch step of the config `name`, timed in this process, or None without a twin."""
  config = benchmark.load_config(name, precision)
  step = gan_step(config, benchmark.data_facts(config))
  if step is None:
    return None
  nan = float("nan")
  return benchmark.Contender("torch", 1, config.batch_size, nan, nan, lambda n: sample_ms(step, n))


def serve() -> None:
  """benchmark.TorchWorker's other end. Requests: {"config", "precision"} (answer: {"available"}),
  then {"iters"} (answer: {"ms"}, the ms of each of `iters` steps); input's end ends it."""
  # The answers keep stdout's pipe to themselves: a library's print goes to stderr instead.
  answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
  os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

  def answer(**fields) -> None:
    print(json.dumps(fields), file=answers, flush=True)

  answer(pid=os.getpid(), threads=torch.get_num_threads(), torch=torch.__version__)
  twin = None
  for line in sys.stdin:
    request = json.loads(line)
    if "config" in request:
      twin = contender(request["config"], request["precision"])
      answer(available=twin is not None)
    else:
      answer(ms=twin.run_round(request["iters"]))


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--configs", default="gan_ring8,dcgan_mnist")
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--iters", type=int, default=10, help="timed steps per round")
  parser.add_argument(
    "--threads", type=int, default=0, help="0: as many as the cores jaxgen computes on"
  )
  parser.add_argument("--worker", action="store_true", help="serve scripts/benchmark.py")
  args = parser.parse_args(argv)
  torch.set_num_threads(args.threads or benchmark.xla_cpu_threads())
  if args.worker:
    serve()
    return
  print(f"torch {torch.__version__} alone: pid {os.getpid()}, ", end="")
  print(f"{torch.get_num_threads()} threads; {args.rounds} rounds x {args.iters} steps; ", end="")
  print(benchmark.machine_load())
  for name in args.configs.split(","):
    twin = contender(name, "float32")
    if twin is None:
      print(f"({name}: no PyTorch twin of its networks)")
    else:
      benchmark.report(name, benchmark.race([twin], args.rounds, args.iters), "float32")


if __name__ == "__main__":
  main()
