"""Throwaway: the full-setting runs of items 8 and 9 and their README figures.

PYTHONPATH=. python notes/make_figures_images.py
"""

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jaxgen.theory import infogan_codes, pixels  # noqa: E402

result = pixels.pixel_distances_experiment(quick=False, seed=0)
for name, by_shift in result.comparisons.items():
  for s, c in by_shift.items():
    print(f"{name:26s} {s:4.1f} {c.fraction_other_closer:.3f} {c.median_ratio:.3f}")
fig, axes = plt.subplots(1, 4, figsize=(14, 3.6), gridspec_kw={"width_ratios": [1, 1, 1, 2.2]})
pixels.draw_pixel_distances(result, axes)
fig.tight_layout()
fig.savefig("docs/theory_pixel_distances.png", dpi=110)

results = [
  infogan_codes.infogan_codes_experiment(quick=False, seed=seed, num_steps=8000, score_every=1000)
  for seed in (0, 1, 2)
]
for r in results:
  print(r.seed, r.accuracy_by_step, r.agreement.chance, r.agreement.chance_std)
final = [r.agreement.accuracy for r in results]
print(f"accuracy {np.mean(final):.3f} +- {np.std(final):.3f}")
fig, axes = plt.subplots(1, 3, figsize=(14, 5.2), gridspec_kw={"width_ratios": [1, 1, 0.8]})
infogan_codes.draw_infogan_codes(results[0], axes)
fig.tight_layout()
fig.savefig("docs/theory_infogan_codes.png", dpi=110)
