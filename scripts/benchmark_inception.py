"""FID Inception features per image on the CPU: jaxgen (before / after) vs pytorch-fid's network.

The PyTorch side is a twin of pytorch-fid's `InceptionV3` (`fid_inception_v3`, output block 3,
resize_input and normalize_input on), written here without torchvision (pytorch-fid imports it,
and no torchvision wheel matches this venv's torch). Weights are random (the real ones cannot be
downloaded here) and the SAME in both frameworks: the torch state dict is converted with
`inception.torch_state_to_variables`; outputs are checked to agree before timing.

Contenders run interleaved in one process (rounds take turns; the machine is shared), each timed
call is one batch after a warm-up call; the table gives the median ms/image and the spread.

  PYTHONPATH=. python scripts/benchmark_inception.py --batch-sizes 32 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jaxgen.metrics import inception


class BasicConv2d(nn.Module):
  """torchvision's BasicConv2d: bias-free conv, batch norm (eps 1e-3), ReLU."""

  def __init__(self, cin, cout, **kwargs):
    super().__init__()
    self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
    self.bn = nn.BatchNorm2d(cout, eps=0.001)

  def forward(self, x):
    return F.relu(self.bn(self.conv(x)))


def _avg_pool(x):  # pytorch-fid's patch: TensorFlow's average pool ignores the padding.
  return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
  def __init__(self, cin, pool_features):
    super().__init__()
    self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
    self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
    self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
    self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
    self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
    self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
    self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

  def forward(self, x):
    b5 = self.branch5x5_2(self.branch5x5_1(x))
    b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
    return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg_pool(x))], 1)


class InceptionB(nn.Module):
  def __init__(self, cin):
    super().__init__()
    self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
    self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
    self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
    self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

  def forward(self, x):
    b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
    return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
  def __init__(self, cin, c7):
    super().__init__()
    self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
    self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
    self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
    self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
    self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
    self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
    self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
    self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
    self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
    self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

  def forward(self, x):
    b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
    dbl = self.branch7x7dbl_1(x)
    for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
      dbl = layer(dbl)
    dbl = self.branch7x7dbl_5(dbl)
    return torch.cat([self.branch1x1(x), b7, dbl, self.branch_pool(_avg_pool(x))], 1)


class InceptionD(nn.Module):
  def __init__(self, cin):
    super().__init__()
    self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
    self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
    self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
    self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
    self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
    self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

  def forward(self, x):
    b3 = self.branch3x3_2(self.branch3x3_1(x))
    b7 = self.branch7x7x3_1(x)
    for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
      b7 = layer(b7)
    return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
  """FIDInceptionE_1 (average pool) or FIDInceptionE_2 (max pool)."""

  def __init__(self, cin, max_pool):
    super().__init__()
    self.max_pool = max_pool
    self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
    self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
    self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
    self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
    self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
    self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
    self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
    self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
    self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

  def forward(self, x):
    b3 = self.branch3x3_1(x)
    b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
    dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
    dbl = torch.cat([self.branch3x3dbl_3a(dbl), self.branch3x3dbl_3b(dbl)], 1)
    pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
    return torch.cat([self.branch1x1(x), b3, dbl, self.branch_pool(pooled)], 1)


class TorchFIDInception(nn.Module):
  """pytorch-fid's InceptionV3(output_blocks=[3]) plus the fc (logits), same layer names."""

  def __init__(self):
    super().__init__()
    self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
    self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
    self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
    self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
    self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
    self.Mixed_5b = InceptionA(192, 32)
    self.Mixed_5c = InceptionA(256, 64)
    self.Mixed_5d = InceptionA(288, 64)
    self.Mixed_6a = InceptionB(288)
    self.Mixed_6b = InceptionC(768, 128)
    self.Mixed_6c = InceptionC(768, 160)
    self.Mixed_6d = InceptionC(768, 160)
    self.Mixed_6e = InceptionC(768, 192)
    self.Mixed_7a = InceptionD(768)
    self.Mixed_7b = InceptionE(1280, max_pool=False)
    self.Mixed_7c = InceptionE(2048, max_pool=True)
    self.fc = nn.Linear(2048, inception.NUM_CLASSES)

  def forward(self, x):
    # pytorch-fid: x in [0, 1]; resize (bilinear, align_corners=False), then 2x - 1.
    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    x = 2 * x - 1
    x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
    x = F.max_pool2d(x, 3, stride=2)
    x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
    for block in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
      x = getattr(self, f"Mixed_{block}")(x)
    pool3 = F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)
    return pool3, self.fc(pool3)


def random_torch_network(seed: int) -> TorchFIDInception:
  """Default conv init; batch-norm affine and running statistics drawn away from (1, 0, 0, 1)."""
  torch.manual_seed(seed)
  network = TorchFIDInception().eval()
  with torch.no_grad():
    for module in network.modules():
      if isinstance(module, nn.BatchNorm2d):
        module.weight.uniform_(0.5, 1.5)
        module.bias.normal_(0.0, 0.1)
        module.running_mean.normal_(0.0, 0.1)
        module.running_var.uniform_(0.5, 2.0)
  return network


def _median_spread(times):
  return statistics.median(times), min(times), max(times)


def interleaved_ms(contenders: dict, rounds: int) -> dict:
  """{name: [ms per call]}: one call of each contender per round, in turn (after one warm-up)."""
  for run in contenders.values():
    run()
  times = {name: [] for name in contenders}
  for _ in range(rounds):
    for name, run in contenders.items():
      start = time.perf_counter()
      run()
      times[name].append((time.perf_counter() - start) * 1e3)
  return times


def ablations(extractor, batch: int, image_size: int, rounds: int) -> list:
  """Rows (step, variant, median ms/image, min, max): each change alone, on one batch."""
  variables, folded = extractor.variables, extractor.folded
  params, stats = variables["params"], variables["batch_stats"]
  rng = np.random.default_rng(1)
  images = jnp.asarray(rng.uniform(-1, 1, (batch, image_size, image_size, 3)), jnp.float32)
  stem_in = jnp.asarray(rng.normal(size=(batch, 147, 147, 32)), jnp.float32)  # Conv2d_2b's input
  block_in = jnp.asarray(rng.normal(size=(batch, 17, 17, 768)), jnp.float32)  # Mixed_6b's input

  stem = {"params": params["Conv2d_2b_3x3"], "batch_stats": stats["Conv2d_2b_3x3"]}
  stem_module = inception.BasicConv(64, (3, 3), padding=(1, 1))
  stem_folded = folded["Conv2d_2b_3x3"]
  names = ("branch1x1", "branch7x7_1", "branch7x7dbl_1", "branch_pool")
  block = params["Mixed_6b"]
  separate = {
    name: inception.fold_batch_norm(
      block[name]["conv"], block[name]["bn"], stats["Mixed_6b"][name]["bn"]
    )
    for name in names
  }

  @jax.jit
  def unfused(x):
    outs = [inception._conv(separate[name], x) for name in names[:3]]
    return outs + [inception._conv(separate["branch_pool"], inception._avg_pool_same(x))]

  @jax.jit
  def fused(x):
    sizes = (192, 128, 128, 192)
    return inception._split_fused(folded["Mixed_6b"], x, sizes, pooled_last=True)

  resize_before, resize_after = jax.jit(inception.preprocess), jax.jit(inception.preprocess_matmul)
  stem_before = jax.jit(lambda x: stem_module.apply(stem, x))
  stem_after = jax.jit(lambda x: inception._conv(stem_folded, x, padding=(1, 1)))
  cases = {
    f"resize {image_size} -> 299": {
      "jax.image.resize (before)": lambda: resize_before(images),
      "two matmuls (after)": lambda: resize_after(images),
    },
    "Conv2d_2b_3x3 at 147 px": {
      "conv, batch norm, ReLU (before)": lambda: stem_before(stem_in),
      "folded: conv + bias, ReLU (after)": lambda: stem_after(stem_in),
    },
    "Mixed_6b's four 1x1 convs (folded)": {
      "four convs, pool before its conv": lambda: unfused(block_in),
      "one fused conv, pool after (after)": lambda: fused(block_in),
    },
  }
  rows = []
  for step, contenders in cases.items():
    contenders = {
      name: (lambda run=run: jax.block_until_ready(run())) for name, run in contenders.items()
    }
    for name, values in interleaved_ms(contenders, rounds).items():
      median, low, high = _median_spread([value / batch for value in values])
      rows.append((step, name, median, low, high))
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32])
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--image-size", type=int, default=64)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument(
    "--ablations", action="store_true", help="also time each change alone (first batch size)"
  )
  args = parser.parse_args()

  network = random_torch_network(args.seed)
  state = {k: v.numpy() for k, v in network.state_dict().items()}
  extractor = inception.InceptionExtractor(inception.torch_state_to_variables(state), "random")

  def torch_run(images):
    with torch.inference_mode():
      chw = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
      pool3, logits = network((chw + 1) / 2)
    return pool3.numpy(), logits.numpy()

  def before(images):
    return jax.block_until_ready(inception.apply_reference(extractor.variables, images))

  def after(images):
    return jax.block_until_ready(extractor.features_and_logits(images))

  contenders = {"pytorch-fid network (torch)": torch_run, "jaxgen before": before}
  contenders["jaxgen after"] = after
  rng = np.random.default_rng(args.seed)
  rows = []
  for batch in args.batch_sizes:
    size = args.image_size
    images = rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
    outputs = {name: run(images) for name, run in contenders.items()}  # warm-up + compile
    reference = outputs["pytorch-fid network (torch)"]
    for name, out in outputs.items():
      for label, got, want in zip(("pool3", "logits"), out, reference, strict=True):
        error = float(np.abs(np.asarray(got) - want).max() / np.abs(want).max())
        print(f"batch {batch}: {name} {label} max |diff| / max |torch| = {error:.2e}")
        assert error < 1e-4, (name, label, error)
    calls = {name: (lambda run=run, x=images: run(x)) for name, run in contenders.items()}
    times = interleaved_ms(calls, args.rounds)
    times = {name: [value / batch for value in values] for name, values in times.items()}
    torch_median = statistics.median(times["pytorch-fid network (torch)"])
    for name, values in times.items():
      median, low, high = _median_spread(values)
      rows.append((batch, name, median, low, high, median / torch_median))
  ablation_rows = []
  if args.ablations:
    ablation_rows = ablations(extractor, args.batch_sizes[0], args.image_size, args.rounds)
  print(
    f"\nload average {os.getloadavg()[0]:.1f} (1 min) at the end; torch threads "
    f"{torch.get_num_threads()}; {args.rounds} rounds; {args.image_size} px -> 299 px\n"
  )
  print("| batch | network | ms/image (median) | min-max | vs torch |")
  print("|---|---|---|---|---|")
  for batch, name, median, low, high, ratio in rows:
    print(f"| {batch} | {name} | {median:.1f} | {low:.1f}-{high:.1f} | {ratio:.2f}x |")

  if ablation_rows:
    print(f"\nEach change alone (batch {args.batch_sizes[0]}):\n")
    print("| step | variant | ms/image (median) | min-max |")
    print("|---|---|---|---|")
    for step, name, median, low, high in ablation_rows:
      print(f"| {step} | {name} | {median:.2f} | {low:.2f}-{high:.2f} |")


if __name__ == "__main__":
  main()
