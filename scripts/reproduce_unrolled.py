"""Metz et al. 2016, Fig. 1, with the authors' demo settings: K = 0 (a plain GAN) against K = 5
(and 10) unrolling steps, several seeds, mode coverage over time.

  python scripts/reproduce_unrolled.py                          # 25k steps, K 0/5/10, seeds 0-4
  python scripts/reproduce_unrolled.py --steps=5000 --unroll=0,5 --seeds=0,1,2 --every=500

Each (K, seed) is an ordinary run of `jaxgen/configs/unrolled_metz_ring8.py` through the training
loop, in `<root>/k<K>_seed<S>` (re-running resumes; finished runs are not trained again). Its
`metrics.jsonl` holds modes, high-quality share and reverse KL every `--every` steps. Then:

- `<out>.png`: samples of seed 0, one row per K, one column per `--frame-every` steps (the
  layout of the paper's Fig. 1), drawn from the checkpoints;
- `<out>.md`: per K, the modes and high-quality share at every evaluation (mean and range over
  seeds), and the published claim beside the final figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from jaxgen import configs
from jaxgen.metrics import mode_coverage
from jaxgen.run import plots, train
from jaxgen.run.overrides import apply_overrides

PUBLISHED = {  # Metz et al. 2016, Fig. 1 and the demo notebook's pictures (qualitative)
  0: "collapses onto one mode at a time and rotates between modes",
  5: "spreads over all modes",
  10: "spreads over all modes",
}


def run_config(name: str, unroll: int, seed: int, steps: int, every: int, frame_every: int):
  config = configs.load(name)
  apply_overrides(
    config,
    {
      "algorithm.unroll_steps": unroll,
      "seed": seed,
      "num_steps": steps,
      "eval_every": every,
      "checkpoint_every": frame_every,
      "keep_checkpoints": steps // frame_every + 1,  # every frame stays for the figure
      "progress_bar": False,
    },
  )
  return config


def records(workdir: Path) -> list[dict]:
  lines = (workdir / "metrics.jsonl").read_text().splitlines()
  return [r for r in map(json.loads, lines) if "eval/modes" in r]


def frames(config, workdir: Path, steps: list[int], num: int) -> list[np.ndarray]:
  """Samples of the checkpoints at `steps` (0: the initial state)."""
  run = train.Run(config)
  out = []
  for step in steps:
    state = run.init_state() if step == 0 else train.restore_state(run, workdir, step)
    out.append(run.sample(state, num, seed=config.seed + 1))
  return out


def draw(samples: dict[int, list[np.ndarray]], steps: list[int], centers, path: Path) -> None:
  plt = plots.pyplot()
  rows, cols = len(samples), len(steps)
  fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2 * rows), squeeze=False)
  low, high = plots.frame_around(centers)
  for row, (unroll, per_step) in enumerate(samples.items()):
    for col, (step, points) in enumerate(zip(steps, per_step, strict=True)):
      ax = axes[row, col]
      ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.3)
      ax.scatter(centers[:, 0], centers[:, 1], marker="x", color="red", s=12)
      ax.set_xlim(low[0], high[0])
      ax.set_ylim(low[1], high[1])
      ax.set_aspect("equal")
      ax.set_xticks([]), ax.set_yticks([])
      outside = plots.outside_note(points, low, high)
      if outside:
        ax.text(
          0.02, 0.02, outside.split(" lie")[0] + " outside", transform=ax.transAxes, fontsize=5
        )
      if row == 0:
        ax.set_title(f"step {step}", fontsize=8)
      if col == 0:
        ax.set_ylabel(f"K = {unroll}", fontsize=9)
  plots.save_figure(fig, path)


def table(results: dict[int, dict[int, list[dict]]]) -> str:
  lines = []
  for unroll, per_seed in results.items():
    seeds = sorted(per_seed)
    steps = [r["step"] for r in per_seed[seeds[0]]]
    lines += [f"\n### K = {unroll} ({len(seeds)} seeds: {', '.join(map(str, seeds))})\n"]
    lines += ["| step | modes (mean, min-max) | high quality % (mean, min-max) |", "|---|---|---|"]
    for i, step in enumerate(steps):
      modes = np.array([per_seed[s][i]["eval/modes"] for s in seeds])
      hq = 100 * np.array([per_seed[s][i]["eval/high_quality"] for s in seeds])
      lines.append(
        f"| {step} | {modes.mean():.1f} ({modes.min():.0f}-{modes.max():.0f}) | "
        f"{hq.mean():.1f} ({hq.min():.1f}-{hq.max():.1f}) |"
      )
  lines += [
    "\n| K | published | jaxgen, final step: modes per seed | HQ % per seed |",
    "|---|---|---|---|",
  ]
  for unroll, per_seed in results.items():
    final = [per_seed[s][-1] for s in sorted(per_seed)]
    modes = ", ".join(str(int(r["eval/modes"])) for r in final)
    hq = ", ".join(f"{100 * r['eval/high_quality']:.0f}" for r in final)
    lines.append(f"| {unroll} | {PUBLISHED.get(unroll, '-')} | {modes} | {hq} |")
  return "\n".join(lines) + "\n"


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="unrolled_metz_ring8", help="the demo's or the paper's")
  parser.add_argument("--steps", type=int, default=25_000)
  parser.add_argument("--unroll", default="0,5,10")
  parser.add_argument("--seeds", default="0,1,2,3,4")
  parser.add_argument("--every", type=int, default=1000, help="evaluation period")
  parser.add_argument("--frame-every", type=int, default=5000, help="figure column period")
  parser.add_argument("--root", default="workdirs/reproduce_unrolled")
  parser.add_argument("--out", default="docs/unrolled_metz")
  args = parser.parse_args()
  if args.steps % args.frame_every or args.frame_every % args.every:
    parser.error("--steps must be a multiple of --frame-every, and --frame-every of --every.")
  unrolls = [int(k) for k in args.unroll.split(",")]
  seeds = [int(s) for s in args.seeds.split(",")]
  root = Path(args.root)
  results: dict[int, dict[int, list[dict]]] = {}
  frame_steps = list(range(0, args.steps + 1, args.frame_every))
  samples = {}
  for unroll in unrolls:
    for seed in seeds:
      config = run_config(args.config, unroll, seed, args.steps, args.every, args.frame_every)
      workdir = root / f"k{unroll}_seed{seed}"
      train.train_and_evaluate(config, workdir)
      results.setdefault(unroll, {})[seed] = records(workdir)
      last = results[unroll][seed][-1]
      print(
        f"K={unroll} seed={seed}: modes {last['eval/modes']:.0f}/8, "
        f"HQ {100 * last['eval/high_quality']:.1f} %, reverse KL {last['eval/reverse_kl']:.3f}",
        flush=True,
      )
      if seed == seeds[0]:
        samples[unroll] = frames(config, workdir, frame_steps, 2500)
  first = run_config(args.config, 0, 0, args.steps, args.every, args.frame_every)
  centers = train.Run(first).dataset.centers
  out = Path(args.out)
  out.parent.mkdir(parents=True, exist_ok=True)
  draw(samples, frame_steps, centers, out.with_suffix(".png"))
  text = table(results)
  out.with_suffix(".md").write_text(text)
  print(text)
  # Modes are also checked straight from the samples, as a guard on the logged figures.
  final = samples[unrolls[0]][-1]
  print("seed 0, first K, final samples:", mode_coverage(final, centers, 0.01))


if __name__ == "__main__":
  main()
