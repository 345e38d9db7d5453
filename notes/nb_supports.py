# %% [markdown]
# ## 3. Disjoint supports and the perfect discriminator (Arjovsky & Bottou 2017)
#
# The data is uniform on the segment {0} x [-1, 1]; the generator is frozen at G(z) = (theta, z),
# z ~ N(0, 1), a line at x = theta = 1: the two supports are disjoint, so a perfect discriminator
# exists (their Thm. 2.1). We train D alone through the training loop (G's learning rate 0) and
# log, at every step, the norm of G's gradient taken after D's update:
#
# - minimax loss E[log(1 - D(G(z)))]: ||grad_G|| <= M ||D - D*|| / (1 - ||D - D*||) -> 0 as D
#   becomes perfect (Thm. 2.4) - the gradient vanishes;
# - non-saturating loss -E[log D(G(z))]: no vanishing, but the gradient grows with D's confidence
#   and is unstable (Thm. 2.6: centred Cauchy under noisy D);
# - instance noise N(0, sigma^2) on every input of D: the noised distributions overlap, D cannot be
#   perfect, and the gradient keeps its size (their sec. 3.1).
#
# Why the distances disagree: between the two supports KL = inf and JSD = log 2 whatever theta,
# while W1 = |theta| (Arjovsky et al. 2017, Example 1; closed forms in `jaxgen.theory.divergences`;
# for our Gaussian line instead of a second segment, KL and JSD are the same and W1 >= |theta|).

# %%
from jaxgen.theory import divergences, supports

for theta in (0.0, 0.5, 1.0, 2.0):
  closed = divergences.parallel_segments(theta)
  print(f"theta {theta:3}: KL {closed['kl']}, JSD {closed['jsd']:.4f} nats, W1 {closed['w1']}")

result = supports.disjoint_supports_experiment(quick=QUICK)
for setting in supports.SETTINGS:
  norms = result.grad_norms[setting]
  print(
    f"{setting:15s} ||grad_G|| steps 10-19: {norms[10:20].mean():.3g}, last 10: "
    f"{norms[-10:].mean():.3g} (falls {result.decay[setting]:.3g}x); D(real) "
    f"{result.d_real[setting]:.4f}, D(fake) {result.d_fake[setting]:.2e}, accuracy "
    f"{result.accuracy[setting]:.3f}"
  )
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
supports.draw_disjoint_supports(result, axes)
plt.show()

# %% [markdown]
# ## 4. The density ratio a discriminator learns (Goodfellow et al. 2014, Prop. 1)
#
# For a fixed G the optimal discriminator is D* = p / (p + p_g), so D* / (1 - D*) = p / p_g and
# logit D* = log p - log p_g. We train D alone (minimax loss) between p = N(0, 1) and a frozen
# affine G with p_g = N(1, 0.7^2), and compare D's logit with the true log ratio on a grid over the
# central 95 % of the mixture (p + p_g) / 2. `density_ratio(run, x, state=state)` reads
# D / (1 - D) off any trained GAN with a sigmoid objective.

# %%
from jaxgen.theory import density_ratio

ratio = density_ratio.density_ratio_experiment(quick=QUICK)
print(
  f"after {ratio.num_steps} D steps, on [{ratio.grid[0]:.2f}, {ratio.grid[-1]:.2f}]: "
  f"max |logit D - log p/p_g| = {ratio.max_error:.3f}, RMS = {ratio.rms_error:.3f} "
  f"(the true log ratio spans [{ratio.true_log_ratio.min():.2f}, "
  f"{ratio.true_log_ratio.max():.2f}])"
)
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
density_ratio.draw_density_ratio(ratio, axes)
plt.show()
