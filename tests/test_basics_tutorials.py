"""Scripts following PyTorch's "Learn the Basics" tutorial series (examples/basics/*.py, using the tutorials'
API calls the way the tutorials do) run on ferrotorch and print what real PyTorch + torchvision print for the
same scripts with torch's import lines, data and seed (goldens: tests/golden/basics/*.torch.txt, written by
tests/golden/make_basics_golden.py).

Each script runs in a fresh directory holding small synthetic FashionMNIST files in the real idx format
(tests/golden/basics_run.py), so ``download=True`` finds them and fetches nothing. Also here: the pieces the
tutorials needed (torch.accelerator, torchvision.io.read_image, torchvision.models.vgg*, saving a whole
nn.Module), each against torch/torchvision goldens.
"""

import json
import math
import pathlib
import re
import sys
import zlib

import ferrotorch as torch
import ferrotorch.vision as torchvision
import numpy as np
import pytest
from ferrotorch import nn

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "golden"))
from basics_run import NAMES, selected_outputs  # noqa: E402

GOLDEN = HERE / "golden" / "basics"
EXTRAS = json.loads((GOLDEN / "vision_extras.json").read_text())

# The two training scripts print losses after several SGD steps: float32 matrix products accumulate in a
# different order from PyTorch's (the first step's loss is equal, the gradients differ in the last bits), so
# their numbers are compared to float32 rounding and the rest of their text exactly. Everything else is exact.
TOLERANT = {"quickstart_tutorial", "optimization_tutorial"}
_ADDRESS = re.compile(r" object at 0x[0-9a-f]+>")  # grad_fn reprs carry memory addresses
_NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


# ---------------------------------------------------------------------------------------------------------
# torch.accelerator


def test_accelerator_is_cpu_only():
    acc = torch.accelerator
    assert acc.is_available() is False and acc.device_count() == 0
    assert acc.current_accelerator() is None and acc.current_accelerator(check_available=True) is None
    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    assert device == "cpu" and torch.ones(2).to(device).device.type == "cpu"
    for f in (acc.current_device_index, acc.current_device_idx, acc.synchronize):
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            f()
    with pytest.raises(RuntimeError, match="none is available"):
        acc.set_device_index(0)
    with acc.device_index(None):
        pass
    with pytest.raises(RuntimeError, match="none is available"), acc.device_index(0):
        pass
    acc.empty_cache()


# ---------------------------------------------------------------------------------------------------------
# torchvision.io


def test_read_image_png_written_by_libpng():
    io = torchvision.io
    for name in ("gray", "rgb"):
        path = str(GOLDEN / f"{name}.png")
        img = io.read_image(path)
        assert img.dtype == torch.uint8 and img.tolist() == EXTRAS[f"png_{name}"]
        assert io.read_image(path, io.ImageReadMode.RGB).tolist() == EXTRAS[f"png_{name}_as_rgb"]
        assert io.decode_image(io.read_file(path)).tolist() == img.tolist()
    gray = io.read_image(str(GOLDEN / "gray.png"), mode=io.ImageReadMode.GRAY_ALPHA)
    assert gray.shape == (2, 7, 13) and gray[1].eq(255).all()


def _png(a, ctype, filters, palette=None, trns=None):
    """A PNG of the H×W×C uint8 array ``a`` with the given per-row filter types (a minimal encoder)."""
    h, w, c = a.shape
    rows, prev = [], np.zeros(w * c, np.int64)
    for y in range(h):
        cur = a[y].reshape(-1).astype(np.int64)
        left = np.concatenate([np.zeros(c, np.int64), cur[:-c]])
        upleft = np.concatenate([np.zeros(c, np.int64), prev[:-c]])
        f = filters[y % len(filters)]
        if f == 0:
            pred = np.zeros_like(cur)
        elif f == 1:
            pred = left
        elif f == 2:
            pred = prev
        elif f == 3:
            pred = (left + prev) // 2
        else:
            p = left + prev - upleft
            pa, pb, pc = abs(p - left), abs(p - prev), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        rows.append(bytes([f]) + ((cur - pred) & 255).astype(np.uint8).tobytes())
        prev = cur

    def chunk(kind, body):
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    out = b"\x89PNG\r\n\x1a\n" + chunk(
        b"IHDR", w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, ctype, 0, 0, 0])
    )
    if palette is not None:
        out += chunk(b"PLTE", palette.tobytes())
    if trns is not None:
        out += chunk(b"tRNS", trns.tobytes())
    return out + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")


def test_read_image_png_filters_colour_types_and_errors(tmp_path):
    io = torchvision.io
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(6, 5, 4), dtype=np.uint8)
    p = tmp_path / "rgba.png"
    p.write_bytes(_png(rgba, 6, [0, 1, 2, 3, 4]))
    assert io.read_image(str(p)).numpy().tolist() == rgba.transpose(2, 0, 1).tolist()
    assert (
        io.read_image(str(p), io.ImageReadMode.RGB).numpy().tolist()
        == rgba[..., :3].transpose(2, 0, 1).tolist()
    )
    palette = rng.integers(0, 256, size=(4, 3), dtype=np.uint8)
    idx = rng.integers(0, 4, size=(3, 7, 1), dtype=np.uint8)
    p = tmp_path / "pal.png"
    p.write_bytes(_png(idx, 3, [4, 1], palette=palette))
    assert io.read_image(str(p)).numpy().tolist() == palette[idx[..., 0]].transpose(2, 0, 1).tolist()
    p.write_bytes(_png(idx, 3, [0], palette=palette, trns=np.array([0, 255, 9], np.uint8)))
    alpha = np.array([0, 255, 9, 255], np.uint8)[idx[..., 0]]
    assert io.read_image(str(p))[3].numpy().tolist() == alpha.tolist()
    with pytest.raises(RuntimeError, match="Unsupported image file. Only jpeg, png, webp and gif"):
        io.decode_image(torch.tensor(list(b"P6 1 1 255 abc"), dtype=torch.uint8))
    with pytest.raises(RuntimeError, match="No such file or directory"):
        io.read_image(str(tmp_path / "missing.png"))
    try:
        import PIL  # noqa: F401
    except ImportError:
        with pytest.raises(NotImplementedError, match="needs Pillow"):
            io.decode_image(torch.tensor(list(b"\xff\xd8\xff\xe0") + [0] * 8, dtype=torch.uint8))


# ---------------------------------------------------------------------------------------------------------
# torchvision.models.vgg


def test_vgg16_builds_prints_and_runs_like_torchvision():
    # the save/load tutorial's model; its scripted stand-in saves a small network instead (VGG16 is 528 MB)
    models = torchvision.models
    torch.manual_seed(0)
    m = models.vgg16()  # kaiming_normal_ / normal_ draws equal torchvision's after the same seed
    assert repr(m) == EXTRAS["vgg16_repr"]
    assert sum(p.numel() for p in m.parameters()) == 138357544
    x = torch.rand(1, 3, 32, 32)
    m.eval()
    with torch.no_grad():
        out = m(x)
    assert out.shape == (1, 1000)
    np.testing.assert_allclose(out[:, :8].numpy(), np.array(EXTRAS["vgg16_eval_out"]), rtol=1e-4, atol=1e-6)
    with pytest.raises(NotImplementedError, match="ships no pretrained weights"):
        models.vgg16(weights="IMAGENET1K_V1")


def test_vgg_bn_repr_equals_torchvision():
    assert repr(torchvision.models.vgg11_bn(num_classes=10)) == EXTRAS["vgg11_bn_repr"]


# ---------------------------------------------------------------------------------------------------------
# torch.save / torch.load of a whole nn.Module


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU())
        self.head = nn.Linear(4, 2)
        self.scale = 0.5
        self.tags = {"a", "b"}

    def forward(self, x):
        return self.head(self.body(x)) * self.scale


def test_save_load_whole_module(tmp_path):
    torch.manual_seed(0)
    net = _Net()
    net(torch.randn(5, 3))  # moves the batch-norm running stats
    net.eval()
    path = str(tmp_path / "net.pth")
    torch.save(net, path)
    with pytest.raises(Exception, match="Weights only load failed") as e:
        torch.load(path)
    assert type(e.value).__name__ == "UnpicklingError" and "_Net" in str(e.value)
    back = torch.load(path, weights_only=False)
    assert type(back) is _Net and repr(back) == repr(net) and back.training is False
    assert back.scale == 0.5 and back.tags == {"a", "b"}
    assert list(back.state_dict()) == list(net.state_dict())
    for (k, a), b in zip(net.state_dict().items(), back.state_dict().values()):
        assert torch.equal(a, b), k
    assert isinstance(back.head.weight, nn.Parameter) and back.head.weight.requires_grad
    x = torch.randn(2, 3)
    assert torch.equal(back(x), net(x))
    # the file is safetensors: its tensors are named as in the state_dict
    from ferrotorch import _C

    entries, _ = _C._safetensors_load(open(path, "rb").read())
    assert {k for k, _ in entries} == set(net.state_dict())
    back.head.weight.data.zero_()  # a copy, not shared with the saved model
    assert not torch.equal(back.head.weight, net.head.weight)


def test_save_whole_module_errors(tmp_path):
    net = nn.Linear(2, 2)
    net.fn = lambda x: x  # not data
    with pytest.raises(TypeError, match=r"Linear\.fn: .*cannot save an object of type builtins\.function"):
        torch.save(net, str(tmp_path / "x.pth"))


# ---------------------------------------------------------------------------------------------------------
# the scripts


@pytest.fixture(scope="module", autouse=True)
def outputs(request, tmp_path_factory):
    """stdout of each script the selected tests compare, run two at a time in subprocesses started with this
    module's first test, so they overlap the in-process tests above (the script tests come last)."""
    with selected_outputs(request, tmp_path_factory, "basics") as outputs_of:
        yield outputs_of


def _golden(name):
    return (GOLDEN / f"{name}.torch.txt").read_text()


@pytest.mark.parametrize("name", [n for n in NAMES if n not in TOLERANT])
def test_tutorial_prints_what_pytorch_prints(outputs, name):
    got, want = outputs(name), _golden(name)
    assert _ADDRESS.sub(" object at 0x…>", got) == _ADDRESS.sub(" object at 0x…>", want)


@pytest.mark.parametrize("name", sorted(TOLERANT))
def test_training_tutorial_matches_pytorch_to_float32_rounding(outputs, name):
    got, want = outputs(name), _golden(name)
    assert _NUMBER.sub("#", got) == _NUMBER.sub("#", want)
    pairs = list(zip(map(float, _NUMBER.findall(got)), map(float, _NUMBER.findall(want))))
    # losses print 6 decimals: allow a few units in the last place; accuracies print 1 decimal
    bad = [(g, w) for g, w in pairs if not math.isclose(g, w, rel_tol=1e-5, abs_tol=5e-6)]
    assert not bad, f"numbers differ from PyTorch's beyond float32 rounding: {bad[:5]}"


def test_goldens_cover_every_tutorial():
    assert sorted(p.name for p in (HERE.parent / "examples" / "basics").glob("*.py")) == sorted(
        f"{n}.py" for n in NAMES
    )
    assert all((GOLDEN / f"{n}.torch.txt").exists() for n in NAMES)
