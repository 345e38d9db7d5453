"""Blurry VAE vs sharp VAE-GAN on the digits: reconstructions, samples, a latent interpolation.

Trains `vae_digits` and `vaegan_digits` (same encoder and decoder networks, same seed and batches;
resumed from --workdir when already there) and writes one PNG (--out) with, in rows: held-out
originals, VAE reconstructions, VAE-GAN reconstructions, VAE samples, VAE-GAN samples, and the
decoded straight line between the codes of two held-out digits for each model. Prints a Markdown
table of FID (samples and reconstructions, shipped digits classifier, against the training split),
the per-pixel reconstruction MSE, and for the VAE its held-out ELBO and IWAE bounds (Burda et al.
2016) in nats, beside the FID floor FID(train, test).

  python scripts/vaegan_showcase.py                # 3000 steps each (minutes on a 2-core CPU)
  python scripts/vaegan_showcase.py --quick        # a smoke run
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

from jaxgen import metrics  # noqa: E402
from jaxgen.configs import vae_digits, vaegan_digits  # noqa: E402
from jaxgen.data import load_digits  # noqa: E402
from jaxgen.run import plots, train

MODELS = {"VAE": vae_digits, "VAE-GAN": vaegan_digits}
NUM_SHOWN = 12
IWAE_SAMPLES = (1, 10, 100)
KINDS = ("reconstructions", "samples", "interpolation")


def show_image_rows(ax, rows: dict[str, np.ndarray]) -> None:
  """One labelled row per entry of `rows` ([N, H, W, 1] images in [-1, 1], N equal) on `ax`."""
  images = list(rows.values())
  ax.imshow(plots.image_grid(np.concatenate(images), len(images[0])).squeeze(-1), cmap="gray")
  height = images[0].shape[1] + 1  # image_grid puts a 1-pixel border between images
  ax.set_yticks([(i + 0.5) * height for i in range(len(rows))], list(rows))
  ax.set_xticks([])


def trained(name: str, args):
  config = MODELS[name].get_config()
  config.num_steps = args.steps
  config.eval_every = args.steps
  config.checkpoint_every = args.steps
  config.eval.num_samples = args.num_samples
  config.progress_bar = False
  state = train.train_and_evaluate(config, Path(args.workdir) / name.lower().replace("-", ""))
  return train.Run(config), state


def interpolation(algorithm, state, x_from, x_to, num: int):
  """Dec((1 - t) z_a + t z_b) for t in [0, 1], z the means of q(z|x) of the two images."""
  (z_a, _), (z_b, _) = algorithm.encode(state, x_from[None]), algorithm.encode(state, x_to[None])
  t = jnp.linspace(0.0, 1.0, num)[:, None]
  return algorithm.decode(state, (1 - t) * z_a + t * z_b)


def vae_bounds(run, state, x, seed: int) -> dict[str, float]:
  """Held-out ELBO (closed-form KL, 10 draws) and IWAE bounds, nats per image, mean over images."""
  algorithm, rng = run.algorithm, jax.random.key(seed)
  elbo = jax.jit(algorithm.elbo, static_argnums=3)(state, x, rng, 10)
  bounds = {"elbo": float(jnp.mean(elbo))}
  iwae = jax.jit(algorithm.iwae_bound, static_argnums=3)
  for k in IWAE_SAMPLES:
    bounds[f"iwae_{k}"] = float(jnp.mean(iwae(state, x, jax.random.fold_in(rng, k), k)))
  return bounds


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=3000)
  parser.add_argument("--num-samples", type=int, default=1000)
  parser.add_argument("--workdir", default="workdirs/vaegan_showcase")
  parser.add_argument("--out", default="docs/vaegan_showcase.png")
  parser.add_argument("--quick", action="store_true", help="30 steps, 200 samples")
  args = parser.parse_args()
  if args.quick:
    args.steps, args.num_samples, args.workdir = 30, 200, f"{args.workdir}_quick"
  if args.steps < 1 or args.num_samples < 2:
    parser.error("--steps must be >= 1 and --num-samples >= 2.")

  evaluator = metrics.ImageEvaluator(
    metrics.get_extractor("digits_classifier"), load_digits("train", 16)[0], kid_subsets=10
  )
  x = load_digits("test", 16)[0]
  rows, results = {"originals": x[:NUM_SHOWN]}, {}
  for name in MODELS:
    run, state = trained(name, args)
    reconstructions = np.asarray(jax.jit(run.algorithm.reconstruct)(state, x))
    samples = run.sample(state, args.num_samples, seed=run.config.seed + 1)
    results[name] = {
      "fid_samples": evaluator(samples)["fid"],
      "fid_reconstructions": evaluator(reconstructions)["fid"],
      "pixel_mse": float(np.mean((reconstructions - x) ** 2)),
    }
    if name == "VAE":
      results[name].update(vae_bounds(run, state, x, run.config.seed))
    rows[f"{name} reconstructions"] = reconstructions[:NUM_SHOWN]
    rows[f"{name} samples"] = samples[:NUM_SHOWN]
    rows[f"{name} interpolation"] = interpolation(run.algorithm, state, x[0], x[1], NUM_SHOWN)
  floor = metrics.digits_fid_bounds()["fid_train_test"]

  order = ["originals"] + [f"{m} {kind}" for kind in KINDS for m in MODELS]
  Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  fig, ax = plt.subplots(figsize=(8, 0.62 * len(order) + 0.6))
  show_image_rows(ax, {key: rows[key] for key in order})
  ax.set_title(f"held-out digits; {args.steps} training steps per model")
  fig.savefig(args.out, dpi=100, bbox_inches="tight")
  plt.close(fig)
  print(
    f"\n{args.steps} steps per model; FIDs on the digits classifier's "
    f"{evaluator.extractor.feature_dim}-d features (not Inception's), floor FID(train, test) = "
    f"{floor:.2f}"
  )
  print(
    "| model | FID samples | FID recon. | pixel MSE | ELBO | "
    + " | ".join(f"IWAE k={k}" for k in IWAE_SAMPLES)
    + " |"
  )
  print("|---" * (4 + 1 + len(IWAE_SAMPLES)) + "|")
  for name, r in results.items():
    bounds = [r.get("elbo")] + [r.get(f"iwae_{k}") for k in IWAE_SAMPLES]
    cells = [f"{r['fid_samples']:.2f}", f"{r['fid_reconstructions']:.2f}", f"{r['pixel_mse']:.4f}"]
    cells += ["-" if b is None else f"{b:.2f}" for b in bounds]
    print(f"| {name} | " + " | ".join(cells) + " |")
  summary = {"steps": args.steps, "fid_floor": floor, **results}
  (Path(args.workdir) / "showcase.json").write_text(json.dumps(summary, indent=2) + "\n")
  print(f"wrote {args.out} and {Path(args.workdir) / 'showcase.json'}")


if __name__ == "__main__":
  main()
