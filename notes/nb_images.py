# %% [markdown]
# ## 8. Pixel distances mislead
#
# Larsen et al. (2016, sec. 1-2) argue that element-wise (pixel) errors are a poor measure of
# image similarity: a small translation costs as much as a change of content. On the digits
# (8x8, padded to 16x16) we compare, for every image $a$, $d_{own} = \|f(a) - f(\mathrm{shift}(a, s))\|$
# with $d_{other} = \min_{b:\,y_b \ne y_a} \|f(a) - f(b)\|$, for a 0.5 and a 1 pixel shift
# (bilinear: $\mathrm{shift}(a, t) = (1 - t)\,a + t\,\mathrm{shift}(a, 1)$ for $0 \le t \le 1$, so
# $d_{own}$ in pixels grows linearly in $t$), in four spaces $f$: pixels, VAE-GAN's $\mathrm{Dis}_l$
# after training (`vaegan_digits` through the one loop), $\mathrm{Dis}_l$ at initialisation, and the
# digits classifier's features.

# %%
from jaxgen.theory import pixels

pixel_result = pixels.pixel_distances_experiment(quick=QUICK, seed=0)
print(f"{len(pixel_result.images)} digits, VAE-GAN trained {pixel_result.vaegan_steps} steps")
print(f"{'space':26s} {'shift':>5s} {'other closer':>12s} {'median d_own/d_other':>21s}")
for name, by_shift in pixel_result.comparisons.items():
  for s, comparison in by_shift.items():
    print(
      f"{name:26s} {s:5.1f} {comparison.fraction_other_closer:12.3f} "
      f"{comparison.median_ratio:21.3f}"
    )
fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
pixels.draw_pixel_distances(pixel_result, axes)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 9. InfoGAN disentangles (or not)
#
# InfoGAN (Chen et al. 2016) adds $-\lambda L_I$ to both players' losses, $L_I$ a variational lower
# bound on the mutual information between the codes and $G$'s samples. The claim: on digits the
# 10-way categorical code $c_1$ comes to pick the digit class. We generate samples for every value
# of $c_1$, label them with the bundled digits classifier, and score the best one-to-one
# code-to-class matching (Hungarian algorithm): accuracy $= \max_m \sum_k N_{k, m(k)} / N$. The
# chance level is the same accuracy with the codes shuffled against the classes.

# %%
from jaxgen.theory import infogan_codes

info_result = infogan_codes.infogan_codes_experiment(quick=QUICK, seed=0)
agreement = info_result.agreement
print(f"InfoGAN, {info_result.num_steps} steps, seed {info_result.seed}")
print(
  f"Hungarian accuracy {agreement.accuracy:.3f}; chance {agreement.chance:.3f} "
  f"+- {agreement.chance_std:.3f}"
)
print("code -> matched class:", agreement.matching)
fig, axes = plt.subplots(1, 3, figsize=(13, 5))
infogan_codes.draw_infogan_codes(info_result, axes)
fig.tight_layout()
plt.show()
