"""InfoGAN with Chen et al. 2016's MNIST settings, as far as the 16x16 digits allow.

python scripts/train.py --config=jaxgen/configs/infogan_paper_digits.py \
  --workdir=workdirs/infogan_paper

Sources: Chen et al. 2016, sec. 6-7.1 and app. C.1 (Table 1), and the authors' code openai/InfoGAN
(launchers/run_mnist_exp.py, infogan/models/regularized_gan.py, infogan/algos/infogan_trainer.py).
What still differs (docs/theory/infogan_codes.md): no FC-1024 layer in G or in the D/Q
trunk, tanh output on [-1, 1] data instead of sigmoid on [0, 1], and 1437 8x8 training digits
(of scikit-learn's 1797) instead of 60000 28x28 MNIST digits.
"""

from jaxgen.configs import infogan_digits


def get_config():
  config = infogan_digits.get_config()
  # run_mnist_exp.py: latent_spec = [Uniform(62), Categorical(10), Uniform(1), Uniform(1)], the
  # continuous codes with a fixed-std (unit) Gaussian Q; info_reg_coeff = 1.0 for all codes.
  config.model.latent_dim = 62
  config.algorithm.noise_prior = "uniform"
  config.algorithm.categorical_codes = 10
  config.algorithm.continuous_codes = 2
  config.algorithm.info_weight = 1.0
  # Table 1 / regularized_gan.py: Q = FC.128-BN-lRELU on the shared trunk, then FC to the codes.
  config.algorithm.q_hidden = 128
  # regularized_gan.py "mnist": D conv 64 -> conv 128 (4x4, stride 2), G deconv 128 -> 64 -> 1;
  # leaky_rectify(x, leakiness=0.01) in custom_ops.py for D and Q.
  config.model.generator = {"name": "dcgan", "base_features": 64}
  config.model.discriminator = {"name": "dcgan", "base_features": 64, "leaky_slope": 0.01}
  # run_mnist_exp.py: batch_size 128, generator_learning_rate 1e-3, discriminator (and Q, which
  # lives in D's variable scope) 2e-4; infogan_trainer.py: Adam, beta1 0.5 (TF's beta2 0.999).
  config.batch_size = 128
  config.optimizer.generator.learning_rate = 1e-3
  config.optimizer.discriminator.learning_rate = 2e-4
  # run_mnist_exp.py: max_epoch 50 x updates_per_epoch 100 = 5000 (D, G) updates.
  config.num_steps = 5000
  return config
