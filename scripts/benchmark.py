"""Times jaxgen's real train step per config, and PyTorch eager's same step in the same run.

  python scripts/benchmark.py [--configs=gan_ring8,dcgan_mnist] [--rounds=5] [--iters=10]
      [--steps-per-call=N] [--seeds=S] [--precision=bfloat16] [--cpu-dot-fusion=individual]
      [--compare-torch] [--torch-threads=T]

Per config and contender it prints: compile s; ms per train step (the median over all timed
steps after warm-up, each waited for with `block_until_ready`, and in brackets the spread of the
per-round medians); samples/s; achieved GFLOP/s from XLA's cost analysis of the compiled step;
and on a GPU or TPU the MFU against the device's peak (`PEAK_TFLOPS`, by device kind). The
contenders take turns round by round, so load from other processes on a shared machine falls on
all of them alike (in expectation); the ratio column is per round, its spread printed beside it.

Contenders: `jaxgen` (one step per call, as `scripts/train.py` runs by default); `jaxgen xN`
(`--steps-per-call=N`: N steps in one `lax.scan` call, the config switch `steps_per_call`);
`jaxgen S seeds` (`--seeds=S`: the step vmapped over S seeds, as the mode-collapse benchmark
trains); `jaxgen, individual dots` (`--cpu-dot-fusion=individual`: the config switch
`cpu_dot_fusion`, each dot a YNNPACK call of its own on XLA:CPU);
`torch` (`--compare-torch`, the `bench` extra: `pip install -e .[bench]`): the same networks,
optimizer and algorithm in PyTorch eager, for the GAN configs whose networks are rebuilt in torch
(`mlp` players and `dcgan` players at 28x28x1). It runs in a process of its own
(`scripts/torch_reference.py --worker`, its pid printed; this process never imports torch) with
`--torch-threads` threads (OMP_NUM_THREADS, MKL_NUM_THREADS and `torch.set_num_threads`; default:
as many as the cores jaxgen's XLA:CPU computes on), and times each round it is asked for itself.

Batches are random arrays of each config's data shape, so a config whose data set is not prepared
here (dcgan_mnist: 28x28x1, batch 64) still runs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from benchmark_layers import sample_ms  # scripts/ is on sys.path when this file runs

from jaxgen import algorithms, data
from jaxgen.algorithms.base import init_train_state, make_train_step
from jaxgen.data.base import HandedData, handed_data
from jaxgen.run import config_check, parallel

SHAPES = {
  "mnist": ((28, 28, 1), 10),
  "fashion_mnist": ((28, 28, 1), 10),
  "cifar10": ((32, 32, 3), 10),
  "celeb_a": ((64, 64, 3), 0),
}

# Dense peak TFLOP/s per chip by device kind (a substring of `device.device_kind`), from the
# vendors' data sheets: (bfloat16, float32 as XLA runs it by default: TF32 on NVIDIA Ampere and
# later, bf16 passes on TPU). MFU = achieved FLOP/s / peak; CPUs have no entry (no MFU printed).
PEAK_TFLOPS = {
  "H200": (989.4, 494.7),  # H200 SXM: as H100 SXM
  "H100": (989.4, 494.7),  # H100 SXM5
  "A100": (312.0, 156.0),
  "L4": (121.0, 60.0),
  "A10G": (70.0, 35.0),
  "V100": (125.0, 15.7),  # fp16 tensor cores; no TF32
  "TPU v4": (275.0, 275.0),
  "TPU v5 lite": (197.0, 197.0),  # v5e
  "TPU v5p": (459.0, 459.0),
  "TPU v6 lite": (918.0, 918.0),  # v6e (Trillium)
}


def peak_flops(device_kind: str, precision: str) -> float | None:
  for kind, (bf16, fp32) in PEAK_TFLOPS.items():
    if kind.lower() in device_kind.lower():
      return 1e12 * (bf16 if precision == "bfloat16" else fp32)
  return None


def load_config(name: str, precision: str):
  config = importlib.import_module(f"jaxgen.configs.{name}").get_config()
  if precision != "float32":
    config.precision = precision
  return config


def xla_cpu_threads() -> int:
  """The cores jaxgen computes on here: XLA:CPU's pool has a thread per CPU this process may use."""
  if hasattr(os, "sched_getaffinity"):
    return len(os.sched_getaffinity(0))
  return os.cpu_count() or 1


def machine_load() -> str:
  return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def data_facts(config):
  """A stand-in with the data set's shape and class count (no files needed)."""
  if config.data.name in SHAPES:
    shape, classes = SHAPES[config.data.name]
    return types.SimpleNamespace(name=config.data.name, example_shape=shape, num_classes=classes)
  return data.get(config.data.name, **dict(config.data.options))


def build_algorithm(config, dataset):
  """The config's algorithm, handed the data's facts (zeros for S_N with a stand-in)."""
  if isinstance(dataset, data.Dataset):
    handed = handed_data(dataset, config.seed, config.batch_size)
  else:
    zeros = lambda num: np.zeros((num, *dataset.example_shape), np.float32)
    handed = HandedData(dataset.name, dataset.example_shape, dataset.num_classes, zeros)
  return algorithms.get(config.algorithm.name)(config, handed)


def make_batches(config, dataset, leading: tuple[int, ...]) -> dict[str, np.ndarray]:
  """Batches [*leading, phases, B, ...]: the data set's own when it is bundled, else random
  arrays of its shape (a TFDS set not prepared here)."""
  count = int(np.prod(leading, dtype=int))
  phases = len(build_algorithm(config, dataset).schedule)
  if config.data.name in SHAPES:
    rng = np.random.default_rng(0)
    shape = (count, phases, config.batch_size)
    batches = {
      "x": rng.uniform(-1, 1, (*shape, *dataset.example_shape)).astype(np.float32),
      "y": rng.integers(0, max(dataset.num_classes, 1), shape).astype(np.int32),
    }
  else:
    # Imported here, after main() has barred torch: jaxgen.run.train's logger (tensorboardX) imports
    # torch whenever it is installed.
    from jaxgen.run.train import phase_batches  # noqa: PLC0415

    per_call = [phase_batches(dataset, config, step, phases) for step in range(count)]
    batches = {k: np.stack([b[k] for b in per_call]) for k in per_call[0]}
  return {k: v.reshape(*leading, *v.shape[1:]) for k, v in batches.items()}


class Contender:
  """A compiled step and its state: `run_round(iters)` runs `iters` calls, each waited for, and
  returns the ms per train step of each."""

  def __init__(self, name, steps_per_call, samples_per_call, compile_s, flops, run_round):
    """`flops`: of one train step (XLA counts a loop's body once, so a scanned call's cost
    analysis is not multiplied out here)."""
    self.name, self.steps_per_call, self.samples_per_call = name, steps_per_call, samples_per_call
    self.compile_s, self.flops, self.run_round = compile_s, flops, run_round
    self.round_ms: list[float] = []  # the median ms per step of each round
    self.all_ms: list[float] = []


def jax_contender(
  config, *, steps_per_call: int = 1, seeds: int = 1, cpu_dot_fusion: str = "default"
) -> Contender:
  """jaxgen's train step of `config` as the loop compiles it, optionally N per call, vmapped or
  with another `cpu_dot_fusion` (parallel.CPU_DOT_FUSIONS)."""
  config_check.check_config(config)
  dataset = data_facts(config)
  algorithm = build_algorithm(config, dataset)
  step = make_train_step(algorithm)
  init = lambda key, batch: init_train_state(algorithm, key, batch)
  leading = ()
  if seeds > 1:
    step, init, leading = jax.vmap(step), jax.vmap(init), (seeds,)
  if steps_per_call > 1:
    step, leading = _scan(step), (steps_per_call, *leading)
  batches = make_batches(config, dataset, leading or (1,))
  batches = jax.tree.map(lambda x: jnp.asarray(x if leading else x[0]), batches)
  first = jax.tree.map(lambda x: x[0] if steps_per_call > 1 else x, batches)
  first = jax.tree.map(lambda x: x[:, 0] if seeds > 1 else x[0], first)  # phase 0
  keys = jnp.stack([jax.random.key(s) for s in range(seeds)]) if seeds > 1 else jax.random.key(0)
  state = jax.jit(init)(keys, first)
  started = time.perf_counter()
  options = parallel.compiler_options(cpu_dot_fusion, parallel.make_mesh())
  compiled = jax.jit(step, donate_argnums=0, compiler_options=options)
  compiled = compiled.lower(state, batches).compile()
  compile_s = time.perf_counter() - started
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, list | tuple) else cost
  flops = float(cost.get("flops", float("nan")))
  box = [state]

  def run_once():
    box[0], metrics = compiled(box[0], batches)
    jax.block_until_ready((box[0], metrics))

  def run_round(iters: int) -> list[float]:
    return [ms / steps_per_call for ms in sample_ms(run_once, iters)]

  name = "jaxgen" + (f" x{steps_per_call}" if steps_per_call > 1 else "")
  name += f", {seeds} seeds" if seeds > 1 else ""
  name += f", {cpu_dot_fusion} dots" if cpu_dot_fusion != "default" else ""
  samples = config.batch_size * seeds * steps_per_call
  return Contender(name, steps_per_call, samples, compile_s, flops, run_round)


def _scan(step: Callable) -> Callable:
  return lambda state, batches: jax.lax.scan(step, state, batches)


class TorchWorker:
  """PyTorch's side in a process of its own, `torch_reference.py --worker`, so that torch's
  runtime and OpenMP threads never share a process with XLA's and its time can be checked against
  a lone torch process. One JSON line per request on its stdin, one answer per line on stdout."""

  def __init__(self, threads: int):
    # OpenMP and MKL size their pools when torch loads, before the worker's set_num_threads.
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    script = Path(__file__).with_name("torch_reference.py")
    self.process = subprocess.Popen(
      [sys.executable, str(script), "--worker", f"--threads={threads}"],
      stdin=subprocess.PIPE,
      stdout=subprocess.PIPE,
      text=True,
      env=env,
    )
    self.facts = self._answer()  # pid, threads, torch version

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.process.stdin.close()  # the worker ends at the end of its input
    self.process.wait()

  def ask(self, **request) -> dict:
    self.process.stdin.write(json.dumps(request) + "\n")
    self.process.stdin.flush()
    return self._answer()

  def _answer(self) -> dict:
    line = self.process.stdout.readline()
    if not line:
      raise RuntimeError(
        f"the torch worker ended (exit status {self.process.wait()}; its error is above); "
        "torch comes with the bench extra: pip install -e .[bench]"
      )
    return json.loads(line)

  def contender(self, name: str, config) -> Contender | None:
    """The same GAN step in PyTorch eager, or None when its networks have no torch twin here."""
    if not self.ask(config=name, precision=config.precision)["available"]:
      return None
    run_round = lambda iters: self.ask(iters=iters)["ms"]
    return Contender("torch", 1, config.batch_size, float("nan"), float("nan"), run_round)


def race(contenders: list[Contender], rounds: int, iters: int) -> list[Contender]:
  """Warms each contender up, then times `rounds` rounds of `iters` calls, taking turns."""
  for contender in contenders:  # warm-up: caches, allocators, torch's first-call work
    contender.run_round(3)
  for _ in range(rounds):
    for contender in contenders:
      times = contender.run_round(iters)
      contender.round_ms.append(statistics.median(times))
      contender.all_ms.extend(times)
  return contenders


def benchmark(name: str, args, torch_worker: TorchWorker | None = None) -> list[Contender]:
  config = load_config(name, args.precision)
  contenders = [jax_contender(config)]
  if args.steps_per_call > 1:
    scanned = jax_contender(config, steps_per_call=args.steps_per_call)
    scanned.flops = contenders[0].flops  # the same steps; the scan's analysis counts one body
    contenders.append(scanned)
  if args.seeds > 1:
    contenders.append(jax_contender(config, seeds=args.seeds))
  if args.cpu_dot_fusion != "default":
    contenders.append(jax_contender(config, cpu_dot_fusion=args.cpu_dot_fusion))
  if torch_worker:
    torch_side = torch_worker.contender(name, config)
    if torch_side is None:
      print(f"({name}: no PyTorch twin of its networks; torch column left out)")
    else:
      contenders.append(torch_side)
  return race(contenders, args.rounds, args.iters)


def report(name: str, contenders: list[Contender], precision: str) -> None:
  device = jax.devices()[0]
  peak = peak_flops(device.device_kind, precision)
  torch_side = next((c for c in contenders if c.name == "torch"), None)
  print(f"\n{name} ({precision})")
  header = "| contender | compile s | ms/step (round medians) | samples/s | GFLOP/s |"
  header += " MFU |" if peak else ""
  header += " time / torch (rounds) |" if torch_side else ""
  print(header)
  print("|---" * (header.count("|") - 1) + "|")
  for c in contenders:
    ms = statistics.median(c.all_ms)
    flops_per_s = c.flops / (ms / 1e3)
    row = (
      f"| {c.name} | {c.compile_s:.1f} | {ms:.2f} ({min(c.round_ms):.2f}-{max(c.round_ms):.2f}) "
      f"| {c.samples_per_call / c.steps_per_call / (ms / 1e3):,.0f} | {flops_per_s / 1e9:.1f} |"
    )
    if peak:
      row += f" {100 * flops_per_s / peak:.1f}% |"
    if torch_side:
      ratios = [a / b for a, b in zip(c.round_ms, torch_side.round_ms, strict=True)]
      row += f" {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |"
    print(row.replace("| nan |", "| - |"))


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--configs", default="gan_ring8,dcgan_digits,dcgan_mnist")
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--iters", type=int, default=10, help="timed calls per contender per round")
  parser.add_argument("--steps-per-call", type=int, default=1)
  parser.add_argument("--seeds", type=int, default=1)
  parser.add_argument("--precision", default="float32", choices=("float32", "bfloat16"))
  parser.add_argument(
    "--cpu-dot-fusion",
    default="default",
    choices=sorted(parallel.CPU_DOT_FUSIONS),
    help="add a contender compiled with this config.cpu_dot_fusion",
  )
  parser.add_argument("--compare-torch", action="store_true")
  parser.add_argument(
    "--torch-threads", type=int, default=0, help="0: as many as the cores jaxgen computes on"
  )
  args = parser.parse_args(argv)
  sys.modules.setdefault("torch", None)  # an import of torch here fails: torch is the worker's
  device = jax.devices()[0]
  print(f"jax {jax.__version__} on {device.device_kind} x{jax.device_count()}; ", end="")
  print(f"{args.rounds} rounds x {args.iters} calls per contender, taking turns; {machine_load()}")
  threads = args.torch_threads or xla_cpu_threads()
  with TorchWorker(threads) if args.compare_torch else contextlib.nullcontext() as torch_worker:
    if torch_worker:
      facts = torch_worker.facts
      print(
        f"torch {facts['torch']} in a process of its own: pid {facts['pid']} (this one: "
        f"{os.getpid()}), {facts['threads']} threads; jaxgen's XLA:CPU: {xla_cpu_threads()} cores"
      )
    for name in args.configs.split(","):
      report(name, benchmark(name, args, torch_worker), args.precision)


if __name__ == "__main__":
  main()
