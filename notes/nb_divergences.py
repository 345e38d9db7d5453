# %% [markdown]
# ## JSD's range: 0 <= JSD <= 1 bit (item 5)
#
# For discrete p, q with m = (p + q) / 2, JSD(p, q) = KL(p || m) / 2 + KL(q || m) / 2 (Lin 1991,
# Eq. 4.1). Since p <= 2m, each KL term is at most log 2, so 0 <= JSD <= log 2 = 1 bit: 0 iff
# p = q, 1 bit iff the supports are disjoint. `jaxgen.theory.divergences.jsd` is the library's JSD
# (0 log 0 = 0); here it runs over random distributions of several sizes, sparse ones and disjoint
# pairs included, and is checked against scipy's Jensen-Shannon distance squared.

# %%
from scipy.spatial import distance

from jaxgen.theory import divergences

rng = np.random.default_rng(0)
rows = []
for size in (2, 3, 10, 100):
  for _ in range(200):
    p, q = rng.dirichlet(np.full(size, 0.3)), rng.dirichlet(np.full(size, 0.3))
    p[rng.random(size) < 0.3] = 0  # sparse
    p = p / p.sum() if p.sum() else np.eye(size)[0]
    rows.append((size, divergences.jsd(p, q, base=2), distance.jensenshannon(p, q, base=2) ** 2))
sizes, ours, scipys = (np.array(c) for c in zip(*rows, strict=True))
print(
  f"JSD in bits over {len(ours)} random pairs: min {ours.min():.4f}, max {ours.max():.4f}; "
  f"max |ours - scipy| = {np.abs(ours - scipys).max():.2e}"
)
half = np.array([0.5, 0.5, 0.0, 0.0])
print(
  "p = q:",
  divergences.jsd(half, half, base=2),
  " disjoint:",
  divergences.jsd(half, half[::-1], base=2),
)

fig, ax = plt.subplots(figsize=(5, 3))
for size in (2, 3, 10, 100):
  ax.hist(ours[sizes == size], bins=30, range=(0, 1), histtype="step", label=f"{size} bins")
ax.set(xlabel="JSD(p, q) in bits", ylabel="pairs", title="JSD of random pairs lies in [0, 1]")
ax.legend()
plt.show()

# %% [markdown]
# ## KL, JSD and W1 between point masses and parallel segments (for item 3)
#
# Arjovsky et al. 2017, Example 1: between delta_0 and delta_theta, and between the uniform laws on
# {0} x [0, 1] and {theta} x [0, 1], KL = inf and JSD = log 2 for every theta != 0 (0 at theta = 0)
# while W1 = |theta|: only W1 says how far apart the supports are.

# %%
thetas = np.linspace(-1, 1, 201)
closed = [divergences.parallel_segments(t) for t in thetas]
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(thetas, [c["w1"] for c in closed], label="W1 = |theta|")
ax.plot(thetas, [c["jsd"] for c in closed], ".", ms=2, label="JSD (nats)")
ax.set(xlabel="theta", title="parallel segments: JSD jumps, W1 is continuous")
ax.legend()
plt.show()
print(
  "theta = 0.5:", divergences.parallel_segments(0.5), " theta = 0:", divergences.point_masses(0)
)

# %% [markdown]
# ## A critic recovers W1 (item 6)
#
# Kantorovich-Rubinstein: W1(p, q) = sup over 1-Lipschitz f of E_p f - E_q f (Arjovsky et al. 2017,
# Eq. 3); on the line W1 = int_0^1 |F^-1(u) - G^-1(u)| du exactly. The data is p = N(0, 1), the
# generator is affine and frozen at q = N(1, 2^2) (learning rate 0), and a WGAN-GP critic
# (lambda = 10) is trained by the loop; its estimate E_p f - E_q f on fresh samples lands near W1,
# a little above: the soft penalty's exact optimum is W1 + int (F_q - F_p)^2 / (2 lambda rho) dx
# (rho: the interpolates' density), about 10 % above. A weight-clipped critic (WGAN) is K-Lipschitz
# with K set by the clip c, so its raw estimate scales with K: far above W1 for c = 0.5, far below
# it as c shrinks; divided by K it is a lower bound of W1.

# %%
from jaxgen.theory import critics

critic_result = critics.critic_w1_experiment(quick=QUICK)
print(
  f"exact W1 = {critic_result.exact_w1:.4f}; WGAN-GP estimate = {critic_result.gp_estimate:.4f} "
  f"({100 * (critic_result.gp_estimate / critic_result.exact_w1 - 1):+.1f} %); "
  f"penalised optimum = {critic_result.gp_optimum:.4f}"
)
for c, e, k in zip(
  critic_result.clips, critic_result.clip_estimates, critic_result.clip_lipschitz, strict=True
):
  print(f"clip c = {c:<5g} raw estimate {e:10.4g}   K = {k:9.4g}   estimate / K = {e / k:.4f}")
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
critics.draw_critic_w1(critic_result, axes)
plt.show()

# %% [markdown]
# ## Goodfellow et al. 2014, Figure 1, by the training loop (item 7)
#
# p_data = N(1, 0.5^2); G(z) = b + w z starts at N(-1, 0.3^2); D is a small MLP. (a) after 50 D
# steps D is partially accurate; (b) D trained alone approaches D* = p_data / (p_data + p_g)
# (Proposition 1); (c) G's steps move p_g towards the data; (d) at the end p_g = p_data and
# D = 1/2 on the data's support (Theorem 1).

# %%
from jaxgen.theory import figure1

figure1_result = figure1.figure1_experiment(quick=QUICK)
print(
  "steps",
  figure1_result.steps,
  " b",
  np.round(figure1_result.generator_mean, 3),
  " |w|",
  np.round(figure1_result.generator_std, 3),
)
print(
  f"(b) max |D - D*| = {figure1_result.optimal_error_b:.3f}; "
  f"(d) max |D - 1/2| on |x - 1| <= 1: {figure1_result.final_max_deviation:.3f}"
)
fig, axes = plt.subplots(1, 4, figsize=(16, 3.5), sharey=True)
figure1.draw_figure1(figure1_result, axes)
plt.show()
