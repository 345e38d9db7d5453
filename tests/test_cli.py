"""The `jaxgen` command: train, resume, eval, sample, list, --help and its one-line errors."""

import json
import shutil
import sys
from pathlib import Path

import hang_guard
import numpy as np
import pytest

from jaxgen import catalogue, cli

ROOT = Path(__file__).resolve().parents[1]
TINY = [
  "--config.num_steps=4",
  "--config.eval_every=4",
  "--config.checkpoint_every=2",
  "--config.log_every=1",
  "--config.batch_size=32",
  "--config.eval.num_samples=100",
  "--config.progress_bar=False",
]


def jaxgen(*args, status: int = 0) -> str:
  """Runs `jaxgen ARGS` in a subprocess; returns stdout, after checking the exit status."""
  result = hang_guard.run(
    [sys.executable, "-m", "jaxgen.cli", *map(str, args)], capture_output=True, text=True, cwd=ROOT
  )
  assert result.returncode == status, result.stderr[-3000:]
  return result.stdout if status == 0 else result.stderr


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  """A tiny gan_ring8 run trained by `jaxgen train`: checkpoints at steps 2 and 4."""
  workdir = tmp_path_factory.mktemp("cli") / "ring8"
  jaxgen("train", "tests/tiny_ring8_config.py", f"--workdir={workdir}", *TINY)
  return workdir


def _steps(workdir: Path) -> list[int]:
  return [json.loads(line)["step"] for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def test_train_writes_the_run(workdir):
  assert _steps(workdir)[-1] == 4
  assert json.loads((workdir / "config.json").read_text())["num_steps"] == 4


def test_resume_trains_on_with_the_recorded_config(workdir, tmp_path):
  copy = shutil.copytree(workdir, tmp_path / "ring8")
  jaxgen("resume", copy, "--config.num_steps=6")
  steps = _steps(copy)  # training and evaluation records: in order, each step's once
  assert sorted(set(steps)) == list(range(1, 7)) and sorted(steps) == steps
  recorded = json.loads((copy / "config.json").read_text())
  assert recorded["num_steps"] == 6 and recorded["batch_size"] == 32  # no flag retyped


def test_resume_refuses_an_override_that_changes_the_math(workdir):
  before = (workdir / "config.json").read_text()
  error = jaxgen("resume", workdir, "--config.algorithm.loss=minimax", status=2)
  assert error.strip().splitlines() == [error.strip()]  # one line, no traceback
  assert error.startswith("ConfigError: --config.algorithm.loss: resume keeps the run's math")
  assert "num_steps" in error and (workdir / "config.json").read_text() == before


def test_eval_scores_the_latest_checkpoint(workdir):
  table = jaxgen("eval", workdir)
  assert table.startswith("| step | num_samples | modes |")
  (record,) = json.loads((workdir / "evaluation.json").read_text())
  assert record["step"] == 4 and 0 <= record["high_quality"] <= 1
  jaxgen("eval", workdir, "--config.eval.num_samples=300")  # what is measured may be set
  records = json.loads((workdir / "evaluation.json").read_text())
  assert sorted(r["num_samples"] for r in records) == sorted([300, record["num_samples"]])


def test_sample_writes_a_picture_and_arrays(workdir, tmp_path, capsys):
  out = jaxgen("sample", workdir, "-n", 30, f"--out={tmp_path / 'points.png'}", "--step=2")
  assert "30x2 float32 samples of step 2" in out
  assert (tmp_path / "points.png").read_bytes()[:4] == b"\x89PNG"
  cli.main(["sample", str(workdir), "-n", "30", "--out", str(tmp_path / "points.npz")])
  with np.load(tmp_path / "points.npz") as arrays:
    assert arrays["samples"].shape == (30, 2) and arrays["samples"].dtype == np.float32
    assert int(arrays["step"]) == 4 and int(arrays["seed"]) == 0
    assert np.all(np.isfinite(arrays["samples"])) and "clipped_fraction" not in arrays
  assert "points.npz: 30x2 float32 samples of step 4 (seed 0)" in capsys.readouterr().out


def test_list_shows_the_components_by_kind(capsys):
  cli.main(["list"])
  lines = capsys.readouterr().out.splitlines()
  assert any(line.startswith("Configs") and "dcgan_digits" in line for line in lines)
  assert any(line.startswith("Algorithms") and "cyclegan" in line for line in lines)
  cli.main(["list", "evaluators", "--options"])
  listing = capsys.readouterr().out
  assert listing.startswith("Evaluators") and "  images: " in listing and "grid_columns" in listing
  titles = [title for title, _ in catalogue.sections()]
  for kind, prefix in cli.CATALOGUE_KINDS.items():
    assert any(title.startswith(prefix) for title in titles), kind


@pytest.mark.parametrize("command", ["", "train", "resume", "eval", "sample", "list"])
def test_every_subcommand_has_help(command):
  help_text = jaxgen(*filter(None, [command]), "--help")
  assert "usage: jaxgen" in help_text and "6  the workdir is in use" in help_text


def test_train_help_lists_the_config_keys_with_the_overrides(capsys):
  with pytest.raises(SystemExit) as exit:
    cli.main(["train", "gan_ring8", "--config.num_steps=7", "--help"])
  assert exit.value.code == 0
  help_text = capsys.readouterr().out
  assert "  num_steps = 7\n" in help_text and "  data.name = 'ring8'\n" in help_text


def test_an_unknown_config_name_is_one_line_with_status_2():
  error = jaxgen("train", "gan_rin8", status=2)
  assert error.strip().splitlines() == [
    "ConfigError: --config gan_rin8: no such config file, and not a config name. Did you mean "
    "jaxgen/configs/gan_ring8.py? Config names: " + error.split("Config names: ")[1].strip()
  ]


@pytest.mark.parametrize(
  "args, message",
  [
    (["eval", "{empty}"], "config.json not found: is {empty} the workdir of a jaxgen run?"),
    (["resume", "{empty}"], "config.json not found"),
    (["sample", "{empty}", "--out=s.png"], "config.json not found"),
    (["sample", "{workdir}", "--out=s.jpg"], "--out s.jpg: write a .png (a picture) or an .npz"),
    (["sample", "{workdir}", "-n", "0", "--out=s.npz"], "-n 0: the number of samples to draw"),
    (["eval", "{workdir}", "--config.seed=5"], "`jaxgen eval` takes only --config.eval.*"),
  ],
  ids=["eval_empty", "resume_empty", "sample_empty", "out_suffix", "n_0", "eval_override"],
)
def test_mistakes_are_one_line_with_status_2(workdir, tmp_path, capsys, args, message):
  places = {"empty": tmp_path, "workdir": workdir}
  with pytest.raises(SystemExit) as exit:
    cli.main([arg.format(**places) for arg in args])
  assert exit.value.code == 2
  error = capsys.readouterr().err
  assert error.count("\n") == 1 and error.startswith("ConfigError: ")
  assert message.format(**places) in error
