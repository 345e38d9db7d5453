"""A grid of samples per resolution of a ProGAN run: one panel per checkpoint step given.

  python scripts/progan_stages.py --workdir=workdirs/progan_digits --steps=600,1800,3000 \
      --out=docs/progan_digits_stages.png

Each panel samples the EMA of G at its checkpoint (at a phase's end a state's next step starts the
next fade at alpha = 0, which is exactly the finished resolution, upsampled), through `Run.sample`,
so the samples are those the loop's evaluation scores.
"""

import argparse
from pathlib import Path

import matplotlib
import numpy as np

from jaxgen.run import plots, train


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--steps", required=True, help="comma-separated checkpoint steps")
  parser.add_argument("--out", required=True)
  parser.add_argument("--num", type=int, default=36, help="samples per panel")
  args = parser.parse_args()
  workdir = Path(args.workdir)
  run = train.Run(train.recorded_config(workdir))
  steps = [int(s) for s in args.steps.split(",")]
  matplotlib.use("Agg")  # files only
  import matplotlib.pyplot as plt  # noqa: PLC0415 — after choosing the backend

  figure, axes = plt.subplots(1, len(steps), figsize=(4 * len(steps), 4.4))
  for ax, step in zip(np.atleast_1d(axes), steps, strict=True):
    state = train.restore_state(run, workdir, step)
    algorithm = run.algorithm.at_stage(run.algorithm.stage(step))
    side = algorithm.resolution // 2 if float(state.extra["alpha"]) == 0 else algorithm.resolution
    grid = plots.image_grid(run.sample(state, args.num, seed=run.config.seed + 1), 6)
    ax.imshow(grid.squeeze(-1), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{side}x{side} (step {step})")
    ax.axis("off")
  figure.suptitle(plots.run_title(run.config, workdir))  # which run: name, algorithm, objective
  figure.savefig(args.out, dpi=100, bbox_inches="tight")


if __name__ == "__main__":
  main()
