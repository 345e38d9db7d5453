"""How a GAN-family algorithm draws its fakes, and G's step on the fakes D's last phase saw.

`GanFakes` is a mixin of `gan.GAN`: z ~ p(z), G(z) in either mode, `make_fakes` (the override point
of the subclasses whose fakes carry labels or codes), and `algorithm.generator_reuses_fakes`, the
reuse by G's step of the last D phase's fakes (PyTorch's DCGAN example). Whether an algorithm may
reuse them is its declared capability `FAKES_REUSABLE`, not a test of its type.

It reads the attributes `GAN.__init__` sets: `generator`, `latent_dim`, `generator_classes`,
`conditional`, `updates`, `players`, `schedule`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxgen.algorithms.base import TrainState, apply_module, phase_noise_key
from jaxgen.algorithms.gan_roles import check_generator_reuses_fakes
from jaxgen.errors import ConfigError


class GanFakes:
  """G's fakes and their reuse by G's step; see the module docstring."""

  # The capability `algorithm.generator_reuses_fakes` needs: a fake is a function of z and G's
  # params alone (no labels, codes or several generators), and G's step is `make_fakes` then
  # `generator_loss_on_fakes`. The plain GAN declares True; a subclass that adds conditioning,
  # generators, or its own G loss or G step declares False.
  FAKES_REUSABLE = False

  def generator_labels(self, batch):
    """The labels G is conditioned on, `batch["y"]`, or None for a G that takes no classes."""
    return batch["y"] if self.generator_classes else None

  def latents(self, rng, num):
    """z ~ N(0, I), the prior of Radford et al. 2016 (any simple prior serves, Goodfellow 2014)."""
    return jax.random.normal(rng, (num, self.latent_dim))

  def generate(self, state, rng, num, labels, *, train, params=None, z=None, player="generator"):
    """G(z) and G's updated model state; `params` overrides G's params (to differentiate)."""
    g = state.players[player]
    params = g.params if params is None else params
    z = self.latents(rng, num) if z is None else z
    return apply_module(self.generator, params, g.model_state, z, labels, train=train)

  def make_fakes(self, state: TrainState, rng, batch, *, params=None, player="generator"):
    """G's training-mode samples for `batch`, G's new model state, and the conditioning the
    auxiliary losses need (`{}` here; ACGAN's labels, InfoGAN's codes)."""
    num, labels = batch["x"].shape[0], self.generator_labels(batch)
    fake, model_state = self.generate(
      state, rng, num, labels, train=True, params=params, player=player
    )
    return fake, model_state, {}

  def check_fake_reuse(self, value: Any, algorithm_name: str) -> bool:
    """`algorithm.generator_reuses_fakes` (absent: False), refused where the fakes of a D phase
    depend on more than z and G's params (`FAKES_REUSABLE`, `conditional`)."""
    if value is None:
      return False
    try:
      reuse = check_generator_reuses_fakes(value)
    except ValueError as error:
      raise ConfigError(f"{error} Set it to True or False.") from None
    if reuse and self.updates == "simultaneous":
      raise ConfigError(
        "algorithm.generator_reuses_fakes = True reuses the last D phase's fakes between "
        "alternating updates; with algorithm.updates = 'simultaneous' G's step already takes D's "
        "fakes. Set it to False."
      )
    if reuse and (not self.FAKES_REUSABLE or self.conditional):
      raise ConfigError(
        f"algorithm.generator_reuses_fakes = True is for the unconditional plain GAN (algorithm "
        f"'gan', conditional=False); algorithm {algorithm_name!r} with conditional="
        f"{self.conditional} draws fakes from more than z. Set it to False."
      )
    return reuse

  def fakes_with_pullback(self, state, rng, batch, player="generator"):
    """(G(z), the pullback of G(z) to G's params, G's new model state, the conditioning).

    Both players' steps call this with `generator_reuses_fakes`, so that the forward pass is
    traced alike in both (D's step drops the pullback) and XLA may merge the two. Measured on
    XLA:CPU (jax 0.10.2): it merges G's projection only; batch norm's `rsqrt(var) * scale` is
    rewritten differently where the backward keeps `rsqrt` as a residual, and the convolutions
    after it stay twice (notes/readme_dcgan_speed.md).
    """

    def make(params):
      fake, model_state, conditioning = self.make_fakes(
        state, rng, batch, params=params, player=player
      )
      return fake, (model_state, conditioning)

    params = state.players[player].params
    fake, pullback, (model_state, conditioning) = jax.vjp(make, params, has_aux=True)
    return fake, pullback, model_state, conditioning

  def discriminator_fakes(self, state: TrainState, rng, batch):
    """The fakes of D's step and their conditioning: drawn as G's step draws them when it reuses
    them (`fakes_with_pullback`), else by `make_fakes`."""
    if self.generator_reuses_fakes:
      fake, _, _, conditioning = self.fakes_with_pullback(state, rng, batch)
    else:
      fake, _, conditioning = self.make_fakes(state, rng, batch)
    return fake, conditioning

  def generator_grads_on_reused_fakes(self, state: TrainState, batch, rng, player):
    """G's gradient on the last D phase's fakes (`generator_reuses_fakes`, as PyTorch's DCGAN
    example does): that phase's rng is its shared key (`Player.shares_phase_noise`), so z is
    redrawn alike, and G's params and batch statistics have not moved since, so G(z) is the batch
    D just saw. Chain rule: dL/dtheta = (dG(z)/dtheta)^T dL/dG(z) + dL/dtheta|_G(z) fixed (the
    second term: historical averaging)."""
    z_rng = phase_noise_key(state, len(self.schedule) - 2)  # the last D phase's
    fake, pullback, model_state, conditioning = self.fakes_with_pullback(
      state, z_rng, batch, player
    )
    loss_fn = lambda fake, params: self.generator_loss_on_fakes(
      state, params, batch, rng, fake, conditioning, None, None, player
    )
    params = state.players[player].params
    grad_fn = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)
    (_, metrics), (fake_grad, direct_grad) = grad_fn(fake, params)
    (through_fakes,) = pullback(fake_grad)
    return jax.tree.map(jnp.add, through_fakes, direct_grad), model_state, metrics
