"""VAE-GAN's gamma sweep on the digits: what the decoder's weight on L_llike^Dis_l trades.

Larsen et al. 2016 (sec. 2.3) weight the decoder's content term, gamma * L_llike^Dis_l, against its
style term, -L_GAN. For each gamma this trains `vaegan_digits` (same seed, same batches) and reports
on the 360 held-out digits:
- pixel error: mean squared error per pixel of Dec(mean of q(z|x)) against x, images in [-1, 1];
- Dis_l error: mean squared error per feature between Dis_l(x) and Dis_l(x~), each run measured
  with its own discriminator (inference mode);
- KL: mean KL(q(z|x) || N(0, I)) in nats, how much the code carries;
- FID of 1000 samples Dec(z), z ~ N(0, I), and FID of the reconstructions, both against the
  digits training split with the shipped digits classifier (`jaxgen.metrics`).

  python scripts/gamma_sweep.py                    # gammas 0, 1e-3, ..., 10; 2000 steps each
  python scripts/gamma_sweep.py --quick            # a smoke run
  python scripts/gamma_sweep.py --gammas 0 0.01 1 --steps 3000

Runs resume from their workdirs (--workdir/gamma_<g>). Prints a Markdown table, writes it with the
numbers as JSON (--json) and the curves and one row of reconstructions per gamma as a PNG (--out).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from vaegan_showcase import show_image_rows  # noqa: E402  (scripts/ is on sys.path)

from jaxgen import losses, metrics  # noqa: E402
from jaxgen.configs import vaegan_digits  # noqa: E402
from jaxgen.data import load_digits  # noqa: E402
from jaxgen.run import train

COLUMNS = ("pixel_mse", "dis_l_mse", "kl", "fid_samples", "fid_reconstructions")


def run_config(gamma: float, steps: int, num_samples: int):
  config = vaegan_digits.get_config()
  config.algorithm.gamma = gamma
  config.num_steps = steps
  config.eval_every = steps
  config.checkpoint_every = steps
  config.eval.num_samples = num_samples
  config.progress_bar = False
  return config


def measure(gamma: float, args, evaluator) -> tuple[dict[str, float], np.ndarray]:
  """Trains (or resumes) the run of `gamma`; returns its figures and its test reconstructions."""
  config = run_config(gamma, args.steps, args.num_samples)
  started = time.perf_counter()
  state = train.train_and_evaluate(config, Path(args.workdir) / f"gamma_{gamma:g}")
  run = train.Run(config)
  algorithm = run.algorithm
  x = run.dataset.eval_data()["x"]
  mean, log_variance = jax.jit(algorithm.encode)(state, x)
  reconstructions = np.asarray(jax.jit(algorithm.decode)(state, mean))
  features = jax.jit(algorithm.features)
  samples = run.sample(state, args.num_samples, seed=config.seed + 1)
  figures = {
    "gamma": gamma,
    "pixel_mse": float(np.mean((reconstructions - x) ** 2)),
    "dis_l_mse": float(np.mean((features(state, x) - features(state, reconstructions)) ** 2)),
    "kl": float(np.mean(losses.gaussian_kl_standard_normal(mean, log_variance))),
    "fid_samples": evaluator(samples)["fid"],
    "fid_reconstructions": evaluator(reconstructions)["fid"],
    "seconds": time.perf_counter() - started,
  }
  return figures, reconstructions


def markdown_table(rows: list[dict[str, float]]) -> str:
  header = "| gamma | pixel MSE | Dis_l MSE | KL (nats) | FID samples | FID recon. |"
  lines = [header, "|---|---|---|---|---|---|"]
  for row in rows:
    values = " | ".join(f"{row[c]:.4g}" for c in COLUMNS)
    lines.append(f"| {row['gamma']:g} | {values} |")
  return "\n".join(lines)


def save_figure(rows, reconstructions, originals, path: Path) -> None:
  gammas = [row["gamma"] for row in rows]
  fig = plt.figure(figsize=(12, 4 + 0.45 * (len(rows) + 1)))
  grid = fig.add_gridspec(2, 3, height_ratios=[3, 0.45 * (len(rows) + 1)], hspace=0.35)
  panels = [
    ("pixel_mse", "pixel MSE (content)"),
    ("dis_l_mse", "Dis_l MSE (own D)"),
    (("fid_samples", "fid_reconstructions"), "FID (digits classifier)"),
  ]
  for column, (keys, title) in enumerate(panels):
    ax = fig.add_subplot(grid[0, column])
    for key in (keys,) if isinstance(keys, str) else keys:
      ax.plot(gammas, [row[key] for row in rows], "o-", label=key)
    ax.set_xscale("symlog", linthresh=min([g for g in gammas if g > 0], default=1e-3))
    ax.set_xlabel("gamma")
    ax.set_title(title)
    if not isinstance(keys, str):
      ax.legend(fontsize=8)
  shown = {"originals": originals}
  shown.update((f"gamma={g:g}", r) for g, r in zip(gammas, reconstructions, strict=True))
  show_image_rows(fig.add_subplot(grid[1, :]), shown)
  fig.suptitle("VAE-GAN on digits: the decoder's weight gamma on L_llike^Dis_l")
  fig.savefig(path, dpi=100, bbox_inches="tight")
  plt.close(fig)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--gammas", type=float, nargs="+", default=[0, 1e-3, 1e-2, 1e-1, 1, 10])
  parser.add_argument("--steps", type=int, default=2000)
  parser.add_argument("--num-samples", type=int, default=1000)
  parser.add_argument("--workdir", default="workdirs/gamma_sweep")
  parser.add_argument("--out", default="docs/gamma_sweep.png")
  parser.add_argument("--json", default="workdirs/gamma_sweep/gamma_sweep.json")
  parser.add_argument("--quick", action="store_true", help="two gammas, 30 steps, 200 samples")
  args = parser.parse_args()
  if args.quick:
    args.gammas, args.steps, args.num_samples = [0.0, 1e-2], 30, 200
    args.workdir = f"{args.workdir}_quick"
  if any(g < 0 for g in args.gammas) or args.steps < 1 or args.num_samples < 2:
    parser.error("gammas must be >= 0, --steps >= 1 and --num-samples >= 2.")

  evaluator = metrics.ImageEvaluator(
    metrics.get_extractor("digits_classifier"), load_digits("train", 16)[0], kid_subsets=10
  )
  rows, reconstructions = [], []
  for gamma in sorted(args.gammas):
    figures, images = measure(gamma, args, evaluator)
    rows.append(figures)
    reconstructions.append(images[:12])
    print(markdown_table(rows[-1:]).splitlines()[-1], flush=True)
  table = markdown_table(rows)
  print(f"\nVAE-GAN gamma sweep, {args.steps} steps per run:\n{table}")
  feature_dim = evaluator.extractor.feature_dim
  print(f"FIDs on the digits classifier's {feature_dim}-d features, not Inception's.")
  originals = load_digits("test", 16)[0][:12]
  for path in (args.out, args.json):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
  save_figure(rows, reconstructions, originals, Path(args.out))
  Path(args.json).write_text(json.dumps({"steps": args.steps, "rows": rows}, indent=2) + "\n")
  print(f"wrote {args.out} and {args.json}")


if __name__ == "__main__":
  main()
