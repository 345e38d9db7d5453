"""PacGAN2 (Lin et al. 2018) on ring8: D judges pairs; 100 packs of 2 per batch, as in the paper.

python scripts/train.py --config=jaxgen/configs/pacgan_ring8.py --workdir=workdirs/pacgan_ring8
"""

from jaxgen.configs import gan_zoo_ring8


def get_config():
  config = gan_zoo_ring8.get_config()
  config.algorithm.stabilisers.packing = 2
  config.batch_size = 100 * config.algorithm.stabilisers.packing  # PacGAN: a batch of 100 packs
  return config
