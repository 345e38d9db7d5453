"""The two README figures of jaxgen.theory.games at the full settings, and their numbers.

PYTHONPATH=. python notes/figs_games.py [bilinear] [minmax]
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jaxgen.theory import games  # noqa: E402

which = sys.argv[1:] or ["bilinear", "minmax"]
if "bilinear" in which:
  result = games.bilinear_game_experiment()
  fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
  games.draw_bilinear_game(result, axes)
  fig.tight_layout()
  fig.savefig("docs/theory_bilinear_game.png", dpi=110)
  for name, radii in result.radii.items():
    print(
      f"{name}: factor {result.factors[name]:.6f}, measured {radii[-1] / radii[-2]:.6f}, "
      f"radius {radii[0]:.3f} -> {radii[-1]:.4g} after {len(radii) - 1} steps"
    )
if "minmax" in which:
  result = games.minmax_experiment()
  fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
  games.draw_minmax(result, axes)
  fig.tight_layout()
  fig.savefig("docs/theory_minmax.png", dpi=110)
  print("grid", result.grid_min_max, result.grid_max_min)
  print("pennies", result.pennies_pure, result.pennies_mixed)
  print("optimal gradient", result.optimal_gradient, "optimal params", result.optimal_params)
  rows = zip(
    result.discriminator_steps,
    result.generator_gradients,
    result.relative_errors,
    result.discriminator_params,
    strict=True,
  )
  for k, gradient, error, (a, c) in rows:
    print(f"| {k} | {gradient:.4f} | {error:.4f} | {a:.3f}, {c:.3f} |")
