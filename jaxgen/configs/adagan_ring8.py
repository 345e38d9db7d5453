"""AdaGAN (Tolstikhin et al. 2017, Algorithm 1) on ring8: four GANs trained one after another, each
on the training sample reweighted towards the points the mixture so far misses.

python scripts/train.py --config=jaxgen/configs/adagan_ring8.py --workdir=workdirs/adagan_ring8

PacGAN's networks, batch and Adam (`gan_ring8`); the same step budget as the other ring8 methods,
split into 4 rounds of 2,500 steps (the last 625 of rounds 1-3 train the reweighting classifier).
"""

from jaxgen.configs import gan_zoo_ring8


def get_config():
  config = gan_zoo_ring8.get_config()
  config.algorithm.name = "adagan"
  config.algorithm.rounds = 4  # MAD-GAN's k = 4 generators (madgan_ring8), for the comparison
  config.algorithm.beta = "uniform"  # beta_t = 1/t, the authors' default (beta_heur)
  config.algorithm.classifier_fraction = 0.25  # authors: 5 classifier epochs to 15 GAN epochs
  config.algorithm.training_set_size = 10_000  # S_N; the authors' 2-D runs hold 64,000
  return config
