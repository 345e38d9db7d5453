"""Where SAGAN's self-attention looks: attention maps of a trained run for a few query pixels.

  python scripts/sagan_attention.py --workdir=workdirs/sagan_digits --out=docs/sagan_attention.png

Each row is one generated sample; the first panel is the sample with the query positions marked,
then one panel per query: the attention row beta_j. (Zhang et al. 2019, eq. 1: where position j of
G's hidden map looks), upsampled from the attention resolution onto the image. Also prints gamma
(eq. 3), how much of the block's output the attention contributes.
"""

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

from jaxgen.run import train

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 — after the backend is chosen


def attention_maps(run: train.Run, state, num: int, seed: int):
  """(samples [num, H, W, C], attention [num, N, N] of G's block, gamma) at G's current params."""
  algorithm = run.algorithm
  generator = state.players["generator"]
  z = algorithm.latents(jax.random.key(seed), num)
  labels = jnp.arange(num) % algorithm.generator_classes if algorithm.generator_classes else None
  variables = {"params": generator.params, **generator.model_state}
  samples, sown = algorithm.generator.apply(
    variables, z, labels, train=False, mutable=["intermediates"]
  )
  found = jax.tree_util.tree_flatten_with_path(sown["intermediates"])[0]
  maps = [leaf for path, leaf in found if "attention" in jax.tree_util.keystr(path)]
  if len(maps) != 1:
    raise SystemExit(f"expected one attention map in G, found {len(maps)}: is this a SAGAN run?")
  gammas = [
    leaf
    for path, leaf in jax.tree_util.tree_flatten_with_path(generator.params)[0]
    if "gamma" in jax.tree_util.keystr(path)
  ]
  return np.asarray(samples), np.asarray(maps[0]), float(np.ravel(gammas[0])[0])


def plot(samples, attention, queries, out: Path) -> None:
  num, height, width = samples.shape[:3]
  side = int(round(np.sqrt(attention.shape[-1])))
  scale = height // side
  fig, axes = plt.subplots(num, len(queries) + 1, figsize=(1.8 * (len(queries) + 1), 1.8 * num))
  colours = ["red", "lime", "cyan", "orange", "magenta"]
  for row in range(num):
    image = samples[row, ..., 0]
    axes[row, 0].imshow(image, cmap="gray")
    for q, (qy, qx) in enumerate(queries):
      axes[row, 0].scatter(
        [qx * scale + scale / 2 - 0.5],
        [qy * scale + scale / 2 - 0.5],
        s=30,
        c=colours[q % len(colours)],
        marker="x",
      )
      heat = attention[row, qy * side + qx].reshape(side, side)
      heat = np.kron(heat, np.ones((scale, scale)))
      axes[row, q + 1].imshow(image, cmap="gray")
      axes[row, q + 1].imshow(heat, cmap="inferno", alpha=0.6)
      axes[row, q + 1].scatter(
        [qx * scale + scale / 2 - 0.5],
        [qy * scale + scale / 2 - 0.5],
        s=30,
        c=colours[q % len(colours)],
        marker="x",
      )
      if row == 0:
        axes[row, q + 1].set_title(f"query ({qy},{qx})", fontsize=8)
  for ax in axes.ravel():
    ax.set_axis_off()
  axes[0, 0].set_title("sample", fontsize=8)
  fig.tight_layout()
  out.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(out, dpi=110)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--out", default="docs/sagan_attention.png")
  parser.add_argument("--num", type=int, default=4, help="samples (rows)")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  workdir = Path(args.workdir)
  run = train.Run(train.recorded_config(workdir))
  state = train.restore_state(run, workdir)
  samples, attention, gamma = attention_maps(run, state, args.num, args.seed)
  side = int(round(np.sqrt(attention.shape[-1])))
  # The digits are 8x8 in the middle of a 16x16 frame: three queries on the stroke area (top,
  # middle, bottom of the central half of the grid) and one on the empty border.
  quarter = side // 4
  queries = [(quarter, side // 2), (side // 2, side // 2 - 1), (3 * quarter - 1, side // 2), (0, 0)]
  plot(samples, attention, queries, Path(args.out))
  entropy = -(attention * np.log(attention + 1e-12)).sum(-1).mean()
  print(
    f"step {int(state.step)}: gamma = {gamma:.4f}; mean attention entropy {entropy:.3f} nats "
    f"(uniform over {attention.shape[-1]} positions: {np.log(attention.shape[-1]):.3f})"
  )
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
