"""Sparse codes: the spike-and-slab VAE (Tonolini et al. 2019) vs the Gaussian VAE on the digits.

Trains `vae_digits` and `sparse_vae_digits` (same networks, budget, optimizer and batches; resumed
from --workdir when already there) for each seed, and on the held-out digits measures: the ELBO and
the IWAE bound (k = 100) in nats per image, the pixel MSE of the reconstructions Dec(code(x)), and
the sparsity of the codes: the fraction of the latent coordinates with |code_j| < 0.01 per image
(the VAE's code is the mean of q(z|x); the sparse VAE's is mu_j where gamma_j > 1/2, else 0), the
mean number of the others per image, for the sparse VAE the fraction with gamma_j < 1/2 and of
exact posterior draws equal to 0, and the active units of Burda et al. 2016 (sec. 5.2: coordinates
whose code varies across the test images, Cov_x(code_j) > 0.01). Prints a Markdown table (mean ±
std over seeds) and writes a picture (--out) of seed 0: the codes of 40 test images and the
histogram of all code values, per model.

  python scripts/sparse_vae_codes.py                  # seed 0, 3000 steps each
  python scripts/sparse_vae_codes.py --seeds 0 1 2
  python scripts/sparse_vae_codes.py --quick          # a smoke run
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from jaxgen.configs import sparse_vae_digits, vae_digits  # noqa: E402
from jaxgen.data import load_digits  # noqa: E402
from jaxgen.run import train  # noqa: E402

MODELS = {"VAE": vae_digits, "sparse VAE": sparse_vae_digits}
ZERO = 0.01  # |code_j| below this counts as zero
ACTIVE_UNIT_VARIANCE = 0.01  # Burda et al. 2016, sec. 5.2
IWAE_K = 100
INFORMATIVE_NATS = 0.1  # a coordinate with KL(q(z_j|x) || p(z_j)) above this carries information
NUM_SHOWN = 40


def trained(name: str, seed: int, args):
  config = MODELS[name].get_config()
  config.seed = seed
  config.num_steps = args.steps
  config.eval_every = args.steps
  config.checkpoint_every = args.steps
  config.eval.num_samples = 64
  config.progress_bar = False
  workdir = Path(args.workdir) / f"{name.lower().replace(' ', '_')}_seed{seed}"
  state = train.train_and_evaluate(config, workdir)
  return train.Run(config).algorithm, state


def measure(algorithm, state, x, seed: int) -> tuple[dict[str, float], np.ndarray]:
  """The held-out figures of one model (see the module docstring) and its codes [N, d]."""
  rng = jax.random.key(seed)
  code = np.asarray(jax.jit(algorithm.code)(state, x))
  reconstructions = np.asarray(jax.jit(algorithm.reconstruct)(state, x))
  elbo = jax.jit(algorithm.elbo, static_argnums=3)(state, x, rng, 10)
  iwae = jax.jit(algorithm.iwae_bound, static_argnums=3)(
    state, x, jax.random.fold_in(rng, 1), IWAE_K
  )
  zero = np.abs(code) < ZERO
  posterior = algorithm.encode(state, x)
  # KL(q(z_j|x) || p(z_j)) per image and coordinate: each coordinate as an example of one latent
  per_coordinate = [jnp.reshape(a, (-1, 1)) for a in posterior]
  kl = np.asarray(algorithm.posterior_kl(*per_coordinate)).reshape(code.shape)
  result = {
    "elbo": float(jnp.mean(elbo)),
    f"iwae_{IWAE_K}": float(jnp.mean(iwae)),
    "pixel_mse": float(np.mean((reconstructions - x) ** 2)),
    "zero_fraction": float(np.mean(zero)),
    "nonzero_per_image": float(np.mean(np.sum(~zero, axis=1))),
    "active_units": int(np.sum(np.var(code, axis=0) > ACTIVE_UNIT_VARIANCE)),
    "informative_per_image": float(np.mean(np.sum(kl > INFORMATIVE_NATS, axis=1))),
    "kl": float(np.mean(np.sum(kl, axis=1))),
  }
  if hasattr(algorithm, "slab_probabilities"):
    gamma = np.asarray(jax.jit(algorithm.slab_probabilities)(state, x))
    draws = np.asarray(algorithm.posterior_sample(jax.random.fold_in(rng, 2), posterior, 10))
    result["gamma_below_half"] = float(np.mean(gamma < 0.5))
    result["mean_gamma"] = float(np.mean(gamma))
    result["draws_exactly_zero"] = float(np.mean(draws == 0.0))
  return result, code


def picture(codes: dict[str, np.ndarray], labels: np.ndarray, out: str, steps: int) -> None:
  """Per model: the codes of NUM_SHOWN test images sorted by digit, and the histogram of codes."""
  order = np.argsort(labels[:NUM_SHOWN], kind="stable")
  fig, axes = plt.subplots(2, len(codes), figsize=(5 * len(codes), 7.5), height_ratios=(3, 2))
  limit = max(float(np.max(np.abs(c[:NUM_SHOWN]))) for c in codes.values())
  for column, (name, code) in enumerate(codes.items()):
    ax = axes[0, column]
    image = ax.imshow(
      code[:NUM_SHOWN][order], cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto"
    )
    ax.set_yticks(range(len(order)), labels[:NUM_SHOWN][order], fontsize=6)
    ax.set_ylabel("test image (its digit)")
    ax.set_xlabel("latent coordinate")
    zero = float(np.mean(np.abs(code) < ZERO))
    ax.set_title(f"{name}: codes ({zero:.0%} of |z_j| < {ZERO} on the test set)")
    fig.colorbar(image, ax=ax, fraction=0.04)
    ax = axes[1, column]
    ax.hist(code.ravel(), bins=np.linspace(-limit, limit, 81), log=True, color="C0")
    ax.set_xlabel("code value z_j (all test images, all coordinates)")
    ax.set_ylabel("count (log)")
  fig.suptitle(f"held-out digits, seed 0, {steps} training steps per model")
  fig.tight_layout()
  Path(out).parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(out, dpi=100)
  plt.close(fig)


def table(results: dict[str, list[dict[str, float]]]) -> str:
  keys = sorted({key for runs in results.values() for run in runs for key in run})
  keys = [k for k in MEASURES if k in keys]
  lines = [
    "| model | " + " | ".join(MEASURES[k] for k in keys) + " |",
    "|---" * (len(keys) + 1) + "|",
  ]
  for name, runs in results.items():
    cells = []
    for key in keys:
      values = np.array([run[key] for run in runs if key in run], float)
      if values.size == 0:
        cells.append("–")
      elif len(runs) == 1:
        cells.append(f"{values[0]:.4g}")
      else:
        cells.append(f"{values.mean():.4g} ± {values.std(ddof=1):.2g}")
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


MEASURES = {
  "elbo": "ELBO",
  f"iwae_{IWAE_K}": f"IWAE k={IWAE_K}",
  "pixel_mse": "pixel MSE",
  "zero_fraction": f"|code| < {ZERO}",
  "nonzero_per_image": "non-zero dims / image",
  "active_units": "active units (of 16)",
  "informative_per_image": f"dims with KL_j > {INFORMATIVE_NATS} / image",
  "kl": "KL",
  "gamma_below_half": "γ < ½",
  "mean_gamma": "mean γ",
  "draws_exactly_zero": "draws = 0",
}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=3000)
  parser.add_argument("--seeds", type=int, nargs="+", default=[0])
  parser.add_argument("--workdir", default="workdirs/sparse_vae_codes")
  parser.add_argument("--out", default="docs/sparse_vae_codes.png")
  parser.add_argument("--quick", action="store_true", help="30 steps")
  args = parser.parse_args()
  if args.quick:
    args.steps, args.workdir = 30, f"{args.workdir}_quick"
  if args.steps < 1:
    parser.error("--steps must be >= 1.")

  x, labels = load_digits("test", 16)
  results, codes = {name: [] for name in MODELS}, {}
  for seed in args.seeds:
    for name in MODELS:
      algorithm, state = trained(name, seed, args)
      result, code = measure(algorithm, state, x, seed)
      results[name].append(result)
      print(name, seed, json.dumps(result), flush=True)
      if seed == args.seeds[0]:
        codes[name] = code
  picture(codes, np.asarray(labels), args.out, args.steps)
  print(f"\n{args.steps} steps per model, seeds {args.seeds}; held-out digits ({len(x)} images)")
  print(table(results))
  summary = {"steps": args.steps, "seeds": args.seeds, **results}
  (Path(args.workdir) / "codes.json").write_text(json.dumps(summary, indent=2) + "\n")
  print(f"wrote {args.out} and {Path(args.workdir) / 'codes.json'}")


if __name__ == "__main__":
  main()
