"""Unrolled GAN with the settings of Metz et al. 2016's appendix A (the 2-D mixture of Gaussians).

python scripts/train.py --config=unrolled_metz_paper_ring8 --workdir=workdirs/unrolled_metz_paper
python scripts/reproduce_unrolled.py --config=unrolled_metz_paper_ring8 --unroll=0,10

The appendix's settings: 8 Gaussians on a ring of radius 2, std 0.02; z ~ N(0, I_256); G 2 x 128
ReLU with a linear output; D scales its input by 1/4, then 1 x 128 ReLU and a linear logit; every
weight orthogonal with gain 0.8; G descends log D(x) + log(1 - D(G(z))) at the unrolled D, D
descends its cross-entropy; Adam lr 1e-4, beta1 0.5 for both; alternating updates. Fig. 1 compares
K = 10 with K = 0.

Not stated in the paper, so taken from the authors' public demo (poolio/unrolled_gan): batch 512,
TensorFlow 1.0's orthogonal initialiser (`orthogonal_tf1`), beta2 0.999 and eps 1e-8, 25,000
iterations. The paper counts "one step" as either player's update; here a step updates D then G.
"""

from jaxgen.configs import unrolled_metz_ring8


def get_config():
  config = unrolled_metz_ring8.get_config()
  config.data.options = {"radius": 2.0, "std": 0.02, "num_examples": None}
  orthogonal = {"kernel_init": "orthogonal_tf1", "init_scale": 0.8, "activation": "relu"}
  config.model.generator = {"name": "mlp", "hidden": (128, 128), "batch_norm": False, **orthogonal}
  config.model.discriminator = {
    "name": "mlp",
    "hidden": (128,),
    "maxout_pieces": 0,
    "input_scale": 0.25,
    **orthogonal,
  }
  config.algorithm.unroll_steps = 10
  config.algorithm.updates = "alternating"
  adam = {"name": "adam", "learning_rate": 1e-4, "b1": 0.5, "b2": 0.999, "eps": 1e-8}
  config.optimizer.generator = dict(adam)
  config.optimizer.discriminator = {**adam, "eps_root": 1e-8}
  return config
