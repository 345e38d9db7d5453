"""Variational Sparse Coding (Tonolini, Jensen & Murray-Smith 2019) on the bundled digits: the
`vae_digits` networks, budget and optimizer, with a spike-and-slab posterior and prior.

  python scripts/train.py --config=jaxgen/configs/sparse_vae_digits.py \
      --workdir=workdirs/sparse_vae_digits
"""

from jaxgen.configs import vae_digits


def get_config():
  config = vae_digits.get_config()
  config.algorithm.name = "sparse_vae"
  # alpha = 0.2: our choice, not tuned (one in five coordinates on the slab a priori); 16 latents
  # as vae_digits.
  config.algorithm.slab_probability = 0.2
  # c = 100, the authors' code (`_sample_from_gaussian_dist(..., 100)`).
  config.algorithm.selector_sharpness = 100.0
  # The authors' spike warm-up, over the first 10% of the 3000 steps (0 switches it off).
  config.algorithm.spike_warmup_steps = 300
  return config
