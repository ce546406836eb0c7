"""The steps of PyTorch's "Learn the Basics: Transforms" tutorial, written for ferrotorch.

Run it from a directory holding data/FashionMNIST/raw (or with network access).
"""

# %%
import ferrotorch as torch
from ferrotorch.vision import datasets
from ferrotorch.vision.transforms import Lambda, ToTensor


# %% transform prepares the image, target_transform the label
def as_one_hot(label):
    # ten zeros with a 1 written at the label's position
    return torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(label), value=1)


train_set = datasets.FashionMNIST(
    root="data",
    train=True,
    download=True,
    transform=ToTensor(),  # PIL image of bytes -> float tensor in [0, 1], channels first
    target_transform=Lambda(as_one_hot),
)

image, target = train_set[0]
print("image:", image.shape, image.dtype)
print("smallest and largest pixel:", image.min(), image.max())
print("part of row 12:", image[0, 12, 8:14])
print("target:", target)

# %% Lambda turns any function into a transform; this one spells out scatter_'s keywords
encode = Lambda(
    lambda label: torch.zeros(10, dtype=torch.float).scatter_(dim=0, index=torch.tensor(label), value=1)
)
for label in (0, 4, 9):
    print(label, "->", encode(label))
