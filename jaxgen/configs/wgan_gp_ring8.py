"""WGAN-GP (Gulrajani et al. 2017) on ring8: the gradient penalty on interpolates.

python scripts/train.py --config=jaxgen/configs/wgan_gp_ring8.py --workdir=workdirs/wgan_gp_ring8
"""

from jaxgen.configs import gan_zoo_ring8


def get_config():
  config = gan_zoo_ring8.get_config()
  config.algorithm.loss = "wasserstein"
  # Gulrajani et al. 2017, Algorithm 1: lambda = 10, n_critic = 5, Adam(1e-4, beta1 0, beta2 0.9).
  config.algorithm.penalty = {"name": "wgan_gp", "weight": 10.0}
  config.algorithm.discriminator_steps = 5
  adam = {"name": "adam", "learning_rate": 1e-4, "b1": 0.0, "b2": 0.9}
  config.optimizer.generator = dict(adam)
  config.optimizer.discriminator = dict(adam)
  return config
