#!/usr/bin/env bash
# Runs each deterministic example under real PyTorch (ferrotorch -> torch, ferrotorch.vision ->
# torchvision) and stores its stdout as the golden that tests/test_examples.py compares against.
# The CIFAR example (timings, progress bars) and the fit versions (ferrotorch only) have no golden.
# Usage: TORCH_PY=/path/to/torch-venv/bin/python bash tests/golden/make_examples_golden.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
for name in linear_regression_scratch tabular_mlp; do
  tmp="examples/_torch_$name.py"
  sed 's/import ferrotorch\.vision as torchvision/import torchvision/; s/ferrotorch/torch/g' "examples/$name.py" > "$tmp"
  MPLBACKEND=Agg "${TORCH_PY:-python}" "$tmp" > "tests/golden/$name.torch.txt" || { rm -f "$tmp"; exit 1; }
  rm -f "$tmp"
done
