"""FakeData: random images seeded per index exactly as torchvision's."""

from __future__ import annotations

import numpy as np

import ferrotorch as torch

from .utils import VisionDataset, _pil


class FakeData(VisionDataset):
    def __init__(
        self,
        size=1000,
        image_size=(3, 224, 224),
        num_classes=10,
        transform=None,
        target_transform=None,
        random_offset=0,
    ):
        super().__init__(None, transform=transform, target_transform=target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index):
        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        rng_state = torch.get_rng_state()
        torch.manual_seed(index + self.random_offset)
        img = torch.randn(*self.image_size)
        target = torch.randint(0, self.num_classes, size=(1,), dtype=torch.long)[0]
        torch.set_rng_state(rng_state)
        # torchvision: ToPILImage() (float → mul(255).byte()), so the transform sees an 8-bit image
        a = img.mul(255).byte().numpy()
        a = np.ascontiguousarray(np.transpose(a, (1, 2, 0)) if a.ndim == 3 else a)
        Image = _pil()
        if Image is not None:
            img = Image.fromarray(a[:, :, 0] if a.ndim == 3 and a.shape[2] == 1 else a)
        else:
            img = a
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target.item()

    def __len__(self):
        return self.size
