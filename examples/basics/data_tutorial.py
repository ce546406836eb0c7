"""The steps of PyTorch's "Learn the Basics: Datasets & DataLoaders" tutorial, written for ferrotorch.

Run it from a directory holding data/FashionMNIST/raw (or with network access); pyplot needs a backend
(MPLBACKEND=Agg draws off screen).
"""

# %%
import csv
import os

import ferrotorch as torch
import matplotlib.pyplot as plt
from ferrotorch.utils.data import DataLoader, Dataset
from ferrotorch.vision import datasets
from ferrotorch.vision.io import read_image
from ferrotorch.vision.transforms import ToTensor

# %% A ready-made dataset: FashionMNIST's training and test splits as float image tensors
fashion_train = datasets.FashionMNIST(root="data", train=True, download=True, transform=ToTensor())
fashion_test = datasets.FashionMNIST(root="data", train=False, download=True, transform=ToTensor())
print(f"{len(fashion_train)} training and {len(fashion_test)} test images")

# %% Indexing a dataset gives (image, label); draw a few random ones in a grid
NAMES = {
    0: "T-Shirt",
    1: "Trouser",
    2: "Pullover",
    3: "Dress",
    4: "Coat",
    5: "Sandal",
    6: "Shirt",
    7: "Sneaker",
    8: "Bag",
    9: "Ankle Boot",
}
fig = plt.figure(figsize=(6, 6))
for cell in range(1, 5):
    pick = torch.randint(len(fashion_train), size=(1,)).item()
    image, label = fashion_train[pick]
    print(f"sample {pick}: {NAMES[label]}")
    fig.add_subplot(2, 2, cell)
    plt.title(NAMES[label])
    plt.axis("off")
    plt.imshow(image.squeeze(), cmap="gray")
plt.show()


# %% Your own dataset: image files listed in a CSV file of (file name, label) rows
class PngFolder(Dataset):
    def __init__(self, labels_csv, folder, transform=None, target_transform=None):
        with open(labels_csv, newline="") as f:
            self.rows = [(name, int(label)) for name, label in csv.reader(f)]
        self.folder = folder
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        name, label = self.rows[i]
        image = read_image(os.path.join(self.folder, name))  # uint8 tensor, channels first
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


# give it some files: a few test images saved as PNG (without a transform the dataset yields PIL images)
os.makedirs("pngs", exist_ok=True)
plain_test = datasets.FashionMNIST(root="data", train=False, download=True)
with open("pngs/labels.csv", "w", newline="") as f:
    writer = csv.writer(f)
    for i in range(6):
        picture, label = plain_test[i]
        picture.save(f"pngs/item{i}.png")
        writer.writerow([f"item{i}.png", label])

pngs = PngFolder("pngs/labels.csv", "pngs", transform=lambda img: img.float() / 255)
image, label = pngs[1]
print(f"{len(pngs)} files; item 1: {image.shape} {image.dtype}, label {NAMES[label]}")
print("same pixels as FashionMNIST's:", torch.equal(image, fashion_test[1][0]))

# %% DataLoader: batches, reshuffled every epoch
train_batches = DataLoader(fashion_train, batch_size=32, shuffle=True)
test_batches = DataLoader(fashion_test, batch_size=32, shuffle=True)
png_batches = DataLoader(pngs, batch_size=4)

# %% Taking one batch
images, labels = next(iter(train_batches))
print(f"image batch: {images.size()}")
print(f"label batch: {labels.size()}")
first = images[0].squeeze()
plt.imshow(first, cmap="gray")
plt.show()
print(f"first label: {labels[0]} ({NAMES[labels[0].item()]})")
print("batch sizes from the PNG folder:", [len(y) for _, y in png_batches])
