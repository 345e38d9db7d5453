"""Wasserstein autoencoder (Tolstikhin et al. 2018) on the digits with the MMD penalty (IMQ kernel)
and the authors' MNIST settings: squared-error cost, lambda = 10, 8 latents, Adam(1e-3, beta1 0.5).
WAE-GAN: --config.algorithm.penalty=gan (latent discriminator 4 x 512, Adam 5e-4).

  python scripts/train.py --config=jaxgen/configs/wae_digits.py --workdir=workdirs/wae_digits
"""

from jaxgen import stabilisers
from jaxgen.configs import vae_digits


def get_config():
  config = vae_digits.get_config()
  config.algorithm.name = "wae"
  config.algorithm.penalty = "mmd"
  config.algorithm.penalty_weight = 10.0
  config.algorithm.prior = {"name": "gaussian"}
  config.algorithm.loss = "non_saturating"  # the WAE-GAN encoder's adversarial loss
  config.algorithm.stochastic_encoder = False
  config.algorithm.reconstruction = {"name": "squared_error"}
  config.model.latent_dim = 8
  config.model.discriminator = {"name": "mlp", "hidden": (512,) * 4, "maxout_pieces": 0}
  adam = {"name": "adam", "learning_rate": 1e-3, "b1": 0.5}
  config.optimizer.encoder = dict(adam)
  config.optimizer.decoder = dict(adam)
  config.optimizer.discriminator = {"name": "adam", "learning_rate": 5e-4, "b1": 0.5}
  # WAE-GAN's discriminator on codes takes the adversarial pieces' switches (all off).
  config.algorithm.stabilisers = stabilisers.default_config()
  return config
