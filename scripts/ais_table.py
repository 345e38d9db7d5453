"""The table of docs/results/ais.md: held-out log-likelihoods of a VAE, a GAN and a VAE-GAN on the
digits by annealed importance sampling (Wu et al. 2017), beside the VAE's ELBO and IWAE bound.

Reads three trained workdirs (`jaxgen train vae_digits|dcgan_digits|vaegan_digits
--workdir=...`), and for each scores the first --num_examples held-out digits with the "ais"
evaluator's pieces (`jaxgen.evaluators.ais`), under two observation models:
- "decoder": the decoder's own Bernoulli likelihood on the intensities (x + 1) / 2 (VAE, VAE-GAN),
  the ELBO's nats;
- "gaussian": N(x; mean(z), sigma^2 I) in the data's units [-1, 1], sigma chosen from
  --sigma_grid on the last --validation_examples held-out digits (never scored), the model every
  decoder gets in Wu et al.'s comparison of GANs with VAEs; with --dequantization=w the digits
  get U(0, w) noise first (w = 0.125: one of their 17 levels).
Each row also gives BDMC's bracket on --bdmc_examples digits simulated from the model, and the
seconds per scored image of the AIS run (compiled beforehand). Prints a Markdown table and writes
the numbers as JSON (--out).

  python scripts/ais_table.py --vae=W1 --gan=W2 --vaegan=W3 --out=/tmp/ais.json
  python scripts/ais_table.py --vae=W1 --num_examples=4 --steps=10 --bdmc_examples=2   # smoke run
"""

from __future__ import annotations

import argparse
import json
import time
import types

import jax
import jax.numpy as jnp
import numpy as np

import jaxgen
from jaxgen.evaluators.ais import (
  AnnealedImportanceSampling,
  Observation,
  decoder_kind,
  dequantized,
  held_out_splits,
)

IWAE_CHUNK = 500  # importance samples per jitted call


def parse_args():
  """The command line (module docstring)."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  for name in ("vae", "gan", "vaegan"):
    parser.add_argument(f"--{name}", help=f"a trained {name}_digits workdir (optional)")
  parser.add_argument("--num_examples", type=int, default=100)
  parser.add_argument("--steps", type=int, default=1000)
  parser.add_argument("--chains", type=int, default=16)
  parser.add_argument("--leapfrog_steps", type=int, default=10)
  parser.add_argument("--observations", default="decoder,gaussian", help="the rows to score")
  parser.add_argument("--sigma_grid", default="0.025,0.05,0.1,0.2,0.4")
  parser.add_argument(
    "--dequantization", type=float, default=0.0, help="gaussian: U(0, w) noise on the digits"
  )
  parser.add_argument("--validation_examples", type=int, default=20)
  parser.add_argument("--bdmc_examples", type=int, default=10)
  parser.add_argument("--iwae_samples", type=int, default=5000)
  parser.add_argument("--out", default=None, help="a JSON file for the numbers")
  return parser.parse_args()


def evaluator(args, observation: str) -> AnnealedImportanceSampling:
  """The "ais" evaluator with the command line's settings and `observation`."""
  options = types.SimpleNamespace(
    num_examples=args.num_examples,
    chains=args.chains,
    steps=args.steps,
    leapfrog_steps=args.leapfrog_steps,
    schedule="sigmoidal",
    observation=observation,
    sigma="auto",
    sigma_grid=tuple(float(s) for s in args.sigma_grid.split(",")),
    validation_examples=args.validation_examples,
    bdmc_examples=args.bdmc_examples,
    dequantization=args.dequantization if observation == "gaussian" else 0.0,
  )
  return AnnealedImportanceSampling(None, options)


def score(args, run, state, observation_name: str) -> dict:
  """AIS of the held-out digits under one observation model, sigma's choice and BDMC."""
  algorithm = run.algorithm
  scorer = evaluator(args, observation_name)
  kind = decoder_kind(algorithm)
  gaussian = observation_name == "gaussian"
  observation = Observation(algorithm, kind, gaussian, run.config)
  scored, validation = held_out_splits(scorer.options, run.dataset.eval_data(None), gaussian)
  keys = jax.random.split(jax.random.key(0), 4)
  if scorer.options.dequantization:
    scored, validation = dequantized(scorer.options.dequantization, keys[3], scored, validation)
  result, sigma = {"observation": observation_name}, 1.0
  if gaussian:
    start = time.perf_counter()
    grid = scorer.options.sigma_grid
    means = [np.mean(scorer.estimate(observation, state, validation, s, keys[0])[0]) for s in grid]
    sigma = grid[int(np.argmax(means))]
    result |= {"sigma": sigma, "validation": dict(zip(grid, map(float, means), strict=True))}
    result["sigma_seconds"] = time.perf_counter() - start
  # One transition on a batch of the scored shape compiles what the timed run calls.
  warm = AnnealedImportanceSampling(
    None, types.SimpleNamespace(**vars(scorer.options) | {"steps": 1})
  )
  warm.estimate(observation, state, scored, sigma, keys[1])
  start = time.perf_counter()
  log_p, acceptance = scorer.estimate(observation, state, scored, sigma, keys[1])
  seconds = time.perf_counter() - start
  lower, upper = scorer.bracket(observation, state, sigma, keys[2])
  return result | {
    "ais_per_image": log_p.tolist(),
    "ais": float(np.mean(log_p)),
    "ais_se": float(np.std(log_p, ddof=1) / np.sqrt(len(log_p))),
    "acceptance": acceptance,
    "seconds_per_image": seconds / len(log_p),
    "bdmc_lower": lower,
    "bdmc_upper": upper,
  }


def vae_bounds(args, run, state) -> dict:
  """The VAE's ELBO (100 draws of z per example) and IWAE bound with --iwae_samples samples, on the
  scored digits (Kingma & Welling 2014, eq. 10; Burda et al. 2016, eq. 8)."""
  vae = run.algorithm
  x = jnp.asarray(run.dataset.eval_data(None)["x"][: args.num_examples])
  elbo = jax.jit(vae.elbo, static_argnums=3)(state, x, jax.random.key(1), 100)
  weights = jax.jit(vae.log_importance_weights, static_argnums=3)
  chunks = -(-args.iwae_samples // IWAE_CHUNK)
  log_w = jnp.concatenate(
    [weights(state, x, jax.random.key(100 + i), IWAE_CHUNK) for i in range(chunks)]
  )[: args.iwae_samples]
  iwae = jax.nn.logsumexp(log_w, axis=0) - np.log(log_w.shape[0])
  se = lambda v: float(np.std(v, ddof=1) / np.sqrt(len(v)))
  return {
    "iwae_per_image": np.asarray(iwae, np.float64).tolist(),
    "elbo": float(np.mean(elbo)),
    "elbo_se": se(np.asarray(elbo)),
    "iwae": float(np.mean(iwae)),
    "iwae_se": se(np.asarray(iwae)),
    "iwae_samples": int(log_w.shape[0]),
  }


def row(name: str, step: int, result: dict, bounds: dict | None) -> str:
  """One Markdown row."""
  sigma = f"{result['sigma']:g}" if "sigma" in result else "—"
  elbo = f"{bounds['elbo']:.2f}" if bounds and result["observation"] == "decoder" else "—"
  iwae = f"{bounds['iwae']:.2f}" if bounds and result["observation"] == "decoder" else "—"
  gap = result["bdmc_upper"] - result["bdmc_lower"]
  return (
    f"| {name} ({step} steps) | {result['observation']} | {sigma} | {elbo} | {iwae} | "
    f"{result['ais']:.2f} ± {result['ais_se']:.2f} | {result['bdmc_lower']:.2f} / "
    f"{result['bdmc_upper']:.2f} ({gap:.2f}) | {result['acceptance']:.2f} | "
    f"{result['seconds_per_image']:.2f} |"
  )


def main():
  """Scores the given workdirs, prints the table, writes the JSON."""
  args = parse_args()
  models = [("VAE", args.vae, ("decoder", "gaussian")), ("GAN", args.gan, ("gaussian",))]
  models.append(("VAE-GAN", args.vaegan, ("decoder", "gaussian")))
  print(
    "| model | p(x\\|z) | sigma | ELBO | IWAE | AIS (± s.e.) | BDMC lower / upper (gap) | "
    "acceptance | s / image |"
  )
  print("|---|---|---|---|---|---|---|---|---|")
  records = {}
  chosen = args.observations.split(",")
  for name, workdir, observations in models:
    observations = [o for o in observations if o in chosen]
    if workdir is None or not observations:
      continue
    run, state = jaxgen.load(workdir)
    bounds = vae_bounds(args, run, state) if name == "VAE" and "decoder" in chosen else None
    records[name] = {"step": int(state.step), "bounds": bounds, "scores": []}
    for observation in observations:
      result = score(args, run, state, observation)
      records[name]["scores"].append(result)
      print(row(name, int(state.step), result, bounds), flush=True)
  settings = {k: v for k, v in vars(args).items() if k not in ("vae", "gan", "vaegan", "out")}
  if args.out:
    with open(args.out, "w") as f:
      json.dump({"settings": settings, "models": records}, f, indent=2)


if __name__ == "__main__":
  main()
