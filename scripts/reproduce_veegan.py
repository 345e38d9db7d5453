"""Srivastava et al. 2017 (VEEGAN), Table 1: the GAN and unrolled GAN rows on the ring and the grid,
with the networks of the authors' 2-D notebook (`jaxgen/configs/gan_veegan_ring8.py`).

  python scripts/reproduce_veegan.py                              # 100k steps, both rows, 5 seeds
  python scripts/reproduce_veegan.py --methods=gan --steps=20000 --seeds=0,1,2

Each (method, data, seed) is an ordinary resumable run in `<root>/<method>_<data>_seed<S>`;
evaluation (modes captured and high-quality share on 2500 samples, `mode_coverage`) every
`--every` steps. Prints and writes `<out>.md`: per row, the published figures beside the final
step's mean and range over seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from jaxgen import configs
from jaxgen.run import train
from jaxgen.run.overrides import apply_overrides

# Srivastava et al. 2017, Table 1 (mean of 5 runs, 2500 samples): modes, high-quality %.
PUBLISHED = {
  ("gan", "ring8"): (1, 99.3),
  ("gan", "grid25"): (3.3, 0.5),
  ("unrolled", "ring8"): (7.6, 35.6),
  ("unrolled", "grid25"): (23.6, 16.0),
}
CONFIGS = {"ring8": "gan_veegan_ring8", "grid25": "gan_veegan_grid25"}


def final_record(workdir: Path) -> dict:
  lines = (workdir / "metrics.jsonl").read_text().splitlines()
  return [r for r in map(json.loads, lines) if "eval/modes" in r][-1]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--methods", default="gan,unrolled")
  parser.add_argument("--data", default="ring8,grid25")
  parser.add_argument("--seeds", default="0,1,2,3,4")
  parser.add_argument("--steps", type=int, default=100_000, help="the notebook's 100 x 1000")
  parser.add_argument("--every", type=int, default=5000, help="evaluation period")
  parser.add_argument("--root", default="workdirs/reproduce_veegan")
  parser.add_argument("--out", default="docs/veegan_table1")
  args = parser.parse_args()
  seeds = [int(s) for s in args.seeds.split(",")]
  lines = [
    "| method | data | published modes | jaxgen modes, mean (range) | published HQ % "
    "| jaxgen HQ %, mean (range) |",
    "|---|---|---|---|---|---|",
  ]
  for method in args.methods.split(","):
    for name in args.data.split(","):
      finals = []
      for seed in seeds:
        config = configs.load(f"{CONFIGS[name]}:{method}")
        overrides = {"seed": seed, "num_steps": args.steps, "eval_every": args.every}
        apply_overrides(config, overrides | {"checkpoint_every": args.every, "progress_bar": False})
        workdir = Path(args.root) / f"{method}_{name}_seed{seed}"
        train.train_and_evaluate(config, workdir)
        finals.append(final_record(workdir))
        print(f"{method} {name} seed {seed}: {finals[-1]}", flush=True)
      modes = np.array([r["eval/modes"] for r in finals])
      hq = 100 * np.array([r["eval/high_quality"] for r in finals])
      published_modes, published_hq = PUBLISHED[method, name]
      lines.append(
        f"| {method} | {name} | {published_modes} | {modes.mean():.1f} ({modes.min():.0f}-"
        f"{modes.max():.0f}) | {published_hq} | {hq.mean():.1f} ({hq.min():.1f}-{hq.max():.1f}) |"
      )
  text = "\n".join(lines) + "\n"
  out = Path(args.out).with_suffix(".md")
  out.parent.mkdir(parents=True, exist_ok=True)
  out.write_text(text)
  print(text)


if __name__ == "__main__":
  main()
