"""Energy-based GANs with an autoencoder discriminator: EBGAN and BEGAN.

D is an autoencoder (`model.discriminator.name = "autoencoder"`) and its energy is the
reconstruction error of a sample (`jaxgen.losses.reconstruction_energy`).

- EBGAN (Zhao et al. 2016): energy = mean squared error; L_D = D(x) + [m - D(G(z))]^+,
  L_G = D(G(z)) + lambda_PT f_PT(encoder codes of the fakes).
- BEGAN (Berthelot et al. 2017): energy L(v) = mean |v - D(v)|; L_D = L(x) - k_t L(G(z)),
  L_G = L(G(z)), k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1), and the
  convergence measure M_global = L(x) + |gamma L(x) - L(G(z))| logged as `generator/m_global`.
  k_t lives in `TrainState.extra["k"]`. With `algorithm.updates = "simultaneous"` (began_ring8's
  setting) both players update at the same parameter point, as in the paper's eq. 4.

Stabilisers that act on D's inputs (instance noise, packing) and on parameters (historical
averaging, spectral norm, generator EMA, replay) compose; those that need logits or targets
(label smoothing, feature matching, minibatch discrimination, gradient penalties) are refused.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxgen import losses
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.algorithms.base import TrainState, Values, register
from jaxgen.algorithms.gan import GAN, NOISE_FAKE, NOISE_REAL, Roles
from jaxgen.nn.traits import RECONSTRUCTION
from jaxgen.options import Option, number

# An autoencoder D has no logits, targets or features for G to match (its output is a
# reconstruction); what acts on its inputs and weights composes.
ENERGY_PROVIDES = frozenset(
  {rules.INPUTS, rules.UNCONDITIONAL, rules.REPLAYABLE, rules.WEIGHTS, rules.HISTORY}
  | {rules.GENERATORS}
)

# Mean squared error (EBGAN) and mean absolute error (BEGAN, eta = 1).
EBGAN_POWER, BEGAN_POWER = 2, 1


class EnergyGAN(GAN):
  """Shared by EBGAN and BEGAN: the autoencoder discriminator and its energies."""

  energy_power = EBGAN_POWER
  FAKES_REUSABLE = False  # G's loss is its own, not `generator_loss_on_fakes` (`gan_fakes`)

  def __init__(self, config, dataset):
    name = config.model.discriminator.get("name")
    if name != "autoencoder":
      raise ValueError(
        f"{type(self).__name__} needs model.discriminator.name = 'autoencoder'; got {name!r}."
      )
    super().__init__(config, dataset, Roles(provides=ENERGY_PROVIDES, reads=(RECONSTRUCTION,)))

  def energy(self, state: TrainState, x, *, params=None, model_state=None):
    """Per-sample energy [B], the encoder's code and D's updated model state."""
    params, model_state = self.discriminator_variables(state, params, model_state)
    (reconstruction, code), _, model_state = self.critic(params, model_state, x, None)
    return losses.reconstruction_energy(x, reconstruction, self.energy_power), code, model_state

  def energies(self, state: TrainState, params, batch, fake, rng, model_state=None):
    """Energies of the real batch and of the fakes as D sees them."""
    _, model_state = self.discriminator_variables(state, params, model_state)
    real, fake, (real_rec, _), (fake_rec, _), model_state = self.critic.real_and_fake(
      state.step, params, model_state, batch["x"], fake, None, self.adversary.noise_keys(rng)
    )
    real_energy = losses.reconstruction_energy(real, real_rec, self.energy_power)
    fake_energy = losses.reconstruction_energy(fake, fake_rec, self.energy_power)
    return real_energy, fake_energy, model_state

  def fake_energy(self, state: TrainState, params, batch, rng, d_params, d_model_state, player):
    """G's fakes, their energy and code under D's given params, and G's new model state."""
    fake, model_state, _ = self.make_fakes(state, rng, batch, params=params, player=player)
    fake = self.critic.inputs(state.step, fake, jax.random.fold_in(rng, NOISE_FAKE))
    energy, code, _ = self.energy(state, fake, params=d_params, model_state=d_model_state)
    return energy, code, model_state


@register("ebgan")
class EBGAN(EnergyGAN):
  """Energy-based GAN with the margin loss and the pulling-away term (Zhao et al. 2016)."""

  OPTIONS = (
    # Searched per data set (Zhao et al. 2016, appendix); 1 suits unit-scale data.
    Option(
      "margin",
      1.0,
      "m of D's loss E(x) + max(0, m - E(G(z))) (Zhao et al. 2016, eq. 1)",
      check=number(0.0),
    ),
    Option(
      "pulling_away_weight",
      0.1,
      "lambda_PT of the pulling-away term (Zhao et al. 2016)",
      check=number(0.0),
    ),
  )

  def __init__(self, config, dataset):
    super().__init__(config, dataset)
    self.margin, self.pulling_away_weight = self.options.margin, self.options.pulling_away_weight

  def discriminator_loss(self, state, params, batch, fake, conditioning, rng, model_state=None):
    """E(x) + max(0, m - E(G(z))) (Zhao et al. 2016, eq. 1): (loss, (D's state, metrics))."""
    real_energy, fake_energy, model_state = self.energies(
      state, params, batch, fake, rng, model_state
    )
    loss = losses.ebgan_discriminator_loss(real_energy, fake_energy, self.margin)
    loss = loss + self.memory.history_penalty(state, "discriminator", params)
    metrics = {"loss": loss, "real_energy": real_energy.mean(), "fake_energy": fake_energy.mean()}
    return loss, (model_state, metrics)

  def generator_loss(
    self, state, params, batch, rng, *, d_params=None, d_model_state=None, player="generator"
  ):
    """E(G(z)) + lambda_PT f_PT(codes of G(z)) (Zhao et al. 2016, eq. 2 and sec. 2.4)."""
    energy, code, model_state = self.fake_energy(
      state, params, batch, rng, d_params, d_model_state, player
    )
    pulling_away = losses.pulling_away_term(code)
    loss = losses.ebgan_generator_loss(energy) + self.pulling_away_weight * pulling_away
    loss = loss + self.memory.history_penalty(state, player, params)
    return loss, (model_state, {"loss": loss, "pulling_away": pulling_away})


@register("began")
class BEGAN(EnergyGAN):
  """Boundary equilibrium GAN: the k_t-balanced autoencoder game (Berthelot et al. 2017)."""

  energy_power = BEGAN_POWER
  # Berthelot et al. 2017: lambda_k = 0.001 and k_0 = 0 (sec. 3.4); gamma 0.3-0.7 in their runs.
  OPTIONS = (
    Option("gamma", 0.5, "the diversity ratio E[L(G(z))] / E[L(x)] (eq. 4)", check=number(0, 1)),
    Option(
      "lambda_k", 1e-3, "k_t's learning rate (Berthelot et al. 2017, eq. 4)", check=number(0, 1)
    ),
  )

  def __init__(self, config, dataset):
    super().__init__(config, dataset)
    self.gamma, self.lambda_k = self.options.gamma, self.options.lambda_k
    if self.options.discriminator_steps != 1:
      raise ValueError(
        "BEGAN updates D and G once each per step (Berthelot et al. 2017, eq. 4); set "
        f"algorithm.discriminator_steps = 1 (got {self.options.discriminator_steps!r})."
      )

  def init_extra(self):
    """The GAN's extra state and k_0 = 0, BEGAN's balance (Berthelot et al. 2017, sec. 3.4)."""
    return {**super().init_extra(), "k": np.float32(0.0)}  # k_0 = 0 (Berthelot et al. 2017)

  def discriminator_loss(self, state, params, batch, fake, conditioning, rng, model_state=None):
    """L(x) - k_t L(G(z_D)) (Berthelot et al. 2017, eq. 4): (loss, (D's state, metrics))."""
    real_energy, fake_energy, model_state = self.energies(
      state, params, batch, fake, rng, model_state
    )
    k = state.extra["k"]
    loss = losses.began_discriminator_loss(real_energy, fake_energy, k)
    loss = loss + self.memory.history_penalty(state, "discriminator", params)
    metrics = {
      "loss": loss,
      "real_energy": real_energy.mean(),
      "fake_energy": fake_energy.mean(),
      "k": k,
    }
    return loss, (model_state, metrics)

  def generator_loss(
    self, state, params, batch, rng, *, d_params=None, d_model_state=None, player="generator"
  ):
    """L(G(z_G)) (Berthelot et al. 2017, eq. 4); L(x) and M_global, constants, as metrics."""
    energy, _, model_state = self.fake_energy(
      state, params, batch, rng, d_params, d_model_state, player
    )
    fake_loss = losses.ebgan_generator_loss(energy)  # L(G(z_G)), the mean energy of the fakes
    # L(x) for k_t and M_global, measured where G's loss is (a constant to G).
    real = self.critic.inputs(state.step, batch["x"], jax.random.fold_in(rng, NOISE_REAL))
    real_energy, _, _ = self.energy(state, real, params=d_params, model_state=d_model_state)
    real_loss = jax.lax.stop_gradient(real_energy.mean())
    loss = fake_loss + self.memory.history_penalty(state, player, params)
    metrics = {
      "loss": loss,
      "real_energy": real_loss,
      "fake_energy": fake_loss,
      "m_global": losses.began_convergence_measure(real_loss, fake_loss, self.gamma),
    }
    return loss, (model_state, metrics)

  def update_extra(self, state: TrainState, values: Values):
    """k_{t+1} from this step's L(x) and L(G(z_G)) (Berthelot et al. 2017, eq. 4)."""
    extra = super().update_extra(state, values)
    extra["k"] = losses.began_k_update(
      state.extra["k"],
      values["generator"]["real_energy"],
      values["generator"]["fake_energy"],
      self.gamma,
      self.lambda_k,
    )
    return extra
