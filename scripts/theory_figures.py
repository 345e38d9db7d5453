"""Draws the GAN-theory figures of docs/theory/ (`jaxgen.theory`) and prints each experiment's
numbers.

python scripts/theory_figures.py                       # every figure, full settings, into docs/
python scripts/theory_figures.py --only figure1 critic_w1 --seed 1 --out /tmp/theory
python scripts/theory_figures.py --quick --out /tmp/theory   # the notebook's small settings
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


class Figure(NamedTuple):
  module: str  # in jaxgen.theory
  experiment: str  # f(*, quick, seed) -> result
  draw: str  # f(result, axes)
  panels: int
  size: tuple[float, float]


FIGURES = {
  "bilinear_game": Figure("games", "bilinear_game_experiment", "draw_bilinear_game", 2, (11, 4.8)),
  "minmax": Figure("minmax", "minmax_experiment", "draw_minmax", 2, (11, 4.5)),
  "disjoint_supports": Figure(
    "supports", "disjoint_supports_experiment", "draw_disjoint_supports", 2, (12, 4.5)
  ),
  "density_ratio": Figure(
    "density_ratio", "density_ratio_experiment", "draw_density_ratio", 2, (12, 4.5)
  ),
  "critic_w1": Figure("critics", "critic_w1_experiment", "draw_critic_w1", 3, (15, 4)),
  "figure1": Figure("figure1", "figure1_experiment", "draw_figure1", 4, (16, 3.5)),
  "pixel_distances": Figure(
    "pixels", "pixel_distances_experiment", "draw_pixel_distances", 4, (14, 3.6)
  ),
  # The docs' numbers are seeds 0, 1, 2 (--seed); the figure is seed 0's.
  "infogan_codes": Figure(
    "infogan_codes", "infogan_codes_experiment", "draw_infogan_codes", 3, (13, 5)
  ),
}


def scalars(result: NamedTuple) -> dict[str, object]:
  """The result's fields that print on one line: numbers, small tuples or arrays of them, and
  dicts of numbers."""
  shown = {}
  for name, value in result._asdict().items():
    if isinstance(value, int | float | np.number):
      shown[name] = float(value)
    elif isinstance(value, tuple | np.ndarray) and np.size(value) <= 16:
      shown[name] = np.round(np.asarray(value, np.float64), 4).tolist()
    elif isinstance(value, dict) and all(np.size(v) == 1 for v in value.values()):
      shown[name] = {key: round(float(v), 6) for key, v in value.items()}
  return shown


def draw(name: str, *, quick: bool, seed: int, out: Path) -> Path:
  figure = FIGURES[name]
  module = importlib.import_module(f"jaxgen.theory.{figure.module}")
  result = getattr(module, figure.experiment)(quick=quick, seed=seed)
  fig, axes = plt.subplots(1, figure.panels, figsize=figure.size)
  getattr(module, figure.draw)(result, axes)
  fig.tight_layout()
  path = out / f"theory_{name}.png"
  fig.savefig(path, dpi=110)
  plt.close(fig)
  print(f"{name}: {path}")
  for key, value in scalars(result).items():
    print(f"  {key} = {value}")
  return path


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--only", nargs="+", choices=sorted(FIGURES), default=sorted(FIGURES))
  parser.add_argument("--quick", action="store_true", help="the notebook's small settings")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
  args = parser.parse_args(argv)
  args.out.mkdir(parents=True, exist_ok=True)
  for name in args.only:
    draw(name, quick=args.quick, seed=args.seed, out=args.out)


if __name__ == "__main__":
  main()
