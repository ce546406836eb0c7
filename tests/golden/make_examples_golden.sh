#!/usr/bin/env bash
# Runs each example under real PyTorch (ferrotorch -> torch, ferrotorch.vision -> torchvision) and
# stores its output as the golden. Usage: TORCH_PY=/path/to/torch-venv/bin/python bash tests/golden/make_examples_golden.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
for f in examples/*.py; do
  name=$(basename "$f" .py)
  tmp="examples/_torch_$name.py"
  sed 's/import ferrotorch\.vision as torchvision/import torchvision/; s/ferrotorch/torch/g' "$f" > "$tmp"
  MPLBACKEND=Agg "${TORCH_PY:-python}" "$tmp" > "tests/golden/$name.torch.txt" || { rm -f "$tmp"; exit 1; }
  rm -f "$tmp"
done
