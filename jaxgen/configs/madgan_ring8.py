"""MAD-GAN (Ghosh et al. 2018) on ring8: four generators against one 5-class discriminator.

python scripts/train.py --config=jaxgen/configs/madgan_ring8.py --workdir=workdirs/madgan_ring8
"""

from jaxgen.configs import gan_zoo_ring8


def get_config():
  config = gan_zoo_ring8.get_config()
  config.algorithm.name = "madgan"
  config.algorithm.num_generators = 4
  return config
