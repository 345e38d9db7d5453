"""The GAN on ring8, the base of the objective and stabiliser configs. Every switch of the GAN
family (`config.algorithm.penalty`, `.weight_clip`, `.stabilisers`; all off) is set on the command
line, as on any GAN config, e.g.

  python scripts/train.py --config=jaxgen/configs/gan_zoo_ring8.py --workdir=workdirs/zoo \
    --config.algorithm.stabilisers.packing=2 --config.batch_size=200
"""

from jaxgen.configs import gan_ring8


def get_config():
  return gan_ring8.get_config()
