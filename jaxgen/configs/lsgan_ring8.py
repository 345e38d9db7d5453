"""LSGAN (Mao et al. 2017, 0-1 coding) on ring8, with PacGAN's networks and optimizer.

python scripts/train.py --config=jaxgen/configs/lsgan_ring8.py --workdir=workdirs/lsgan_ring8
"""

from jaxgen.configs import gan_zoo_ring8


def get_config():
  config = gan_zoo_ring8.get_config()
  config.algorithm.loss = "least_squares"
  return config
