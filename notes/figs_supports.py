"""The README figures and numbers of items 3 and 4 (full settings).

cd <repo> && PYTHONPATH=. python notes/figs_supports.py          # figures (seed 0) + numbers
cd <repo> && PYTHONPATH=. python notes/figs_supports.py 0 1 2    # numbers over seeds 0-2
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from jaxgen.theory import density_ratio, supports  # noqa: E402

seeds = [int(s) for s in sys.argv[1:]] or [0]
for seed in seeds:
  result = supports.disjoint_supports_experiment(seed=seed)
  for setting in supports.SETTINGS:
    norms = result.grad_norms[setting]
    late = norms[-200:]
    print(
      f"supports seed {seed} {setting:15s} steps 10-19 {norms[10:20].mean():.3g} last 10 "
      f"{norms[-10:].mean():.3g} decay {result.decay[setting]:.3g} last-200 std/mean "
      f"{late.std() / late.mean():.3f} D(real) {result.d_real[setting]:.4f} D(fake) "
      f"{result.d_fake[setting]:.2e} accuracy {result.accuracy[setting]:.3f}",
      flush=True,
    )
  if seed == seeds[0]:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    supports.draw_disjoint_supports(result, axes)
    fig.tight_layout()
    fig.savefig("docs/theory_disjoint_supports.png", dpi=110)
  ratio = density_ratio.density_ratio_experiment(seed=seed)
  worst = ratio.grid[np.argmax(np.abs(ratio.learned_log_ratio - ratio.true_log_ratio))]
  print(
    f"density ratio seed {seed}: max error {ratio.max_error:.3f}, RMS {ratio.rms_error:.3f}, "
    f"mixture-weighted RMS {ratio.weighted_rms_error:.3f} on "
    f"[{ratio.grid[0]:.2f}, {ratio.grid[-1]:.2f}], at worst at x = {worst:.2f}",
    flush=True,
  )
  if seed == seeds[0]:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    density_ratio.draw_density_ratio(ratio, axes)
    fig.tight_layout()
    fig.savefig("docs/theory_density_ratio.png", dpi=110)
