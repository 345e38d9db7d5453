"""Mode collapse on ring8 and grid25: every GAN objective and the main stabilisers, several seeds.

  python scripts/mode_collapse_benchmark.py --quick            # a few minutes on 2 CPU cores
  python scripts/mode_collapse_benchmark.py                    # --preset=medium: the docs' table
  python scripts/mode_collapse_benchmark.py --preset=full      # PacGAN's 400 epochs, 10 seeds

Setup of PacGAN (Lin et al. 2018, sec. 5.1 and Table 1; their code fjxmlzn/PacGAN): G 4 x 400
ReLU + batch norm, z_dim 2; D maxout 3 x 200 with 5 pieces; Adam lr 1e-4, beta1 0.8; batch 100
(of packs, for PacGAN-m); 100k training samples; metrics on 2500 samples (modes captured,
high-quality share, reverse KL; `jaxgen.metrics.mode_coverage`). Each method starts from its
config in `jaxgen/configs/` (`gan_zoo_ring8` plus the method's switches) with PacGAN's networks,
batch and data; objectives keep their papers' optimizers (WGAN: RMSProp 5e-5 and n_critic 5,
WGAN-GP: Adam(1e-4, 0, 0.9) and n_critic 5), the others PacGAN's Adam.

All seeds of a method train at once: the train step and the initialisation are `jax.vmap`-ed over
the seeds and `lax.scan` runs `--chunk` steps per call, so each method compiles once. Writes
`results.json` and `table.md` to `--output`, and one scatter grid of the final samples (seed 0)
per data set to `--figures` (docs/mode_collapse_<data>.png). Each finished method is saved at
once (`results.json`, `final_samples.npz`, `settings.json`): the same command run again after an
interruption, or with more methods, trains only what is missing; other settings into the same
`--output` are refused.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import pkgutil
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

from jaxgen import algorithms, data, metrics
from jaxgen.algorithms.base import init_train_state, make_train_step
from jaxgen.run.overrides import apply_overrides
from jaxgen.run.train import phase_batches

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt  # noqa: E402

# method -> (config module, {dotted key: value} overrides of that config).
METHODS = {
  "GAN": ("gan_zoo_ring8", {}),
  "GAN (minimax)": ("gan_zoo_ring8", {"algorithm.loss": "minimax"}),
  "WGAN": ("wgan_ring8", {}),
  "WGAN-GP": ("wgan_gp_ring8", {}),
  "DRAGAN": ("dragan_ring8", {}),
  "LSGAN": ("lsgan_ring8", {}),
  "hinge + SN": ("hinge_ring8", {}),
  "R1": ("r1_ring8", {}),
  "RaSGAN": ("ragan_ring8", {}),
  "RaLSGAN": ("ragan_ring8", {"algorithm.loss": "ralsgan"}),
  "Unrolled GAN (K=5)": ("unrolled_ring8", {}),
  "PacGAN2": ("pacgan_ring8", {}),
  "PacGAN3": ("pacgan_ring8", {"algorithm.stabilisers.packing": 3, "batch_size": 300}),
  "PacGAN4": ("pacgan_ring8", {"algorithm.stabilisers.packing": 4, "batch_size": 400}),
  "MAD-GAN (k=4)": ("madgan_ring8", {}),
  # S_N of 2,000 points: the vmapped seeds run the reweighting pass over S_N at every step.
  "AdaGAN (T=4)": ("adagan_ring8", {"algorithm.training_set_size": 2000}),
  "EBGAN-PT": ("ebgan_ring8", {}),
  "BEGAN": ("began_ring8", {}),
  "GAN + label smoothing 0.1": ("gan_zoo_ring8", {"algorithm.stabilisers.label_smoothing": 0.1}),
  "GAN + instance noise": ("gan_zoo_ring8", {"algorithm.stabilisers.instance_noise": 0.1}),
  "GAN + feature matching": ("gan_zoo_ring8", {"algorithm.stabilisers.feature_matching": True}),
  "GAN + minibatch discr.": (
    "gan_zoo_ring8",
    {"algorithm.stabilisers.minibatch_discrimination": 50},
  ),
  "GAN + historical avg.": ("gan_zoo_ring8", {"algorithm.stabilisers.historical_averaging": 1e-3}),
  "GAN + replay": ("gan_zoo_ring8", {"algorithm.stabilisers.replay_fraction": 0.5}),
  "GAN + spectral norm": ("gan_zoo_ring8", {"algorithm.stabilisers.spectral_norm": True}),
  "GAN + TTUR (D 4e-4, G 1e-4)": ("gan_zoo_ring8", {"optimizer.discriminator.learning_rate": 4e-4}),
}
QUICK_METHODS = ("GAN", "Unrolled GAN (K=5)", "PacGAN2", "MAD-GAN (k=4)", "AdaGAN (T=4)")


def _declared_methods() -> dict[str, tuple[str, dict]]:
  """Rows a shipped config adds itself: its module's `MODE_COLLAPSE_METHODS`, {row name: overrides}
  (so a new algorithm's config puts it in this table without a line here)."""
  from jaxgen import configs  # noqa: PLC0415

  methods = {}
  for module in pkgutil.iter_modules(configs.__path__):
    declared = getattr(
      importlib.import_module(f"jaxgen.configs.{module.name}"), "MODE_COLLAPSE_METHODS", {}
    )
    methods |= {row: (module.name, overrides) for row, overrides in declared.items()}
  return methods


METHODS |= _declared_methods()

# PacGAN (Lin et al. 2018), Table 1: mean +- standard error over 10 trials (400 epochs).
PACGAN_TABLE = {  # method: (ring modes, ring HQ %, ring KL, grid modes, grid HQ %, grid KL)
  "GAN": ("6.3±0.5", "98.2±0.2", "0.45±0.09", "17.3±0.8", "94.8±0.7", "0.70±0.07"),
  "PacGAN2": ("7.9±0.1", "95.6±2.0", "0.07±0.03", "23.8±0.7", "91.3±0.8", "0.13±0.04"),
  "PacGAN3": ("7.8±0.1", "97.7±0.3", "0.10±0.02", "24.6±0.4", "94.2±0.4", "0.06±0.02"),
  "PacGAN4": ("7.8±0.1", "95.9±1.4", "0.07±0.02", "24.8±0.2", "93.6±0.6", "0.04±0.01"),
}
# VEEGAN (Srivastava et al. 2017), Table 1: mean of 5 runs, its own (different) architectures.
VEEGAN_TABLE = {  # method: (ring modes, ring HQ %, grid modes, grid HQ %)
  "GAN": ("1", "99.3", "3.3", "0.5"),
  "Unrolled GAN (K=5)": ("7.6", "35.6", "23.6", "16"),
}
PACGAN_EPOCHS, PACGAN_NUM_EXAMPLES, PACGAN_BATCH, PACGAN_TRIALS = 400, 100_000, 100, 10
NUM_EVAL_SAMPLES = 2500  # PacGAN / VEEGAN score 2500 samples
SAMPLES_FILE = "final_samples.npz"  # seed 0's final samples per (data set, method), for the figure


def method_config(method: str, data_name: str, steps: int, width_scale: float, lr_scale: float):
  module, overrides = METHODS[method]
  config = importlib.import_module(f"jaxgen.configs.{module}").get_config()
  config.data.name = data_name
  config.num_steps = steps
  apply_overrides(config, overrides)
  if width_scale != 1.0:
    scaled = lambda widths: tuple(max(1, round(w * width_scale)) for w in widths)
    for block in ("generator", "discriminator", "encoder"):  # the encoder: ALI / BiGAN
      if block in config.model:
        config.model[block].hidden = scaled(config.model[block].hidden)
  for player in config.optimizer.values():
    player.learning_rate = player.learning_rate * lr_scale
  return config


def seed_batches(dataset, config, seeds, start, num_steps, num_phases):
  """Batches [num_steps, seeds, phases, B, ...] of steps start.. for every seed: the training
  loop's own `phase_batches`, so each seed sees exactly the batches of a `scripts/train.py` run."""
  per_step = []
  for step in range(start, start + num_steps):
    per_seed = [phase_batches(dataset, config, step, num_phases, seed=seed) for seed in seeds]
    per_step.append({k: np.stack([s[k] for s in per_seed]) for k in per_seed[0]})
  return {k: np.stack([s[k] for s in per_step]) for k in per_step[0]}


def train_seeds(method, dataset, seeds, steps, chunk, width_scale, lr_scale):
  """Trains `method` on `dataset` for every seed at once; returns final samples [S, 2500, 2]."""
  config = method_config(method, dataset.name, steps, width_scale, lr_scale)
  algorithm = algorithms.get(config.algorithm.name)(config, dataset)
  phases = len(algorithm.schedule)
  first = seed_batches(dataset, config, seeds, 0, 1, phases)
  keys = jnp.stack([jax.random.key(seed) for seed in seeds])
  init = jax.jit(jax.vmap(lambda key, batch: init_train_state(algorithm, key, batch)))
  state = init(keys, jax.tree.map(lambda x: jnp.asarray(x[0, :, 0]), first))
  step = jax.vmap(make_train_step(algorithm))

  @jax.jit
  def run_chunk(state, batches):
    return jax.lax.scan(lambda s, b: (step(s, b)[0], None), state, batches)[0]

  for start in range(0, steps, chunk):
    state = run_chunk(
      state, seed_batches(dataset, config, seeds, start, min(chunk, steps - start), phases)
    )
  sample = jax.jit(jax.vmap(algorithm.sample, in_axes=(0, 0, None)), static_argnums=2)
  samples = sample(state, jnp.stack([jax.random.key(1000 + s) for s in seeds]), NUM_EVAL_SAMPLES)
  return np.asarray(samples)


def summarise(values):
  """(mean, std) over the seeds where the value is defined (reverse KL is NaN for a seed with no
  high-quality sample); NaN when it is defined for none."""
  values = np.asarray(values, np.float64)
  values = values[np.isfinite(values)]
  if not len(values):
    return float("nan"), float("nan")
  return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def undefined_note(scores) -> str:
  undefined = sum(np.isnan(s["reverse_kl"]) for s in scores)
  return f" (undefined in {undefined} of {len(scores)} seeds: no high-quality sample)" * bool(
    undefined
  )


def load_finished(output: Path, settings: dict):
  """Results and seed-0 samples of an earlier run into `output` with the same settings."""
  settings_path = output / "settings.json"
  if not settings_path.exists():
    return {}, {}
  earlier = json.loads(settings_path.read_text())
  if earlier != settings:
    changed = sorted(
      k for k in settings.keys() | earlier.keys() if earlier.get(k) != settings.get(k)
    )
    raise ValueError(
      f"{output} holds a run with other settings ({', '.join(changed)}: "
      f"{[earlier.get(k) for k in changed]} there, {[settings.get(k) for k in changed]} now); "
      "pass another --output or delete that folder."
    )
  if not ((output / "results.json").exists() and (output / SAMPLES_FILE).exists()):
    return {}, {}  # stopped before its first method finished
  results = json.loads((output / "results.json").read_text())
  with np.load(output / SAMPLES_FILE) as saved:
    samples = {tuple(key.split("/", 1)): saved[key] for key in saved.files}
  # An entry counts as finished only with its samples (they are written after the scores).
  results = {
    data_name: {m: e for m, e in entries.items() if (data_name, m) in samples}
    for data_name, entries in results.items()
  }
  return results, samples


def save_progress(output: Path, results, final_samples) -> None:
  """Scores, then samples, each by rename: a kill mid-write leaves the previous files whole."""
  scores = output / "results.json.tmp"
  scores.write_text(json.dumps(results, indent=1))
  scores.replace(output / "results.json")
  samples = output / ("tmp_" + SAMPLES_FILE)
  np.savez(samples, **{"/".join(k): v for k, v in final_samples.items()})
  samples.replace(output / SAMPLES_FILE)


def run(
  methods, data_names, seeds, steps, chunk, width_scale, lr_scale, output: Path, figures: Path
):
  """Trains and scores every (data set, method); resumes an interrupted run in `output`."""
  output.mkdir(parents=True, exist_ok=True)
  settings = {
    "seeds": list(seeds),
    "steps": steps,
    "width_scale": width_scale,
    "lr_scale": lr_scale,
  }
  results, final_samples = load_finished(output, settings)
  (output / "settings.json").write_text(json.dumps(settings, indent=1))
  datasets = {name: data.get(name) for name in data_names}
  for data_name, dataset in datasets.items():
    for method in methods:
      if method in results.get(data_name, {}):
        print(f"{data_name:7s} {method:28s} done in an earlier run of {output}", flush=True)
        continue
      started = time.perf_counter()
      samples = train_seeds(method, dataset, seeds, steps, chunk, width_scale, lr_scale)
      scores = [metrics.mode_coverage(s, dataset.centers, dataset.std) for s in samples]
      elapsed = time.perf_counter() - started
      entry = {
        key: summarise([s[key] for s in scores]) for key in ("modes", "high_quality", "reverse_kl")
      }
      entry["seconds"] = elapsed
      entry["per_seed"] = scores
      results.setdefault(data_name, {})[method] = entry
      final_samples[(data_name, method)] = samples[0]
      print(
        f"{data_name:7s} {method:28s} modes {entry['modes'][0]:5.2f}±{entry['modes'][1]:.2f} "
        f"HQ {100 * entry['high_quality'][0]:5.1f}% KL {entry['reverse_kl'][0]:.3f}"
        f"{undefined_note(scores)} "
        f"({elapsed:.0f} s)",
        flush=True,
      )
      save_progress(output, results, final_samples)
  table = markdown_table(results, data_names, methods, settings)
  (output / "table.md").write_text(table)
  print(table)
  figures.mkdir(parents=True, exist_ok=True)
  for data_name in data_names:
    save_grid(
      {m: final_samples[(data_name, m)] for m in methods},
      datasets[data_name],
      figures / f"mode_collapse_{data_name}.png",
      f"{data_name}, seed {seeds[0]}",
    )


def _cell(entry, key, scale=1.0, digits=1):
  mean, std = entry[key]
  return f"{scale * mean:.{digits}f}±{scale * std:.{digits}f}"


def markdown_table(results, data_names, methods, settings) -> str:
  epochs = settings["steps"] * PACGAN_BATCH / PACGAN_NUM_EXAMPLES
  lines = [
    f"Measured: {len(settings['seeds'])} seeds (mean±std), {settings['steps']} steps "
    f"(~{epochs:g} epochs of 100k samples at batch 100), network width x"
    f"{settings['width_scale']:g}, learning rates x{settings['lr_scale']:g}. "
    "Published: PacGAN (Lin et al. 2018, Table 1; 10 trials, "
    f"± standard error, {PACGAN_EPOCHS} epochs) and VEEGAN (Srivastava et al. 2017, Table 1; "
    "other networks, mean of 5).",
    "",
  ]
  header = "| method |"
  rule = "|---|"
  for data_name in data_names:
    k = 8 if data_name == "ring8" else 25
    header += (
      f" {data_name} modes /{k} | HQ % | rev. KL | PacGAN modes / HQ / KL | VEEGAN modes / HQ |"
    )
    rule += "---|---|---|---|---|"
  lines += [header, rule]
  for method in methods:
    row = f"| {method} |"
    for data_name in data_names:
      entry = results[data_name][method]
      offset = 0 if data_name == "ring8" else 1
      pac = PACGAN_TABLE.get(method)
      vee = VEEGAN_TABLE.get(method)
      pac_cell = " / ".join(pac[3 * offset : 3 * offset + 3]) if pac else ""
      vee_cell = " / ".join(vee[2 * offset : 2 * offset + 2]) if vee else ""
      row += (
        f" {_cell(entry, 'modes')} | {_cell(entry, 'high_quality', 100)} | "
        f"{_cell(entry, 'reverse_kl', 1, 2)} | {pac_cell} | {vee_cell} |"
      )
    lines.append(row)
  return "\n".join(lines) + "\n"


def save_grid(samples_by_method, dataset, path: Path, title: str) -> None:
  """One scatter panel per method: the final samples over the true modes."""
  centers = dataset.centers
  columns = 6
  rows = math.ceil(len(samples_by_method) / columns)
  fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.3 * rows), squeeze=False)
  for ax in axes.ravel():
    ax.axis("off")
  for ax, (method, samples) in zip(axes.ravel(), samples_by_method.items(), strict=False):
    ax.scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.3)
    ax.scatter(centers[:, 0], centers[:, 1], marker="x", color="red", s=12)
    pad = 0.3 * (centers.max() - centers.min())
    ax.set_xlim(centers[:, 0].min() - pad, centers[:, 0].max() + pad)
    ax.set_ylim(centers[:, 1].min() - pad, centers[:, 1].max() + pad)
    ax.set_aspect("equal")
    ax.set_title(method, fontsize=7)
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


# name: (methods or None for all, data sets, seeds, steps, width scale, learning-rate scale).
PRESETS = {
  "quick": (QUICK_METHODS, ("ring8",), 2, 1500, 0.25, 10.0),
  "medium": (None, ("ring8", "grid25"), 3, 5000, 0.25, 10.0),
  "full": (
    None,
    ("ring8", "grid25"),
    PACGAN_TRIALS,
    PACGAN_EPOCHS * PACGAN_NUM_EXAMPLES // PACGAN_BATCH,
    1.0,
    1.0,
  ),
}


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument(
    "--preset",
    choices=sorted(PRESETS),
    default="medium",
    help="quick: a few minutes on 2 CPU cores; medium: docs/results/mode_collapse.md's table; "
    "full: PacGAN's 400 epochs and 10 trials at full width and learning rate",
  )
  parser.add_argument("--quick", action="store_true", help="the same as --preset=quick")
  parser.add_argument(
    "--methods", default=None, help=f"comma-separated subset of: {', '.join(METHODS)}"
  )
  parser.add_argument("--data", default=None, help="comma-separated: ring8, grid25")
  for name in ("seeds", "steps"):
    parser.add_argument(f"--{name}", type=int, default=None, help="overrides the preset")
  for name in ("width-scale", "lr-scale"):
    parser.add_argument(f"--{name}", type=float, default=None, help="overrides the preset")
  parser.add_argument("--chunk", type=int, default=500, help="steps per compiled scan")
  parser.add_argument("--output", default="workdirs/mode_collapse")
  parser.add_argument("--figures", default="docs")
  args = parser.parse_args(argv)
  methods, data_names, seeds, steps, width, lr = PRESETS["quick" if args.quick else args.preset]
  methods = list(methods or METHODS) if args.methods is None else args.methods.split(",")
  data_names = list(data_names) if args.data is None else args.data.split(",")
  seeds = seeds if args.seeds is None else args.seeds
  steps = steps if args.steps is None else args.steps
  width = width if args.width_scale is None else args.width_scale
  lr = lr if args.lr_scale is None else args.lr_scale
  unknown = sorted(set(methods) - set(METHODS))
  if unknown:
    raise ValueError(f"Unknown methods {unknown}; choose from {list(METHODS)}.")
  run(
    methods,
    data_names,
    tuple(range(seeds)),
    steps,
    min(args.chunk, steps),
    width,
    lr,
    Path(args.output),
    Path(args.figures),
  )


if __name__ == "__main__":
  main()
