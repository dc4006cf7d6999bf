"""The benchmark script runs and prints every figure it promises (timings are not asserted here)."""
import subprocess
import sys


def test_quick_benchmark_prints_all_sections():
    result = subprocess.run([sys.executable, "-m", "chlu_core.bench", "--quick"], capture_output=True,
                            text=True, timeout=300, check=True)
    out = result.stdout
    for name in ("CHLU", "LSTM", "NODE"):
        for batch in ("  1", "256"):
            assert f"{name:5s} batch {batch}: " in out
        assert f"  {name:5s}: " in out  # training-iteration line
    assert "6,250-step rollout at batch 1" in out and "per-step cost at batch 256" in out
    energy_rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["100"], ["1000"], ["10000"])]
    assert len(energy_rows) == 3 and all(float(row[1]) > 0 and float(row[2]) > 0 for row in energy_rows)
