"""Structure tests of the FID Inception port: shapes and parameter count via jax.eval_shape only."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from jaxgen.metrics import get_extractor, inception


def _conv(cin, cout, kh, kw=None):
  """Parameters of torchvision's BasicConv2d: bias-free conv + batch-norm weight and bias."""
  return cin * cout * kh * (kh if kw is None else kw) + 2 * cout


def _torchvision_inception_body():
  """Parameter count of Inception-v3 up to Mixed_7c, summed from torchvision's layer table."""

  def block_a(cin, pool):
    return (
      _conv(cin, 64, 1)
      + _conv(cin, 48, 1)
      + _conv(48, 64, 5)
      + _conv(cin, 64, 1)
      + _conv(64, 96, 3)
      + _conv(96, 96, 3)
      + _conv(cin, pool, 1)
    )

  def block_c(cin, c7):
    return (
      _conv(cin, 192, 1)
      + _conv(cin, c7, 1)
      + _conv(c7, c7, 1, 7)
      + _conv(c7, 192, 7, 1)
      + _conv(cin, c7, 1)
      + 2 * _conv(c7, c7, 7, 1)
      + _conv(c7, c7, 1, 7)
      + _conv(c7, 192, 1, 7)
      + _conv(cin, 192, 1)
    )

  def block_e(cin):
    return (
      _conv(cin, 320, 1)
      + _conv(cin, 384, 1)
      + _conv(384, 384, 1, 3)
      + _conv(384, 384, 3, 1)
      + _conv(cin, 448, 1)
      + _conv(448, 384, 3)
      + _conv(384, 384, 1, 3)
      + _conv(384, 384, 3, 1)
      + _conv(cin, 192, 1)
    )

  stem = (
    _conv(3, 32, 3) + _conv(32, 32, 3) + _conv(32, 64, 3) + _conv(64, 80, 1) + _conv(80, 192, 3)
  )
  block_b = _conv(288, 384, 3) + _conv(288, 64, 1) + _conv(64, 96, 3) + _conv(96, 96, 3)
  block_d = (
    _conv(768, 192, 1)
    + _conv(192, 320, 3)
    + _conv(768, 192, 1)
    + _conv(192, 192, 1, 7)
    + _conv(192, 192, 7, 1)
    + _conv(192, 192, 3)
  )
  return (
    stem
    + block_a(192, 32)
    + block_a(256, 64)
    + block_a(288, 64)
    + block_b
    + block_c(768, 128)
    + 2 * block_c(768, 160)
    + block_c(768, 192)
    + block_d
    + block_e(1280)
    + block_e(2048)
  )


def test_layer_table_reproduces_torchvisions_published_count():
  # torchvision's inception_v3 (aux head, 1000 classes) has 27,161,264 parameters.
  aux = _conv(768, 128, 1) + _conv(128, 768, 5) + 768 * 1000 + 1000
  assert _torchvision_inception_body() + 2048 * 1000 + 1000 + aux == 27_161_264


def test_parameter_count_equals_pytorch_fid_inception():
  # pytorch-fid's FID Inception: no aux head, fc with 1008 classes.
  expected = _torchvision_inception_body() + 2048 * 1008 + 1008
  assert expected == 23_850_960
  assert inception.parameter_count() == expected


@pytest.mark.parametrize("input_shape", [(2, 299, 299, 3), (2, 28, 28, 1)])
def test_output_and_block_shapes(input_shape):
  variables = inception.variable_shapes()
  images = jax.ShapeDtypeStruct(input_shape, jnp.float32)
  (pool3, logits), state = jax.eval_shape(
    lambda v, x: inception.FIDInceptionV3().apply(v, x, mutable=["intermediates"]),
    variables,
    images,
  )
  assert pool3.shape == (2, 2048) and logits.shape == (2, 1008)
  blocks = {name: value[0].shape for name, value in state["intermediates"].items()}
  # pytorch-fid's BLOCK_INDEX_BY_DIM: 64, 192, 768 and 2048 channels.
  assert blocks == {
    "block0": (2, 73, 73, 64),
    "block1": (2, 35, 35, 192),
    "block2": (2, 17, 17, 768),
    "block3": (2, 2048),
  }


def test_fid_average_pool_ignores_padding():
  # TensorFlow's (and pytorch-fid's patched) average pool: a constant image stays constant at the
  # borders; counting the zero padding would give 4/9 in the corners.
  pooled = inception._avg_pool_same(jnp.ones((1, 5, 5, 2)))
  np.testing.assert_allclose(pooled, 1.0, rtol=1e-6)


def _fake_torch_state():
  """A pytorch-fid-style state dict of zero views, named and shaped by PyTorch's conventions."""
  state = {}
  for collection, tree in inception.variable_shapes().items():
    for path, leaf in traverse_util.flatten_dict(tree).items():
      *modules, name = path
      if modules[-1] == "fc":
        torch_name, shape = {"kernel": ("weight", leaf.shape[::-1]), "bias": ("bias", leaf.shape)}[
          name
        ]
        key = f"fc.{torch_name}"
      elif name == "kernel":
        kh, kw, cin, cout = leaf.shape
        key, shape = ".".join(modules) + ".weight", (cout, cin, kh, kw)
      else:
        torch_name = {
          "scale": "weight",
          "bias": "bias",
          "mean": "running_mean",
          "var": "running_var",
        }
        key, shape = ".".join(modules) + f".{torch_name[name]}", leaf.shape
      assert collection == ("batch_stats" if name in ("mean", "var") else "params")
      state[key] = np.broadcast_to(np.float32(0), shape)
  return state


def test_pytorch_state_dict_keys_convert_with_transposed_weights():
  state = _fake_torch_state()
  # Spot checks of pytorch-fid's own names and shapes.
  assert state["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
  assert state["Mixed_6b.branch7x7_2.conv.weight"].shape == (128, 128, 1, 7)
  assert state["Mixed_7c.branch_pool.bn.running_var"].shape == (192,)
  assert state["fc.weight"].shape == (1008, 2048)
  assert len(state) == 94 * 5 + 2  # 94 BasicConv2d (conv weight + 4 bn entries) and fc
  marker = np.arange(32 * 3 * 3 * 3, dtype=np.float32).reshape(32, 3, 3, 3)
  state["Conv2d_1a_3x3.conv.weight"] = marker
  state["Conv2d_1a_3x3.bn.num_batches_tracked"] = np.array(0)
  variables = inception.torch_state_to_variables(state)
  kernel = variables["params"]["Conv2d_1a_3x3"]["conv"]["kernel"]
  # Flax HWIO [h, w, i, o] == PyTorch OIHW [o, i, h, w].
  np.testing.assert_array_equal(kernel[1, 2, 0, 5], marker[5, 0, 1, 2])
  assert jax.tree.map(np.shape, variables) == jax.tree.map(
    lambda s: s.shape, inception.variable_shapes()
  )


@pytest.mark.parametrize(
  ("edit", "message"),
  [
    (lambda s: s.pop("Mixed_5b.branch1x1.bn.running_mean"), "missing"),
    (lambda s: s.update({"fc.weight": np.zeros((1000, 2048))}), "fc.kernel has shape"),
    (lambda s: s.update({"AuxLogits.fc.weight": np.zeros((1000, 768))}), "unexpected"),
    (lambda s: s.update({"Mixed_5b.extra": np.zeros(3)}), "Unexpected key"),
  ],
)
def test_bad_state_dicts_raise_clear_errors(edit, message):
  state = _fake_torch_state()
  edit(state)
  with pytest.raises(ValueError, match=message):
    inception.torch_state_to_variables(state)


def test_missing_weights_give_clear_errors(tmp_path):
  with pytest.raises(ValueError, match="needs a weights file.*pt_inception-2015-12-05"):
    inception.load_fid_inception(None)
  with pytest.raises(ValueError, match="needs a weights file"):
    get_extractor("fid_inception")
  with pytest.raises(FileNotFoundError, match="do not exist"):
    inception.load_fid_inception(tmp_path / "absent.npz")


# --- The fast path (folded batch norms, fused 1x1 convs, matmul resize) vs the reference module ---


def _random_variables(shapes, seed=0):
  """Random Flax variables for `shapes`: He-scaled kernels, batch norms away from the identity
  (scale, bias, mean, var all non-trivial, so every term of the folding matters)."""
  rng = np.random.default_rng(seed)
  draw = {
    "scale": lambda shape: rng.uniform(0.5, 1.5, shape),
    "bias": lambda shape: rng.normal(0.0, 0.1, shape),
    "mean": lambda shape: rng.normal(0.0, 0.1, shape),
    "var": lambda shape: rng.uniform(0.5, 2.0, shape),
  }
  variables = {}
  for collection, tree in shapes.items():
    flat = {}
    for path, leaf in traverse_util.flatten_dict(tree).items():
      if path[-1] == "kernel":  # He-normal keeps the activations O(1) through the 94 layers
        values = rng.normal(0.0, np.sqrt(2.0 / np.prod(leaf.shape[:-1])), leaf.shape)
      else:
        values = draw[path[-1]](leaf.shape)
      flat[path] = np.asarray(values, np.float32)
    variables[collection] = traverse_util.unflatten_dict(flat)
  return variables


def _relative_error(got, want):
  return float(np.max(np.abs(np.asarray(got) - np.asarray(want))) / np.max(np.abs(want)))


def test_folded_basic_conv_equals_conv_batch_norm_relu():
  layer = inception.BasicConv(16, (3, 3), strides=2, padding=(1, 1))
  x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 9, 9, 8)), jnp.float32)
  shapes = jax.eval_shape(layer.init, jax.random.key(0), x)
  variables = _random_variables(shapes)
  want = layer.apply(variables, x)
  params, stats = variables["params"], variables["batch_stats"]
  folded = inception.fold_batch_norm(params["conv"], params["bn"], stats["bn"])
  got = inception._conv(folded, x, strides=2, padding=(1, 1))
  # One 72-term dot product per output, rounded differently (W s summed vs s times the sum):
  # a few float32 ulps of the largest output; 1e-5 is ~100 ulps.
  assert _relative_error(got, want) < 1e-5


@pytest.mark.parametrize("shape", [(2, 40, 53, 1), (1, 75, 75, 3)])
def test_matmul_resize_equals_preprocess(shape):
  images = jnp.asarray(np.random.default_rng(2).uniform(-1, 1, shape), jnp.float32)
  want = inception.preprocess(images)
  got = inception.preprocess_matmul(images)
  assert got.shape == want.shape == (shape[0], 299, 299, 3)
  # Each output is the same 4-term bilinear combination of inputs in [-1, 1], with the weights
  # rounded and summed in another order (measured up to 3.6e-6, ~30 ulps of 1); an index or
  # weight error would be O(0.1).
  np.testing.assert_allclose(got, want, atol=1e-5)


def test_extractor_fast_path_equals_reference_module():
  variables = _random_variables(inception.variable_shapes())
  extractor = inception.InceptionExtractor(variables, "random")
  images = jnp.asarray(np.random.default_rng(3).uniform(-1, 1, (2, 75, 75, 3)), jnp.float32)
  want = inception.apply_reference(variables, images)
  got = extractor.features_and_logits(images)
  for fast, reference in zip(got, want, strict=True):
    assert fast.shape == reference.shape
    # Tolerance: each conv's float32 sum of K products (K ~ 1e3) rounds to ~sqrt(K) u ~ 2e-6 of
    # its scale (u = 6e-8); folding/fusing only reorders those roundings, and the independent
    # errors of the ~47 convs on the longest path add to ~sqrt(47) * 2e-6 ~ 1.3e-5 relative to
    # the output scale (He init keeps it O(1)); measured 5e-7 to 7e-7. A wrong fold (e.g. without
    # the mean term, mean ~ 0.1) is off by ~1e-1.
    assert _relative_error(fast, reference) < 2e-5
