"""Scripts following PyTorch's "Deep Learning with PyTorch: A 60 Minute Blitz" (examples/blitz/*.py, using the
tutorials' API calls the way the tutorials do) run on ferrotorch and print what real PyTorch + torchvision
print for the same scripts with torch's import lines, data and seed (goldens: tests/golden/blitz/*.torch.txt,
written by ``tests/golden/make_basics_golden.py --blitz``).

Each script runs in a fresh directory (tests/golden/basics_run.py) holding a small synthetic CIFAR-10 in the
real pickle format (1000 training and 100 test images), so ``download=True`` fetches nothing, and a hub cache
with seeded ResNet-18 "pretrained" weights for the autograd tutorial. The CIFAR-10 script trains for the
tutorial's two epochs on that data with ``shuffle=True, num_workers=2``: its batches, losses and accuracies
equal PyTorch's byte for byte. Also here: torchvision.models.resnet18/34 and their ``weights=`` enums.
"""

import json
import pathlib
import re
import sys

import ferrotorch as torch
import ferrotorch.vision as torchvision
import numpy as np
import pytest
from ferrotorch.vision.models import ResNet18_Weights, ResNet34_Weights

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "golden"))
from basics_run import BLITZ, BLITZ_NAMES, selected_outputs  # noqa: E402

GOLDEN = HERE / "golden" / "blitz"
EXTRAS = json.loads((GOLDEN / "blitz_extras.json").read_text())
_ADDRESS = re.compile(r" object at 0x[0-9a-f]+>")  # grad_fn reprs carry memory addresses

# ---------------------------------------------------------------------------------------------------------
# torchvision.models.resnet


def test_resnet18_builds_prints_and_runs_like_torchvision():
    torch.manual_seed(0)
    m = torchvision.models.resnet18()  # kaiming_normal_(fan_out) and Linear draws equal torchvision's
    assert repr(m) == EXTRAS["resnet18_repr"]
    assert sum(p.numel() for p in m.parameters()) == 11689512
    assert (
        repr(torchvision.models.resnet34(num_classes=10)) == EXTRAS["resnet34_repr"]
    )  # draws, as the golden's
    x = torch.rand(2, 3, 64, 64)
    m.eval()
    with torch.no_grad():
        out = m(x)
    assert out.shape == (2, 1000)
    np.testing.assert_allclose(
        out[:, :8].numpy(), np.array(EXTRAS["resnet18_eval_out"]), rtol=1e-4, atol=1e-5
    )
    assert repr(torchvision.models.resnet34(num_classes=10)) == EXTRAS["resnet34_repr"]


def test_resnet18_trains_one_step():
    torch.manual_seed(1)
    m = torchvision.models.resnet18(num_classes=3)
    loss = (m(torch.rand(2, 3, 32, 32)) - torch.rand(2, 3)).sum()
    loss.backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in m.parameters())
    before = m.fc.weight.detach().clone()
    torch.optim.SGD(m.parameters(), lr=1e-2, momentum=0.9).step()
    assert not torch.equal(before, m.fc.weight)


def test_resnet_weights_enums_like_torchvision():
    assert ResNet18_Weights.DEFAULT is ResNet18_Weights.IMAGENET1K_V1
    assert repr(ResNet18_Weights.DEFAULT) == "ResNet18_Weights.IMAGENET1K_V1"
    assert ResNet18_Weights.DEFAULT.url == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert ResNet34_Weights.verify("IMAGENET1K_V1") is ResNet34_Weights.IMAGENET1K_V1
    assert ResNet18_Weights.verify("ResNet18_Weights.DEFAULT") is ResNet18_Weights.IMAGENET1K_V1
    with pytest.raises(ValueError, match="Failed to find Weights X in ResNet18_Weights"):
        ResNet18_Weights.verify("X")
    with pytest.raises(TypeError, match="expected ResNet18_Weights but received ResNet34_Weights"):
        torchvision.models.resnet18(weights=ResNet34_Weights.DEFAULT)
    with pytest.raises(ValueError, match="'num_classes' expected value 1000 but got 10"):
        torchvision.models.resnet18(weights="DEFAULT", num_classes=10)


def test_resnet18_weights_come_from_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match="downloads no pretrained weights.*resnet18-f37072fd.pth"):
        torchvision.models.resnet18(weights=ResNet18_Weights.DEFAULT)
    torch.manual_seed(5)
    saved = torchvision.models.resnet18()
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(saved.state_dict(), str(tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"))
    back = torchvision.models.resnet18(weights="DEFAULT")
    for (k, a), b in zip(saved.state_dict().items(), back.state_dict().values()):
        assert torch.equal(a, b), k


# ---------------------------------------------------------------------------------------------------------
# DataLoader: shuffle=True with num_workers=2 gives torch's batches for the same seed


def test_shuffled_two_worker_loader_batches_equal_torch():
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(list(range(30)), batch_size=4, shuffle=True, num_workers=2)
    assert [[b.tolist() for b in loader] for _ in range(2)] == EXTRAS["loader_epochs"]


# ---------------------------------------------------------------------------------------------------------
# the scripts


@pytest.fixture(scope="module", autouse=True)
def outputs(request, tmp_path_factory):
    """stdout of each script the selected tests compare, run two at a time in subprocesses started with this
    module's first test, so they overlap the in-process tests above (the script tests come last)."""
    with selected_outputs(request, tmp_path_factory, "blitz") as outputs_of:
        yield outputs_of


def _golden(name):
    return _ADDRESS.sub(" object at 0x…>", (GOLDEN / f"{name}.torch.txt").read_text())


@pytest.mark.parametrize("name", BLITZ_NAMES)
def test_tutorial_prints_what_pytorch_prints(outputs, name):
    # byte for byte, including the neural-networks tutorial's grad_fn chain from MseLossBackward0
    assert _ADDRESS.sub(" object at 0x…>", outputs(name)) == _golden(name)


def test_goldens_cover_every_tutorial():
    assert sorted(p.name for p in BLITZ.glob("*.py")) == sorted(f"{n}.py" for n in BLITZ_NAMES)
    assert all((GOLDEN / f"{n}.torch.txt").exists() for n in BLITZ_NAMES)
