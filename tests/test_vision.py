"""ferrotorch.vision: datasets read from files written here in the real formats, transforms, fast path,
golden batches from torchvision (tests/golden/make_data_golden.py)."""

import json
import os
import pickle
import sys

import ferrotorch as torch
import ferrotorch.vision as torchvision
import numpy as np
import pytest
from ferrotorch.utils.data import DataLoader, random_split
from ferrotorch.vision import transforms as T
from ferrotorch.vision.datasets import utils as dsutils

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "golden"))
from data_files import cifar_arrays, idx_bytes, mnist_arrays, write_cifar10, write_mnist  # noqa: E402

with open(os.path.join(HERE, "golden", "data_golden.json")) as _f:
    GOLD = json.load(_f)
ARR = np.load(os.path.join(HERE, "golden", "data_golden.npz"))
try:
    import PIL  # noqa: F401

    HAVE_PIL = True
except ImportError:
    HAVE_PIL = False

CIFAR_NORM = T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(url, dest, timeout=None):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(dsutils, "_fetch", refuse)


class _SlowCIFAR(torchvision.datasets.CIFAR10):
    """Same data, per-sample path (a subclass with its own __getitem__ disables the Rust batch plan)."""

    def __getitem__(self, index):
        return super().__getitem__(index)


def _np(t):
    return t.numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


# ---------------------------------------------------------------- CIFAR
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_reads_torchvision_layout(tmp_path, protocol):
    write_cifar10(str(tmp_path), protocol=protocol)
    tr, ytr, _te, yte = cifar_arrays()
    ds = torchvision.datasets.CIFAR10(str(tmp_path), train=True)
    assert len(ds) == 40 and ds.data.shape == (40, 32, 32, 3) and ds.data.dtype == np.uint8
    assert ds.targets == ytr and isinstance(ds.targets, list)
    np.testing.assert_array_equal(ds.data, tr.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    assert ds.classes[0] == "airplane" and ds.class_to_idx["truck"] == 9
    img, y = ds[3]
    assert y == ytr[3]
    np.testing.assert_array_equal(np.asarray(img), ds.data[3])
    test = torchvision.datasets.CIFAR10(str(tmp_path), train=False)
    assert len(test) == 12 and test.targets == yte
    assert "Split: Test" in repr(test)


def test_cifar10_augmented_batches_equal_torchvision(tmp_path):
    write_cifar10(str(tmp_path))
    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), CIFAR_NORM])
    for cls in (torchvision.datasets.CIFAR10, _SlowCIFAR):
        train = cls(str(tmp_path), train=True, transform=tf)
        torch.manual_seed(0)
        batches = list(DataLoader(train, batch_size=16, shuffle=True))
        assert len(batches) == 3 and isinstance(batches[0], list)
        np.testing.assert_array_equal(batches[0][0].numpy(), ARR["cifar_aug_x0"])
        np.testing.assert_array_equal(batches[0][1].numpy(), ARR["cifar_aug_y0"])
        np.testing.assert_array_equal(batches[2][0].numpy(), ARR["cifar_aug_x2"])
        assert batches[0][1].dtype == torch.int64 and batches[0][0].dtype == torch.float32
        assert torch.rand(2).tolist() == GOLD["cifar_aug_after"]


def test_cifar10_plain_and_misc_pipelines(tmp_path):
    write_cifar10(str(tmp_path))
    tf2 = T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    test = torchvision.datasets.CIFAR10(str(tmp_path), train=False, transform=tf2)
    assert test._ferro_fast_plan() is not None
    x, y = next(iter(DataLoader(test, batch_size=12)))
    np.testing.assert_array_equal(x.numpy(), ARR["cifar_test_x"])
    assert y.tolist() == GOLD["cifar_test_y"]
    tf3 = T.Compose(
        [T.ToTensor(), T.RandomVerticalFlip(0.3), T.CenterCrop(24), T.RandomCrop(20, padding=3, fill=1)]
    )
    for cls in (torchvision.datasets.CIFAR10, _SlowCIFAR):
        ds = cls(str(tmp_path), train=False, transform=tf3)
        torch.manual_seed(3)
        x, _ = next(iter(DataLoader(ds, batch_size=12)))
        np.testing.assert_array_equal(x.numpy(), ARR["cifar_misc_x"])


def test_fast_plan_through_random_split_and_unsupported_transform(tmp_path):
    write_cifar10(str(tmp_path))
    tf = T.Compose([T.ToTensor(), CIFAR_NORM])
    ds = torchvision.datasets.CIFAR10(str(tmp_path), transform=tf)
    a, _b = random_split(ds, [30, 10], generator=torch.Generator().manual_seed(0))
    assert a._ferro_fast_plan() is not None
    slow = _SlowCIFAR(str(tmp_path), transform=tf)
    xa = next(iter(DataLoader(a, batch_size=30)))[0].numpy()
    xs = torch.stack([slow[i][0] for i in a.indices]).numpy()
    np.testing.assert_array_equal(xa, xs)
    # a transform the kernel does not reproduce falls back to the per-sample path
    ds2 = torchvision.datasets.CIFAR10(
        str(tmp_path), transform=T.Compose([T.ToTensor(), T.Lambda(lambda t: t * 2)])
    )
    assert ds2._ferro_fast_plan() is None
    x = next(iter(DataLoader(ds2, batch_size=4)))[0]
    np.testing.assert_allclose(
        x.numpy(), np.stack([ds2.data[i].transpose(2, 0, 1) / 255 * 2 for i in range(4)]), rtol=1e-6
    )
    ds3 = torchvision.datasets.CIFAR10(str(tmp_path), transform=tf, target_transform=lambda y: y + 100)
    assert ds3._ferro_fast_plan() is None
    assert next(iter(DataLoader(ds3, batch_size=4)))[1].tolist() == [y + 100 for y in ds3.targets[:4]]


def test_cifar100(tmp_path):
    d = tmp_path / "cifar-100-python"
    d.mkdir()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 3072), dtype=np.uint8)
    for name in ("train", "test"):
        with open(d / name, "wb") as f:
            pickle.dump({"data": x, "fine_labels": [0, 99, 5, 7, 8, 1], "coarse_labels": [0] * 6}, f)
    with open(d / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)], "coarse_label_names": ["a"] * 20}, f)
    ds = torchvision.datasets.CIFAR100(str(tmp_path), transform=T.ToTensor())
    assert len(ds) == 6 and ds.targets[1] == 99 and len(ds.classes) == 100
    xb, _yb = next(iter(DataLoader(ds, batch_size=6)))
    np.testing.assert_array_equal(xb.numpy(), x.reshape(-1, 3, 32, 32).astype(np.float32) / np.float32(255))


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_cifar_restricted_unpickler_and_malformed(tmp_path):
    write_cifar10(str(tmp_path))
    folder = tmp_path / "cifar-10-batches-py"
    p = folder / "data_batch_1"
    with open(p, "wb") as f:
        pickle.dump({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1], "x": _Evil()}, f)
    with pytest.raises(
        RuntimeError, match=r"data_batch_1 is not a valid CIFAR batch file: refusing to load global"
    ):
        torchvision.datasets.CIFAR10(str(tmp_path))
    with open(p, "wb") as f:
        pickle.dump({"data": np.zeros((2, 3071), np.uint8), "labels": [0, 1]}, f)
    with pytest.raises(
        RuntimeError, match=r"data_batch_1: 'data' must be a uint8 array of shape \(N, 3072\)"
    ):
        torchvision.datasets.CIFAR10(str(tmp_path))
    with open(p, "wb") as f:
        pickle.dump({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}, f)
    with pytest.raises(RuntimeError, match=r"label 10 is out of range \[0, 10\)"):
        torchvision.datasets.CIFAR10(str(tmp_path))
    with open(p, "wb") as f:
        pickle.dump({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, f)
    with pytest.raises(RuntimeError, match=r"2 images but 1 labels"):
        torchvision.datasets.CIFAR10(str(tmp_path))
    data = pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1]})
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match="not a valid CIFAR batch file"):
        torchvision.datasets.CIFAR10(str(tmp_path))


def test_missing_dataset_and_offline_download(tmp_path):
    with pytest.raises(RuntimeError) as e:
        torchvision.datasets.CIFAR10(str(tmp_path))
    msg = str(e.value)
    assert "cifar-10-python.tar.gz" in msg and os.path.join(str(tmp_path), "cifar-10-batches-py") in msg
    with pytest.raises(RuntimeError) as e:
        torchvision.datasets.CIFAR10(str(tmp_path), download=True)
    msg = str(e.value)
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in msg and str(tmp_path) in msg
    with pytest.raises(RuntimeError) as e:
        torchvision.datasets.MNIST(str(tmp_path), download=True)
    assert "train-images-idx3-ubyte.gz" in str(e.value) and os.path.join("MNIST", "raw") in str(e.value)
    with pytest.raises(RuntimeError, match="MNIST"):
        torchvision.datasets.MNIST(str(tmp_path))


# ---------------------------------------------------------------- MNIST
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_files(tmp_path, gz):
    write_mnist(str(tmp_path), gz=gz)
    x, y = mnist_arrays()
    ds = torchvision.datasets.MNIST(str(tmp_path), train=True)
    assert ds.data.dtype == torch.uint8 and tuple(ds.data.shape) == (30, 28, 28)
    assert ds.targets.dtype == torch.int64 and ds.targets.tolist() == y.tolist()
    img, t = ds[2]
    assert t == int(y[2]) and isinstance(t, int)
    np.testing.assert_array_equal(np.asarray(img), x[2])
    assert ds.classes[3] == "3 - three" and ds.class_to_idx["9 - nine"] == 9
    tf = T.Compose([T.RandomCrop(28, padding=2), T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    ds = torchvision.datasets.MNIST(str(tmp_path), train=True, transform=tf)
    torch.manual_seed(1)
    xb, yb = next(iter(DataLoader(ds, batch_size=10, shuffle=True)))
    np.testing.assert_array_equal(xb.numpy(), ARR["mnist_x"])
    np.testing.assert_array_equal(yb.numpy(), ARR["mnist_y"])


def test_fashion_mnist_and_bad_idx(tmp_path):
    write_mnist(str(tmp_path), name="FashionMNIST", gz=True)
    ds = torchvision.datasets.FashionMNIST(str(tmp_path), train=False)
    assert len(ds) == 30 and ds.classes[9] == "Ankle boot"
    raw = tmp_path / "MNIST" / "raw"
    write_mnist(str(tmp_path))
    p = raw / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-5])
    with pytest.raises(RuntimeError, match="truncated or malformed"):
        torchvision.datasets.MNIST(str(tmp_path))
    p.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(RuntimeError, match="bad magic number"):
        torchvision.datasets.MNIST(str(tmp_path))
    write_mnist(str(tmp_path))
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(30, 12, np.uint8)))
    with pytest.raises(RuntimeError, match=r"label 12 is out of range \[0, 10\)"):
        torchvision.datasets.MNIST(str(tmp_path))
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(29, np.uint8)))
    with pytest.raises(RuntimeError, match="29 labels for 30 images"):
        torchvision.datasets.MNIST(str(tmp_path))


# ---------------------------------------------------------------- ImageFolder, FakeData
def _ppm(path, a):
    h, w = a.shape[:2]
    if a.ndim == 3:
        path.write_bytes(f"P6\n# c\n{w} {h}\n255\n".encode() + a.tobytes())
    else:
        path.write_bytes(f"P5 {w} {h} 255\n".encode() + a.tobytes())


@pytest.mark.skipif(HAVE_PIL, reason="the Pillow-free loader")
def test_image_folder_without_pillow(tmp_path):
    rng = np.random.default_rng(0)
    imgs = {}
    for cls in ("dog", "cat"):
        (tmp_path / cls).mkdir()
        for k in range(2):
            a = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
            _ppm(tmp_path / cls / f"{k}.ppm", a)
            imgs[(cls, k)] = a
    g = rng.integers(0, 256, (5, 4), dtype=np.uint8)
    _ppm(tmp_path / "cat" / "g.pgm", g)
    (tmp_path / "cat" / "notes.txt").write_text("x")
    ds = torchvision.datasets.ImageFolder(str(tmp_path), transform=T.ToTensor())
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert [os.path.basename(p) for p, _ in ds.samples] == ["0.ppm", "1.ppm", "g.pgm", "0.ppm", "1.ppm"]
    assert ds.targets == [0, 0, 0, 1, 1] and ds.imgs == ds.samples
    x, _y = ds[3]
    np.testing.assert_array_equal(
        x.numpy(), imgs[("dog", 0)].transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    )
    x, _ = ds[2]
    assert tuple(x.shape) == (3, 5, 4)
    xb, yb = next(iter(DataLoader(ds, batch_size=5)))
    assert tuple(xb.shape) == (5, 3, 5, 4) and yb.tolist() == [0, 0, 0, 1, 1]


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        torchvision.datasets.ImageFolder(str(tmp_path))
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("no image")
    with pytest.raises(
        FileNotFoundError, match="Found no valid file for the classes a. Supported extensions are"
    ):
        torchvision.datasets.ImageFolder(str(tmp_path))


def test_fake_data_equals_torchvision():
    fake = torchvision.datasets.FakeData(
        size=4, image_size=(3, 5, 6), num_classes=7, transform=T.PILToTensor()
    )
    state = torch.get_rng_state()
    xs = np.stack([_np(fake[i][0]) for i in range(4)])
    np.testing.assert_array_equal(xs, ARR["fake_x"])
    assert [fake[i][1] for i in range(4)] == GOLD["fake_y"]
    assert torch.equal(torch.get_rng_state(), state)
    with pytest.raises(IndexError):
        fake[4]
    assert len(fake) == 4


# ---------------------------------------------------------------- transforms
def test_transforms_golden():
    img = ARR["tf_img"]
    t = torch.from_numpy(img).permute(2, 0, 1).float() / 255
    for key, tf, tol in [
        ("resize_down", T.Resize((6, 8)), 1e-6),
        ("resize_up", T.Resize((20, 30)), 1e-6),
        ("resize_short", T.Resize(9), 1e-6),
        ("gray", T.Grayscale(), 0),
        ("center_big", T.CenterCrop((16, 20)), 0),
        ("conv_f_u8", T.ConvertImageDtype(torch.uint8), 0),
    ]:
        out = tf(t).numpy()
        assert out.shape == ARR[key].shape, key
        np.testing.assert_allclose(out.astype(np.float64), ARR[key].astype(np.float64), atol=tol, rtol=0)
    u8 = torch.from_numpy(img).permute(2, 0, 1)
    np.testing.assert_array_equal(T.Grayscale()(u8).numpy(), ARR["gray_u8"])
    np.testing.assert_array_equal(T.ConvertImageDtype(torch.float32)(u8).numpy(), ARR["conv_u8_f"])
    grid = torchvision.utils.make_grid(torch.from_numpy(ARR["grid_in"]), nrow=2, padding=1, normalize=True)
    np.testing.assert_array_equal(grid.numpy(), ARR["grid"])


def test_transforms_on_numpy_and_tensors_agree():
    img = ARR["tf_img"]
    t = T.PILToTensor()(img)
    assert t.dtype == torch.uint8 and tuple(t.shape) == (3, 13, 17)
    checks = [
        (T.functional.hflip, lambda a: a[:, ::-1]),
        (T.functional.vflip, lambda a: a[::-1]),
        (lambda x: T.functional.crop(x, 2, 3, 5, 6), lambda a: a[2:7, 3:9]),
        (T.CenterCrop(7), lambda a: a[3:10, 5:12]),
        (
            lambda x: T.functional.pad(x, [1, 2], fill=9),
            lambda a: np.pad(a, ((2, 2), (1, 1), (0, 0)), constant_values=9),
        ),
        (
            lambda x: T.functional.pad(x, 2, padding_mode="reflect"),
            lambda a: np.pad(a, ((2, 2), (2, 2), (0, 0)), "reflect"),
        ),
        (T.Resize((7, 9), interpolation=T.functional.InterpolationMode.NEAREST), None),
    ]
    for f, ref in checks:
        a = np.asarray(f(img))
        b = f(t).numpy().transpose(1, 2, 0)
        np.testing.assert_array_equal(a, b)
        if ref is not None:
            np.testing.assert_array_equal(a, ref(img))
    x = T.ToTensor()(img)
    assert x.dtype == torch.float32 and tuple(x.shape) == (3, 13, 17)
    np.testing.assert_array_equal(x.numpy(), img.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    assert tuple(T.ToTensor()(img[:, :, 0]).shape) == (1, 13, 17)
    assert T.ToTensor()(img.astype(np.float64)).dtype == torch.float64
    lam = T.Lambda(lambda v: v + 1)
    assert lam(1) == 2
    assert "Normalize(mean=(0.5,), std=(0.5,))" in repr(
        T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])
    )


def test_random_transforms_use_torch_rng():
    img = ARR["tf_img"]
    torch.manual_seed(5)
    flips = [float(torch.rand(1)) < 0.5 for _ in range(6)]
    torch.manual_seed(5)
    f = T.RandomHorizontalFlip()
    outs = [f(img) for _ in range(6)]
    for flipped, o in zip(flips, outs):
        np.testing.assert_array_equal(o, img[:, ::-1] if flipped else img)
    torch.manual_seed(9)
    i = torch.randint(0, 13 + 4 - 10 + 1, size=(1,)).item()
    j = torch.randint(0, 17 + 4 - 8 + 1, size=(1,)).item()
    torch.manual_seed(9)
    out = T.RandomCrop((10, 8), padding=2)(img)
    np.testing.assert_array_equal(out, np.pad(img, ((2, 2), (2, 2), (0, 0)))[i : i + 10, j : j + 8])
    with pytest.raises(
        ValueError, match=r"Required crop size \(20, 20\) is larger than input image size \(13, 17\)"
    ):
        T.RandomCrop(20)(img)
    out = T.RandomCrop(20, pad_if_needed=True)(img)
    assert out.shape == (20, 20, 3)


def test_normalize_errors_and_values():
    x = torch.ones(3, 2, 2)
    y = T.Normalize((0.5, 0.25, 0.0), (0.5, 0.5, 1.0))(x)
    assert y[:, 0, 0].tolist() == [1.0, 1.5, 1.0] and x[0, 0, 0].item() == 1.0
    with pytest.raises(TypeError, match="Input tensor should be a float tensor. Got torch.uint8."):
        T.Normalize((0.5,), (0.5,))(torch.zeros(1, 2, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match="std evaluated to zero after conversion to torch.float32"):
        T.Normalize((0.5,), (0.0,))(x)
    with pytest.raises(TypeError, match="img should be Tensor Image"):
        T.Normalize((0.5,), (0.5,))(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()(x)


@pytest.mark.skipif(not HAVE_PIL, reason="Pillow not installed")
def test_pil_round_trip(tmp_path):  # pragma: no cover - only with Pillow
    from PIL import Image

    img = ARR["tf_img"]
    pil = Image.fromarray(img)
    np.testing.assert_array_equal(T.ToTensor()(pil).numpy(), T.ToTensor()(img).numpy())
    back = T.ToPILImage()(T.PILToTensor()(pil))
    np.testing.assert_array_equal(np.asarray(back), img)
    np.testing.assert_array_equal(np.asarray(T.functional.hflip(pil)), img[:, ::-1])
    torchvision.utils.save_image(torch.rand(2, 3, 4, 4), str(tmp_path / "g.png"))
    assert (tmp_path / "g.png").exists()


def test_import_path_and_lazy_import():
    import subprocess
    import sys

    code = "import sys, ferrotorch; assert 'ferrotorch.vision' not in sys.modules; import ferrotorch.vision as tv; print(tv.datasets.CIFAR10.__name__)"
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "CIFAR10"
