"""Writes data_golden.json / data_golden.npz from real torch + torchvision (run with /opt/torchenv/bin/python).

The dataset files are written in the real on-disk formats by the same helpers the tests use, so torchvision
reads exactly what ferrotorch reads.
"""

import json
import os
import sys
import tempfile

import numpy as np
import torch
import torchvision
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    random_split,
)
from torchvision import transforms as T

HERE = os.path.dirname(os.path.abspath(__file__))


from data_files import write_cifar10, write_mnist  # noqa: E402


def main():
    # the test files are tiny stand-ins in the real format: skip torchvision's MD5 check of the real archives
    torchvision.datasets.CIFAR10._check_integrity = lambda self: True
    torchvision.datasets.cifar.check_integrity = lambda *a, **k: True
    out, arrays = {}, {}
    torch.manual_seed(0)
    out["random_sampler_global"] = list(RandomSampler(range(10)))
    out["random_sampler_global_2"] = list(RandomSampler(range(10)))
    g = torch.Generator().manual_seed(1)
    out["random_sampler_gen"] = list(RandomSampler(range(7), generator=g))
    g = torch.Generator().manual_seed(2)
    out["random_sampler_repl"] = list(RandomSampler(range(5), replacement=True, num_samples=40, generator=g))
    g = torch.Generator().manual_seed(3)
    out["random_sampler_ns"] = list(RandomSampler(range(4), num_samples=10, generator=g))
    g = torch.Generator().manual_seed(4)
    out["subset_random"] = list(SubsetRandomSampler([10, 20, 30, 40, 50], generator=g))
    g = torch.Generator().manual_seed(5)
    out["weighted"] = list(WeightedRandomSampler([0.1, 0.9, 0.4, 0.7], 12, generator=g))
    g = torch.Generator().manual_seed(5)
    out["weighted_norepl"] = list(
        WeightedRandomSampler([0.1, 0.9, 0.4, 0.7], 4, replacement=False, generator=g)
    )
    out["batch_sampler"] = list(BatchSampler(range(10), 3, False))
    out["batch_sampler_drop"] = list(BatchSampler(range(10), 3, True))
    out["split_lengths"] = [
        s.indices for s in random_split(range(10), [3, 7], generator=torch.Generator().manual_seed(42))
    ]
    out["split_fracs"] = [
        s.indices
        for s in random_split(range(30), [0.3, 0.3, 0.4], generator=torch.Generator().manual_seed(42))
    ]
    torch.manual_seed(7)
    out["split_default"] = [s.indices for s in random_split(range(9), [4, 5])]
    out["split_fracs_rem"] = [
        len(s) for s in random_split(range(11), [0.5, 0.5], generator=torch.Generator().manual_seed(0))
    ]

    ds = TensorDataset(torch.arange(20), torch.arange(20) * 10)
    torch.manual_seed(0)
    dl = DataLoader(ds, batch_size=6, shuffle=True)
    out["loader_shuffle_epochs"] = [[b[0].tolist() for b in dl] for _ in range(2)]
    out["loader_shuffle_after"] = torch.rand(3).tolist()
    g = torch.Generator().manual_seed(11)
    dl = DataLoader(ds, batch_size=7, shuffle=True, generator=g, drop_last=True)
    out["loader_generator"] = [b[0].tolist() for b in dl]
    out["loader_generator_after"] = torch.empty((), dtype=torch.int64).random_(generator=g).item()
    torch.manual_seed(0)
    out["loader_seq_after"] = ([b[0].tolist() for b in DataLoader(ds, batch_size=8)], torch.rand(2).tolist())

    with tempfile.TemporaryDirectory() as root:
        write_cifar10(root)
        tf = T.Compose(
            [
                T.RandomCrop(32, padding=4),
                T.RandomHorizontalFlip(),
                T.ToTensor(),
                T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
            ]
        )
        train = torchvision.datasets.CIFAR10(root, train=True, transform=tf)
        torch.manual_seed(0)
        batches = list(DataLoader(train, batch_size=16, shuffle=True))
        arrays["cifar_aug_x0"] = batches[0][0].numpy()
        arrays["cifar_aug_y0"] = batches[0][1].numpy()
        arrays["cifar_aug_x2"] = batches[2][0].numpy()
        out["cifar_aug_after"] = torch.rand(2).tolist()
        tf2 = T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
        test = torchvision.datasets.CIFAR10(root, train=False, transform=tf2)
        x, y = next(iter(DataLoader(test, batch_size=12)))
        arrays["cifar_test_x"] = x.numpy()
        out["cifar_test_y"] = y.tolist()
        out["cifar_classes"] = test.classes
        tf3 = T.Compose(
            [T.ToTensor(), T.RandomVerticalFlip(0.3), T.CenterCrop(24), T.RandomCrop(20, padding=3, fill=1)]
        )
        test3 = torchvision.datasets.CIFAR10(root, train=False, transform=tf3)
        torch.manual_seed(3)
        x, _ = next(iter(DataLoader(test3, batch_size=12)))
        arrays["cifar_misc_x"] = x.numpy()
    with tempfile.TemporaryDirectory() as root:
        write_mnist(root)
        tf = T.Compose([T.RandomCrop(28, padding=2), T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
        ds = torchvision.datasets.MNIST(root, train=True, transform=tf)
        torch.manual_seed(1)
        x, y = next(iter(DataLoader(ds, batch_size=10, shuffle=True)))
        arrays["mnist_x"] = x.numpy()
        arrays["mnist_y"] = y.numpy()

    fake = torchvision.datasets.FakeData(
        size=4, image_size=(3, 5, 6), num_classes=7, transform=T.PILToTensor()
    )
    arrays["fake_x"] = np.stack([fake[i][0].numpy() for i in range(4)])
    out["fake_y"] = [fake[i][1] for i in range(4)]

    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, size=(13, 17, 3), dtype=np.uint8)
    arrays["tf_img"] = img
    t = torch.from_numpy(img).permute(2, 0, 1).float() / 255
    arrays["resize_down"] = T.Resize((6, 8))(t).numpy()
    arrays["resize_up"] = T.Resize((20, 30))(t).numpy()
    arrays["resize_short"] = T.Resize(9)(t).numpy()
    arrays["gray"] = T.Grayscale()(t).numpy()
    arrays["gray_u8"] = T.Grayscale()(torch.from_numpy(img).permute(2, 0, 1)).numpy()
    arrays["center_big"] = T.CenterCrop((16, 20))(t).numpy()
    arrays["conv_u8_f"] = T.ConvertImageDtype(torch.float32)(torch.from_numpy(img).permute(2, 0, 1)).numpy()
    arrays["conv_f_u8"] = T.ConvertImageDtype(torch.uint8)(t).numpy()
    grid_in = rng.random((5, 3, 4, 4), dtype=np.float32)
    arrays["grid_in"] = grid_in
    arrays["grid"] = torchvision.utils.make_grid(
        torch.from_numpy(grid_in), nrow=2, padding=1, normalize=True
    ).numpy()

    with open(os.path.join(HERE, "data_golden.json"), "w") as f:
        json.dump(out, f)
    np.savez_compressed(os.path.join(HERE, "data_golden.npz"), **arrays)
    print("wrote", len(out), "json entries and", len(arrays), "arrays")


if __name__ == "__main__":
    sys.exit(main())
