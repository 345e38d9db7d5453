"""The degradation experiment (He et al. 2016, Sec. 4.2, Fig. 6) on the bundled digits data.

Plain nets (no shortcuts) and residual nets of the CIFAR form (6n + 2 layers, option-A zero-padding
shortcuts, so a plain net and its residual twin have exactly the same parameters) are trained at a
shallow and a deep setting with the same optimizer, budget and batches, over several seeds. The
expected shape: the deep plain net reaches a higher training loss than the shallow plain net, while
the deep residual net does not.

  python scripts/degradation.py                       # the full run: depths 8 and 32, 3 seeds
  python scripts/degradation.py --depths 8 20 32 56   # where does the effect appear?
  python scripts/degradation.py --quick               # a smoke run (~1 min, mostly compilation)

Prints a Markdown table (final training loss, final training accuracy, test accuracy per family and
depth, mean +- std over seeds, std with ddof 0) and writes the training curves and the final loss
against depth to docs/degradation.png (--out).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from jaxgen import optim  # noqa: E402
from jaxgen.data import load_digits  # noqa: E402
from jaxgen.nn.resnet import cifar_resnet  # noqa: E402

FAMILIES = {"plain": "none", "residual": "zero_pad"}
COLORS = {"plain": "tab:red", "residual": "tab:blue"}
NUM_CLASSES = 10


class TrainState(NamedTuple):
  params: optax.Params
  batch_stats: optax.Params
  opt_state: optax.OptState


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean of -log softmax(logits)[label] (the multinomial negative log-likelihood)."""
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def make_steps(model, optimizer: optax.GradientTransformation) -> tuple[Callable, Callable]:
  """Jitted (train_step, evaluate) for one model; reused across seeds, so compiled once."""

  @jax.jit
  def train_step(state: TrainState, images, labels, batch_indices):
    def loss_fn(params):
      logits, updates = model.apply(
        {"params": params, "batch_stats": state.batch_stats},
        images[batch_indices],
        train=True,
        mutable=["batch_stats"],
      )
      return cross_entropy(logits, labels[batch_indices]), updates["batch_stats"]

    (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return TrainState(params, batch_stats, opt_state), loss

  @jax.jit
  def evaluate(state: TrainState, images, labels):
    logits = model.apply(
      {"params": state.params, "batch_stats": state.batch_stats}, images, train=False
    )
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == labels)
    return cross_entropy(logits, labels), accuracy

  return train_step, evaluate


def batch_schedule(seed: int, num_examples: int, batch_size: int, num_steps: int) -> np.ndarray:
  """[num_steps, batch_size] indices: epochs of a seeded permutation, last partial batch dropped."""
  rng = np.random.default_rng(seed)
  per_epoch = num_examples // batch_size
  epochs = -(-num_steps // per_epoch)  # ceil
  perms = [rng.permutation(num_examples)[: per_epoch * batch_size] for _ in range(epochs)]
  return np.concatenate(perms).reshape(-1, batch_size)[:num_steps]


def run_one(optimizer, steps, variables, data, *, seed: int, args) -> dict:
  """Trains one (model, seed) from `variables`; returns its loss curve and final metrics."""
  train_step, evaluate = steps
  (x_train, y_train), (x_test, y_test) = data
  state = TrainState(
    variables["params"], variables["batch_stats"], optimizer.init(variables["params"])
  )
  schedule = batch_schedule(seed, x_train.shape[0], args.batch_size, args.steps)
  losses = []
  for indices in schedule:  # a Python loop of jitted steps (a rolled scan is slow on XLA:CPU)
    state, loss = train_step(state, x_train, y_train, jnp.asarray(indices))
    losses.append(loss)
  losses = np.asarray(jax.device_get(losses), dtype=np.float64)
  train_loss, train_accuracy = evaluate(state, x_train, y_train)
  test_loss, test_accuracy = evaluate(state, x_test, y_test)
  tail = max(1, args.steps // 10)
  return {
    "losses": losses.tolist(),
    # what the optimiser saw: the mean minibatch loss (train-mode BN) over the last 10% of steps
    "final_minibatch_loss": float(np.mean(losses[-tail:])),
    "train_loss": float(train_loss),  # whole training set, eval-mode BN
    "train_accuracy": float(train_accuracy),
    "test_accuracy": float(test_accuracy),
  }


def summarise(results: dict, key: str) -> tuple[float, float]:
  values = np.array([run[key] for run in results])
  return float(values.mean()), float(values.std())


def markdown_table(results: dict[tuple[str, int], list[dict]], num_params: dict) -> str:
  keys = ("final_minibatch_loss", "train_loss", "train_accuracy", "test_accuracy")
  header = (
    "| family | depth | params | final minibatch loss | train loss (eval mode) "
    "| train acc. | test acc. |\n|---|---|---|---|---|---|---|"
  )
  rows = [header]
  for (family, depth), runs in sorted(results.items(), key=lambda item: (item[0][1], item[0][0])):
    cells = []
    for key in keys:
      mean, std = summarise(runs, key)
      cells.append(
        f"{100 * mean:.1f} ± {100 * std:.1f} %" if "accuracy" in key else f"{mean:.4f} ± {std:.4f}"
      )
    rows.append(f"| {family} | {depth} | {num_params[depth]:,} | " + " | ".join(cells) + " |")
  return "\n".join(rows)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
  """Trailing moving average over `window` steps (shorter at the start)."""
  cumulative = np.concatenate([[0.0], np.cumsum(values)])
  ends = np.arange(1, len(values) + 1)
  starts = np.maximum(ends - window, 0)
  return (cumulative[ends] - cumulative[starts]) / (ends - starts)


def plot_results(results, depths: Sequence[int], path: str, window: int) -> None:
  """Left: training-loss curves (mean and min-max band over seeds). Right: final loss vs depth."""
  fig, (curves_ax, depth_ax) = plt.subplots(1, 2, figsize=(11, 4.2), width_ratios=(3, 2))
  styles = ["-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1))]
  for (family, depth), runs in sorted(results.items()):
    curves = np.array([smooth(np.asarray(run["losses"]), window) for run in runs])
    steps = np.arange(1, curves.shape[1] + 1)
    style = styles[list(depths).index(depth) % len(styles)]
    color = COLORS[family]
    curves_ax.plot(steps, curves.mean(0), linestyle=style, color=color, label=f"{family}-{depth}")
    curves_ax.fill_between(steps, curves.min(0), curves.max(0), color=color, alpha=0.12)
  curves_ax.set_yscale("log")
  curves_ax.set_xlabel("step")
  curves_ax.set_ylabel(f"training loss (minibatch, moving average of {window})")
  curves_ax.set_title("Training curves (mean, min-max over seeds)")
  curves_ax.legend(fontsize=8)
  for family in sorted({family for family, _ in results}):
    family_depths = sorted(depth for f, depth in results if f == family)
    stats = [summarise(results[(family, depth)], "final_minibatch_loss") for depth in family_depths]
    means, stds = np.array(stats).T
    depth_ax.errorbar(family_depths, means, yerr=stds, marker="o", capsize=3, color=COLORS[family])
    depth_ax.plot([], [], color=COLORS[family], label=family)
  depth_ax.set_yscale("log")
  depth_ax.set_xlabel("depth (layers)")
  depth_ax.set_ylabel("final training loss (mean of last 10% of steps)")
  depth_ax.set_title("Final training loss vs depth (mean ± std)")
  depth_ax.legend(fontsize=8)
  fig.suptitle("Degradation on digits: plain vs residual nets, same optimizer and budget")
  fig.tight_layout()
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)


def parse_args(argv=None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
  )
  parser.add_argument("--depths", type=int, nargs="+", default=[8, 32], help="6n + 2 depths")
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--batch-size", type=int, default=32)
  parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
  parser.add_argument("--learning-rate", type=float, default=0.05)
  parser.add_argument("--momentum", type=float, default=0.9)
  parser.add_argument("--image-size", type=int, default=8, choices=(8, 16))
  parser.add_argument("--out", default="docs/degradation.png")
  parser.add_argument("--json", default=None, help="also write all curves and metrics here")
  parser.add_argument("--quick", action="store_true", help="2 seeds, 30 steps, depths 8 and 14")
  args = parser.parse_args(argv)
  if args.quick:
    args.depths, args.seeds, args.steps = [8, 14], 2, 30
  for depth in args.depths:
    cifar_resnet(depth)  # raises a ValueError naming the allowed depths
  if args.seeds < 1 or args.steps < 1 or args.batch_size < 1:
    raise ValueError(
      "seeds, steps and batch-size must be >= 1; "
      f"got {args.seeds}, {args.steps}, {args.batch_size}."
    )
  return args


def main(argv=None) -> None:
  args = parse_args(argv)
  data = tuple(load_digits(split, size=args.image_size) for split in ("train", "test"))
  data = jax.device_put(data)
  results, num_params = {}, {}
  started = time.perf_counter()
  for depth in args.depths:
    models = {
      family: cifar_resnet(depth, num_classes=NUM_CLASSES, shortcut=FAMILIES[family])
      for family in args.families
    }
    # Option-A shortcuts have no parameters, so a plain net and its residual twin share one
    # parameter tree: each seed starts both from the same weights (a paired comparison). Eager
    # init: its per-op kernels compile once for all depths, a jitted init would compile per depth;
    # "rbg" keys (XLA's RngBitGenerator) compile several times faster than threefry on CPU.
    initial = [
      cifar_resnet(depth, NUM_CLASSES).init(
        jax.random.key(seed, impl="rbg"), data[0][0][:1], train=False
      )
      for seed in range(args.seeds)
    ]
    num_params[depth] = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(initial[0]["params"]))
    for family, model in models.items():
      optimizer = optim.momentum(args.learning_rate, beta=args.momentum)
      steps = make_steps(model, optimizer)
      t0 = time.perf_counter()
      runs = [
        run_one(optimizer, steps, initial[seed], data, seed=seed, args=args)
        for seed in range(args.seeds)
      ]
      results[(family, depth)] = runs
      mean, _ = summarise(runs, "final_minibatch_loss")
      print(
        f"{family}-{depth}: final minibatch loss {mean:.4f} ({time.perf_counter() - t0:.1f} s)",
        flush=True,
      )
  print(
    f"\ntotal {time.perf_counter() - started:.1f} s; "
    f"{args.steps} steps of batch {args.batch_size}, "
    f"momentum SGD lr {args.learning_rate} beta {args.momentum}, {args.seeds} seeds\n"
  )
  print(markdown_table(results, num_params))
  if args.json:
    with open(args.json, "w") as f:
      json.dump({f"{family}-{depth}": runs for (family, depth), runs in results.items()}, f)
  plot_results(results, args.depths, args.out, window=max(1, args.steps // 20))
  print(f"\nwrote {args.out}")


if __name__ == "__main__":
  main()
