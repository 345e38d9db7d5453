# %% [markdown]
# ## 1. Gradient play on V(x, y) = xy does not converge
#
# Player x maximises V = xy, player y minimises it; the only equilibrium is (0, 0). With the joint
# field v(w) = (-dV/dx, dV/dy) = (-y, x) (the direction each player descends), gradient play is a
# rotation:
#
# - **simultaneous** steps (x, y) -> (x + lr y, y - lr x) multiply the radius by sqrt(1 + lr^2):
#   they spiral out;
# - **alternating** steps (x first, then y answers the new x) conserve Q = x^2 + y^2 + lr x y: they
#   cycle on an ellipse;
# - **extragradient** (Korpelevich 1976: step with the field at a look-ahead point), **optimistic**
#   gradient (Daskalakis et al. 2018: w - lr (2 v_t - v_{t-1}), `optax.optimistic_gradient_descent`
#   per player) and **consensus** optimisation (Mescheder et al. 2017: v + gamma grad |v|^2 / 2)
#   converge, at the closed-form rates sqrt(1 - lr^2 + lr^4), sqrt((1 + sqrt(1 - 4 lr^2)) / 2) and
#   sqrt((1 - lr gamma)^2 + lr^2).
#
# `jaxgen.theory.games` writes each rule for any V(x, y) (jax.grad); the tests check each against
# its closed-form iterates in float64.

# %%
from jaxgen.theory import games

bilinear = games.bilinear_game_experiment(quick=QUICK)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
games.draw_bilinear_game(bilinear, axes)
plt.show()
for name, radii in bilinear.radii.items():
  print(
    f"{name:>13}: closed-form factor {bilinear.factors[name]:.6f}, "
    f"measured last step {radii[-1] / radii[-2]:.6f}, radius {radii[0]:.3f} -> {radii[-1]:.3g} "
    f"after {len(radii) - 1} steps"
  )

# %% [markdown]
# ## 2. min max != max min, and the GAN whose D is not optimal
#
# Who commits first matters: for V(x, y) = (x - y)^2 on [0, 1]^2 with x minimising, min_x max_y V
# = 1/4 (x = 1/2, y answers with the far end) but max_y min_x V = 0 (x answers with x = y). Always
# max min <= min max; over mixed strategies the two meet (von Neumann; matching pennies: pure 1 vs
# -1, mixed 0).
#
# The GAN value V(D, p_g) is linear in p_g, so over all distributions min_G max_D V = max_D min_G V
# = -log 4: the orders agree on the value. What breaks in practice is the inner max: G's gradient
# equals the gradient of the min-max objective 2 JSD(p_data, p_g) - log 4 only at the optimal D*
# (envelope theorem). Below, a linear D (which can represent D* exactly here) trains alone by SGD
# through the training loop against p_data = N(0, 1) and a frozen p_g = N(1.5, 1), starting from
# D = 1/2; after k steps we measure G's minimax gradient against d(2 JSD)/d theta.

# %%
minmax = games.minmax_experiment(quick=QUICK)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
games.draw_minmax(minmax, axes)
plt.show()
print(
  f"(x - y)^2 on a 101-point grid: min max {minmax.grid_min_max}, max min {minmax.grid_max_min}"
)
print(f"matching pennies: pure {minmax.pennies_pure}, mixed {minmax.pennies_mixed}")
print(f"d(2 JSD)/d theta = {minmax.optimal_gradient:.4f}")
for k, gradient, error in zip(
  minmax.discriminator_steps, minmax.generator_gradients, minmax.relative_errors, strict=True
):
  print(f"k = {k:4d}: G's gradient {gradient:.4f}, relative error {error:.4f}")
