#!/usr/bin/env bash
# Runs each example under real PyTorch (import lines swapped back) and stores its output as the golden.
# Usage: TORCH_PY=/path/to/torch-venv/bin/python bash tests/golden/make_examples_golden.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
for f in examples/*.py; do
  name=$(basename "$f" .py)
  sed 's/import ferrotorch as torch/import torch/; s/import ferrotorch.vision as torchvision/import torchvision/' "$f" \
    > "/tmp/$name.torch.py"
  "${TORCH_PY:-python}" "/tmp/$name.torch.py" > "tests/golden/$name.torch.txt"
done
