"""Times the jitted train step of jaxgen configs: compile time, median ms/iteration, GFLOP/s.

  python scripts/benchmark.py [--configs=gan_ring8,dcgan_digits,dcgan_mnist] [--iters=20]
      [--precision=float32|bfloat16]

Batches are random arrays of each config's data shape, so a config whose data set is not prepared
here (dcgan_mnist: 28x28x1, batch 64, the PyTorch comparison of scripts/benchmark_torch.py) still
runs. FLOPs come from XLA's cost analysis of the compiled step.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
import types

import jax
import numpy as np

from jaxgen import algorithms, data
from jaxgen.algorithms.base import init_train_state, make_train_step

SHAPES = {
  "mnist": ((28, 28, 1), 10),
  "fashion_mnist": ((28, 28, 1), 10),
  "cifar10": ((32, 32, 3), 10),
  "celeb_a": ((64, 64, 3), 0),
}


def data_facts(config):
  """A stand-in with the data set's shape and class count (no files needed)."""
  if config.data.name in SHAPES:
    shape, classes = SHAPES[config.data.name]
    return types.SimpleNamespace(name=config.data.name, example_shape=shape, num_classes=classes)
  return data.get(config.data.name, **dict(config.data.options))


def benchmark(name: str, iters: int, precision: str = "float32") -> dict[str, float]:
  config = importlib.import_module(f"jaxgen.configs.{name}").get_config()
  config.precision = precision  # jaxgen.nn.precision: the dtype the networks compute in
  dataset = data_facts(config)
  algorithm = algorithms.get(config.algorithm.name)(config, dataset)
  phases = len(algorithm.schedule)
  rng = np.random.default_rng(0)
  batches = {
    "x": rng.uniform(-1, 1, (phases, config.batch_size, *dataset.example_shape)).astype(np.float32),
    "y": rng.integers(0, max(dataset.num_classes, 1), (phases, config.batch_size)).astype(np.int32),
  }
  first = jax.tree.map(lambda x: x[0], batches)
  state = jax.jit(lambda key: init_train_state(algorithm, key, first))(jax.random.key(0))
  step = jax.jit(make_train_step(algorithm), donate_argnums=0)
  started = time.perf_counter()
  compiled = step.lower(state, batches).compile()
  compile_s = time.perf_counter() - started
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, list | tuple) else cost
  flops = float(cost.get("flops", float("nan")))
  for _ in range(3):  # warm-up
    state, metrics = compiled(state, batches)
  jax.block_until_ready(metrics)
  times = []
  for _ in range(iters):
    started = time.perf_counter()
    state, metrics = compiled(state, batches)
    jax.block_until_ready((state, metrics))
    times.append(time.perf_counter() - started)
  median = statistics.median(times)
  return {
    "compile_s": compile_s,
    "ms": 1e3 * median,
    "gflops": flops / median / 1e9,
    "steps_per_s": 1 / median,
  }


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--configs", default="gan_ring8,dcgan_digits,cgan_digits,dcgan_mnist")
  parser.add_argument("--iters", type=int, default=20)
  parser.add_argument("--precision", default="float32", choices=("float32", "bfloat16"))
  args = parser.parse_args()
  print(f"jax {jax.__version__} on {jax.devices()[0].device_kind} x{jax.device_count()}")
  print(f"precision {args.precision}")
  print("| config | compile s | median ms/step | steps/s | GFLOP/s |")
  print("|---|---|---|---|---|")
  for name in args.configs.split(","):
    r = benchmark(name, args.iters, args.precision)
    print(
      f"| {name} | {r['compile_s']:.1f} | {r['ms']:.1f} | {r['steps_per_s']:.1f} | "
      f"{r['gflops']:.1f} |"
    )


if __name__ == "__main__":
  main()
