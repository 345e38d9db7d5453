"""WGAN (Arjovsky et al. 2017) on ring8: weight clipping, 5 critic steps, RMSProp.

python scripts/train.py --config=jaxgen/configs/wgan_ring8.py --workdir=workdirs/wgan_ring8
"""

from jaxgen.configs import gan_zoo_ring8


def get_config():
  config = gan_zoo_ring8.get_config()
  config.algorithm.loss = "wasserstein"
  # Arjovsky et al. 2017, Algorithm 1: alpha = 5e-5, c = 0.01, n_critic = 5, RMSProp.
  config.algorithm.weight_clip = 0.01
  config.algorithm.discriminator_steps = 5
  rmsprop = {"name": "rmsprop", "learning_rate": 5e-5}
  config.optimizer.generator = dict(rmsprop)
  config.optimizer.discriminator = dict(rmsprop)
  return config
