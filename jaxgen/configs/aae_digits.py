"""Adversarial autoencoder (Makhzani et al. 2015) on the digits: deterministic conv encoder, a
latent MLP discriminator, and a mixture of 10 Gaussians as the prior (their Fig. 4). Other priors:
--config.algorithm.prior.name=gaussian | spike_and_slab (then drop the mixture's options, e.g.
--config.algorithm.prior='{"name": "spike_and_slab", "slab_probability": 0.5}' in Python).

  python scripts/train.py --config=jaxgen/configs/aae_digits.py --workdir=workdirs/aae_digits
"""

from jaxgen import stabilisers
from jaxgen.configs import vae_digits


def get_config():
  config = vae_digits.get_config()
  config.algorithm.name = "aae"
  config.algorithm.prior = {
    "name": "gaussian_mixture",
    "num_components": 10,
    "radius": 2.0,
    "std": 0.5,
  }
  config.algorithm.penalty_weight = 1.0
  config.algorithm.loss = "non_saturating"
  config.algorithm.stochastic_encoder = False
  config.model.latent_dim = 8
  config.model.discriminator = {"name": "mlp", "hidden": (256, 256), "maxout_pieces": 0}
  config.optimizer.discriminator = {"name": "adam", "learning_rate": 5e-4, "b1": 0.5}
  # Every switch of the adversarial pieces off; they act on the discriminator on codes.
  config.algorithm.stabilisers = stabilisers.default_config()
  config.algorithm.penalty = {"name": "none", "weight": 0.0}
  return config
