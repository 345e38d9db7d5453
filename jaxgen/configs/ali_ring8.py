"""ALI (Dumoulin et al. 2017) on ring8, or grid25 after ':', with PacGAN's networks (Table 1 setup).

python scripts/train.py --config=jaxgen/configs/ali_ring8.py --workdir=workdirs/ali_ring8
python scripts/train.py --config=jaxgen/configs/ali_ring8.py:grid25 --workdir=workdirs/ali_grid25

PacGAN's setup (Lin et al. 2018, sec. 5.1; `gan_ring8`): G 4 x 400 ReLU + batch norm, z_dim 2; D
maxout 3 x 200 with 5 pieces, here on the pair [x, z] (4 inputs); Adam lr 1e-4, beta1 0.8 for
every player; batch 100. The encoder is as large as G: 4 x 400 ReLU (the registered 'mlp' encoder,
no batch norm) to ALI's Gaussian q(z|x) (`algorithm.stochastic_encoder`; False: BiGAN's
deterministic E). The authors' own 2-D ALI (IshmaelBelghazi/ALI `experiments/ali_mixture.py`) has
the same G and D, and an encoder of 2 x 400 ReLU + batch norm fed [x, eps] (a noise-input q(z|x)).
Updates are ALI's Algorithm 1: the three gradients at one point, then applied together
(`algorithm.updates = 'simultaneous'`).

BiGAN on the same data: --config.algorithm.stochastic_encoder=False.
"""

from jaxgen.configs import gan_ring8
from jaxgen.errors import ConfigError

DATA = ("ring8", "grid25")
# The row of `scripts/mode_collapse_benchmark.py` (no overrides: this config as it is).
MODE_COLLAPSE_METHODS = {"ALI": {}}


def get_config(data: str = "ring8"):
  """`data`: "ring8" (PacGAN's ring of 8 Gaussians) or "grid25" (their 5 x 5 grid)."""
  if data not in DATA:
    raise ConfigError(f"ali_ring8: after ':' comes one of {DATA}, not {data!r}.")
  config = gan_ring8.get_config()
  config.data.name = data
  config.algorithm.name = "ali"
  # The GAN family's switches that ALI does not take (jaxgen.algorithms.ali.ALI.OPTIONS).
  for key in ("penalty", "weight_clip", "generator_reuses_fakes", "stabilisers"):
    del config.algorithm[key]
  config.algorithm.loss = "non_saturating"  # ALI eq. 4, Algorithm 1's L_g
  config.algorithm.stochastic_encoder = True  # ALI; False: BiGAN
  config.algorithm.updates = "simultaneous"  # ALI Algorithm 1
  config.model.encoder = {"name": "mlp", "hidden": (400, 400, 400, 400)}  # as large as G
  config.optimizer.encoder = dict(config.optimizer.generator)  # PacGAN's Adam(1e-4, 0.8)
  return config
