"""VAE-GAN's equilibrium gating (Larsen et al. 2016's reference code, andersbll/
autoencoding_beyond_pixels, `aegan.GradientDescent.train_epoch`): a player out of equilibrium skips
its update.

With the discriminator's costs real = mean -log D(x) and fake = mean -log(1 - D(fake)) over the
fakes it sees, Dis skips its update when either cost is below equilibrium - margin (it is
winning), Dec skips its update when either is above equilibrium + margin (it is losing badly), and
both update when both would skip. The decision is made inside the jitted step: a gated player's
grad_fn returns it as the named value `updated`, which `update_args` hands to the player's
optimizer, `optim.apply_if(...)`, as `apply`; a paused player takes no step at all (parameters and
optimizer state unchanged, as the reference skips the learning rule) instead of the momentum step
Adam or RMSProp would take on a zero gradient. The encoder is never gated.

`EquilibriumGating` is a mixin of `vaegan.VAEGAN`; it reads `terms`, `weights` and the
autoencoder's `player_grads`, `weighted_grad_fn` and `_player` (`vae.Autoencoder`).
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxgen import optim
from jaxgen.options import Option, flag, number

# The gating's `config.algorithm` keys, the reference's values.
GATING_OPTIONS = (
  Option("equilibrium_gating", True, "skip a player's update out of equilibrium", check=flag),
  Option("equilibrium", 0.68, "the gating's equilibrium cost", check=number()),
  Option("equilibrium_margin", 0.35, "the gating's margin", check=number()),
)


def equilibrium_gates(real_cost, fake_cost, equilibrium: float, margin: float):
  """(update discriminator, update decoder) from the discriminator's costs, as the reference
  `aegan.GradientDescent.train_epoch`: Dis pauses when it is winning (a cost below equilibrium -
  margin), Dec pauses when it is losing badly (a cost above equilibrium + margin), never both."""
  update_dis = ~((real_cost < equilibrium - margin) | (fake_cost < equilibrium - margin))
  update_dec = ~((real_cost > equilibrium + margin) | (fake_cost > equilibrium + margin))
  neither = ~(update_dis | update_dec)
  return update_dis | neither, update_dec | neither


def check_gating(options) -> None:
  """Raises ValueError when equilibrium gating is on without a positive equilibrium and margin."""
  if options.equilibrium_gating and not (
    0 < options.equilibrium_margin and 0 < options.equilibrium
  ):
    raise ValueError(
      "equilibrium gating needs equilibrium > 0 and equilibrium_margin > 0; got "
      f"{options.equilibrium!r} and {options.equilibrium_margin!r}."
    )


class EquilibriumGating:
  """The gate on Dec and Dis; see the module docstring."""

  def init_gating(self, options) -> None:
    """The gating's settings from the options `GATING_OPTIONS` (checked)."""
    check_gating(options)
    self.gating = options.equilibrium_gating
    self.equilibrium = float(options.equilibrium)
    self.margin = float(options.equilibrium_margin)
    # The equilibrium gate pauses Dec and Dis, never Enc (the reference's rule).
    self.gated_players = ("decoder", "discriminator") if self.gating else ()

  def gated_player(self, config, name, module):
    """Player `name` on the weighted terms of its loss; a gated one with the gate's verdict as
    `updated` and an optimizer that applies its update only then (`optim.apply_if`)."""
    optimizer = optim.make_optimizer(config.optimizer[name])
    if name in self.gated_players:
      grad_fn = self._gated_grad_fn(name)
      optimizer = optim.apply_if(optimizer)
    else:
      grad_fn = self.weighted_grad_fn(name, self.terms, self.weights[name])
    return self._player(config, name, module, grad_fn, optimizer)

  def update_args(self, player, values):
    """A gated player's optimizer (`optim.apply_if`) applies its update iff the equilibrium gate
    let it learn, the `updated` value its grad_fn returned."""
    if player in self.gated_players:
      return {"apply": values[player]["updated"] > 0}
    return {}

  def _gated_grad_fn(self, name):
    """The weighted-terms gradient of `name`, with the equilibrium gate's verdict as `updated`."""

    def grad_fn(state, batch, rng):
      grads, model_state, metrics = self.player_grads(
        state, batch, name, self.terms, self.weights[name], rng
      )
      update_dis, update_dec = equilibrium_gates(
        metrics["real_cost"], metrics["fake_cost"], self.equilibrium, self.margin
      )
      update = update_dis if name == "discriminator" else update_dec
      return grads, model_state, {**metrics, "updated": update.astype(jnp.float32)}

    grad_fn.__doc__ = (
      f"Gradient of {dict(self.weights[name])} w.r.t. the {name}'s parameters, and `updated`: 1 "
      "when the equilibrium gate lets it learn, 0 when it pauses (then `update_args` skips it)."
    )
    return grad_fn
