"""Goldens for tests/test_basics_tutorials.py, tests/test_blitz_tutorials.py and
tests/test_with_examples_tutorials.py: the stdout of each examples/basics, examples/blitz and
examples/with_examples script run under real PyTorch + torchvision (import lines turned back into
torch's) on the same synthetic data files and seed, plus vision_extras.json (torchvision's VGG reprs and
outputs, PNG files written by libpng).

Usage: /path/to/torch-venv/bin/python tests/golden/make_basics_golden.py [--blitz | --with-examples] [names]
(with no names it rewrites every script's golden of the series, and for basics vision_extras.json too)
"""

import os
import pathlib
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from basics_run import SERIES, run  # noqa: E402

GOLDEN = pathlib.Path(__file__).resolve().parent
OUT = GOLDEN / "basics"


def vision_extras():
    """torchvision.models.vgg11_bn's and vgg16's reprs, vgg16's first outputs for a small input after
    manual_seed(0), and PNG files written by torchvision.io.write_png (libpng) from seeded arrays, for the
    ferrotorch.vision.models / io tests."""
    import json

    import numpy as np
    import torch
    import torchvision

    out = {"vgg11_bn_repr": repr(torchvision.models.vgg11_bn(num_classes=10))}
    torch.manual_seed(0)
    m = torchvision.models.vgg16()
    out["vgg16_repr"] = repr(m)
    x = torch.rand(1, 3, 32, 32)
    m.eval()
    with torch.no_grad():
        out["vgg16_eval_out"] = m(x)[:, :8].tolist()
    rng = np.random.default_rng(5)
    for name, shape in (("gray", (1, 7, 13)), ("rgb", (3, 9, 5))):
        a = rng.integers(0, 256, size=shape, dtype=np.uint8)
        a[:, : shape[1] // 2] //= 8  # smooth rows so libpng picks several filter types
        torchvision.io.write_png(torch.from_numpy(a), str(OUT / f"{name}.png"))
        out[f"png_{name}"] = a.tolist()
        out[f"png_{name}_as_rgb"] = torchvision.io.read_image(
            str(OUT / f"{name}.png"), torchvision.io.ImageReadMode.RGB
        ).tolist()
    (OUT / "vision_extras.json").write_text(json.dumps(out))


def blitz_extras():
    """torchvision.models.resnet18's repr and first eval outputs after manual_seed(0), and the batches of a
    shuffled two-worker DataLoader after manual_seed(0), for tests/test_blitz_tutorials.py."""
    import json

    import torch
    import torchvision

    torch.manual_seed(0)
    m = torchvision.models.resnet18()
    out = {"resnet18_repr": repr(m), "resnet34_repr": repr(torchvision.models.resnet34(num_classes=10))}
    x = torch.rand(2, 3, 64, 64)
    m.eval()
    with torch.no_grad():
        out["resnet18_eval_out"] = m(x)[:, :8].tolist()
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(list(range(30)), batch_size=4, shuffle=True, num_workers=2)
    out["loader_epochs"] = [[b.tolist() for b in loader] for _ in range(2)]
    (GOLDEN / "blitz" / "blitz_extras.json").write_text(json.dumps(out))


if __name__ == "__main__":
    args = sys.argv[1:]
    series = "blitz" if "--blitz" in args else "with_examples" if "--with-examples" in args else "basics"
    args = [a for a in args if a not in ("--blitz", "--with-examples")]
    out = GOLDEN / series
    out.mkdir(exist_ok=True)
    for name in args or SERIES[series][1]:
        with tempfile.TemporaryDirectory() as d:
            (out / f"{name}.torch.txt").write_text(run(name, sys.executable, "torch", d, series=series))
        print("wrote", name)
    if series == "blitz" and not args:
        blitz_extras()
        print("wrote blitz_extras.json")
    if series == "basics" and not args:
        vision_extras()
        print("wrote vision_extras.json and the PNG files")
