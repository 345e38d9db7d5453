"""The relativistic average standard GAN, RaSGAN (Jolicoeur-Martineau 2019, sec. 4.3), on ring8,
with PacGAN's networks and optimizer; `--config.algorithm.loss=ralsgan` gives RaLSGAN.

python scripts/train.py --config=jaxgen/configs/ragan_ring8.py --workdir=workdirs/ragan_ring8
"""

from jaxgen.configs import gan_zoo_ring8


def get_config():
  config = gan_zoo_ring8.get_config()
  config.algorithm.loss = "ragan"
  return config
