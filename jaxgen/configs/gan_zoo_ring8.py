"""The GAN on ring8 with every switch of the GAN family spelled out (all off): the base of the
objective and stabiliser configs, so each switch can be set on the command line, e.g.

  python scripts/train.py --config=jaxgen/configs/gan_zoo_ring8.py --workdir=workdirs/zoo \
    --config.algorithm.stabilisers.packing=2 --config.batch_size=200
"""

import ml_collections

from jaxgen import stabilisers
from jaxgen.configs import gan_ring8


def get_config():
  config = gan_ring8.get_config()
  config.algorithm.penalty = ml_collections.ConfigDict({"name": "none", "weight": 0.0})
  config.algorithm.weight_clip = 0.0
  config.algorithm.stabilisers = stabilisers.default_config()
  return config
