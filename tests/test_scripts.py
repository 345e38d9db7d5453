"""The command-line scripts run as the docs show them (small settings)."""

import re
import sys
from pathlib import Path

import hang_guard
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_script(*args):
  result = hang_guard.run(
    [sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT
  )
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


def test_optimizers_demo_prints_step_table_and_writes_png(tmp_path):
  out = tmp_path / "demo.png"
  stdout = run_script(ROOT / "scripts" / "optimizers_demo.py", "--out", out)
  assert "| ravine" in stdout and "| Rosenbrock" in stdout
  ravine = next(line for line in stdout.splitlines() if line.startswith("| ravine"))
  sgd, momentum, nesterov = (int(c) for c in ravine.strip("| ").split("|")[-3:])
  assert nesterov < momentum < sgd
  assert out.stat().st_size > 10_000


def test_benchmark_prints_a_row_per_contender():
  stdout = run_script(
    ROOT / "scripts" / "benchmark.py",
    "--configs=gan_ring8",
    "--rounds=2",
    "--iters=2",
    "--steps-per-call=2",
    "--cpu-dot-fusion=individual",
  )
  rows = {
    line.split("|")[1].strip(): line.strip("| ").split("|")[1:]
    for line in stdout.splitlines()
    if line.startswith("| jaxgen")
  }
  assert sorted(rows) == ["jaxgen", "jaxgen x2", "jaxgen, individual dots"], stdout
  for cells in rows.values():
    compile_s, ms, samples_per_s, gflops = cells[0], cells[1].split()[0], cells[2], cells[3]
    assert float(compile_s) > 0 and float(ms) > 0 and float(gflops) > 0
    assert float(samples_per_s.replace(",", "")) > 0


def test_benchmark_times_torch_in_a_process_of_its_own():
  pytest.importorskip("torch")
  benchmark = (
    "import os, sys; sys.path.insert(0, 'scripts'); import benchmark; "
    "benchmark.main(['--configs=gan_ring8', '--rounds=2', '--iters=2', '--compare-torch', "
    "'--torch-threads=1']); print('parent', os.getpid(), sys.modules.get('torch'))"
  )
  stdout = run_script("-c", benchmark)
  worker = re.search(r"in a process of its own: pid (\d+) \(this one: (\d+)\), 1 threads", stdout)
  assert worker, stdout
  parent = stdout.splitlines()[-1].split()
  assert parent == ["parent", worker[2], "None"], stdout  # torch never loaded here
  assert worker[1] != worker[2]
  torch_row = next(line for line in stdout.splitlines() if line.startswith("| torch |"))
  ms, ratio = torch_row.strip("| ").split("|")[2].split()[0], torch_row.split("|")[-2]
  assert float(ms) > 0 and ratio.split()[0] == "1.00", stdout


def test_theory_figures_draws_and_prints_the_numbers(tmp_path):
  stdout = run_script(
    ROOT / "scripts" / "theory_figures.py", "--quick", "--only", "bilinear_game", "--out", tmp_path
  )
  assert (tmp_path / "theory_bilinear_game.png").stat().st_size > 10_000
  factors = eval(next(line for line in stdout.splitlines() if "factors = " in line).split("= ")[1])
  assert factors["simultaneous"] == round(float(np.sqrt(1 + 0.1**2)), 6)  # sqrt(1 + lr^2), lr 0.1
