"""scripts/gpu_check.py, run on the CPU at toy sizes: the script a GPU machine runs keeps
working where no GPU is."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.py"


@pytest.mark.slow
def test_the_gpu_check_runs_every_check_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.md"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--accelerator", "cpu", "--quick",
                           "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    for heading in ("## 1. A training on the accelerator inside the locked-down worker",
                    "## 2. 2 candidate trainings sharing one cpu device",
                    "## 3. SB3 and SBX, accelerator against CPU",
                    "## 4. A population's 8 critic updates"):
        assert heading in text
    assert "rlimits, landlock, capabilities, seccomp" in text
    assert "| sbx | cpu |" in text and "every one trained (trained, trained)" in text


def test_without_a_gpu_the_check_says_so_and_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "gpu.md")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "torch sees no CUDA GPU here" in proc.stderr
    assert not (tmp_path / "gpu.md").exists()
