"""Unrolled GAN with the settings of Metz et al. 2016's public demo (poolio/unrolled_gan,
`Unrolled GAN demo.ipynb`; the notebook says its settings are not the paper's, whose appendix
gives its own).

python scripts/train.py --config=unrolled_metz_ring8 --workdir=workdirs/unrolled_metz
jaxgen-train --config=unrolled_metz_ring8 --workdir=workdirs/k0 --config.algorithm.unroll_steps=0

The demo's settings, each from its notebook: 8 Gaussians on a ring of radius 1, std 0.01, a fresh
batch of 512 every step; z ~ N(0, I_256); G and D 2 x 128 tanh with linear outputs, every weight
from TensorFlow 1.0's orthogonal initialiser with gain 1.4 (biases 0); the saddle objective (G
descends D's cross-entropy's negative at the unrolled D); K = 5 steps of D's Adam on the same batch;
D Adam lr 1e-4, G Adam lr 1e-3, beta1 0.5, eps 1e-8; both players' updates computed at the same
parameters every iteration (both ops in one `sess.run`; TF1 does not order their reads and
writes, so "simultaneous" is the intent, not a guarantee); 25,000 iterations.

One difference: the demo's centres come from `linspace(0, 2 pi, 8)`, whose first and last angle
coincide (7 distinct modes, one of double weight); this config keeps ring8's 8 distinct modes,
which PacGAN and VEEGAN score. eps_root 1e-8 keeps the derivative of Adam's sqrt(v) finite where
v = 0 (TensorFlow's graph had the same hazard; JAX needs it stated).
"""

from jaxgen.configs import gan_ring8


def get_config():
  config = gan_ring8.get_config()
  config.data.options = {"radius": 1.0, "std": 0.01, "num_examples": None}
  config.batch_size = 512
  config.num_steps = 25_000
  config.eval_every = 1000
  config.checkpoint_every = 5000
  config.log_every = 100
  config.steps_per_call = 100  # MLP steps: dispatch dominates on CPU
  config.model.latent_dim = 256
  tanh_mlp = {"hidden": (128, 128), "activation": "tanh"}
  tanh_mlp |= {"kernel_init": "orthogonal_tf1", "init_scale": 1.4}
  config.model.generator = {"name": "mlp", "batch_norm": False, **tanh_mlp}
  config.model.discriminator = {"name": "mlp", "maxout_pieces": 0, **tanh_mlp}
  config.algorithm.name = "unrolled"
  config.algorithm.unroll_steps = 5
  config.algorithm.loss = "minimax"
  config.algorithm.updates = "simultaneous"
  adam = {"name": "adam", "b1": 0.5, "b2": 0.999, "eps": 1e-8}
  config.optimizer.generator = {**adam, "learning_rate": 1e-3}
  config.optimizer.discriminator = {**adam, "learning_rate": 1e-4, "eps_root": 1e-8}
  return config
