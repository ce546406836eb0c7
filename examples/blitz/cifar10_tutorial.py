"""The steps of PyTorch's "60 Minute Blitz: Training a Classifier" (CIFAR-10) tutorial, written for ferrotorch.

Run it from a directory holding data/cifar-10-batches-py (or with network access). On the full data set
(12,500 mini-batches an epoch) set REPORT_EVERY to the tutorial's 2000.
"""

# %%
import ferrotorch as torch
import ferrotorch.nn as nn
import ferrotorch.nn.functional as F
import ferrotorch.optim as optim
import ferrotorch.vision as torchvision
import ferrotorch.vision.transforms as transforms
import matplotlib.pyplot as plt
import numpy as np

# %% 1. Load CIFAR-10 and scale its pixels from [0, 1] to [-1, 1]
to_unit_range = transforms.Compose(
    [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
)

batch_size = 4

train_set = torchvision.datasets.CIFAR10(root="./data", train=True, download=True, transform=to_unit_range)
train_loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=2)

test_set = torchvision.datasets.CIFAR10(root="./data", train=False, download=True, transform=to_unit_range)
test_loader = torch.utils.data.DataLoader(test_set, batch_size=batch_size, shuffle=False, num_workers=2)

classes = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# %% A look at a few training pictures


def show(img):
    img = img / 2 + 0.5  # undo the normalization
    pixels = img.numpy()
    plt.imshow(np.transpose(pixels, (1, 2, 0)))  # C x H x W -> H x W x C
    plt.show()


batches = iter(train_loader)
images, labels = next(batches)

show(torchvision.utils.make_grid(images))
print(" ".join(f"{classes[labels[j]]:5s}" for j in range(batch_size)))

# %% 2. The convolutional network from the Neural Networks step, taking 3-channel pictures


class SmallConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # everything but the batch dimension
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


net = SmallConvNet()

# %% 3. Loss and optimizer: cross-entropy, SGD with momentum

criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

# %% 4. Training
REPORT_EVERY = 25  # mini-batches between two printed losses

for epoch in range(2):  # two passes over the training set
    loss_sum = 0.0
    for i, batch in enumerate(train_loader, 0):
        inputs, labels = batch  # a batch is a list [inputs, labels]

        optimizer.zero_grad()  # clear last step's gradients

        outputs = net(inputs)  # forward
        loss = criterion(outputs, labels)
        loss.backward()  # backward
        optimizer.step()  # update

        loss_sum += loss.item()
        if i % REPORT_EVERY == REPORT_EVERY - 1:
            print(f"[{epoch + 1}, {i + 1:5d}] loss: {loss_sum / REPORT_EVERY:.3f}")
            loss_sum = 0.0

print("Finished Training")

# %% Save the trained weights
PATH = "./cifar_net.pth"
torch.save(net.state_dict(), PATH)

# %% 5. Testing: first a few test pictures with their true labels
batches = iter(test_loader)
images, labels = next(batches)

show(torchvision.utils.make_grid(images))
print("GroundTruth: ", " ".join(f"{classes[labels[j]]:5s}" for j in range(4)))

# %% Load the saved weights into a fresh network
net = SmallConvNet()
net.load_state_dict(torch.load(PATH, weights_only=True))

# %% The class with the highest score is the prediction
outputs = net(images)
_, predicted = torch.max(outputs, 1)

print("Predicted: ", " ".join(f"{classes[predicted[j]]:5s}" for j in range(4)))

# %% Accuracy on the whole test set
correct = 0
total = 0
with torch.no_grad():  # no training here, so no gradients
    for batch in test_loader:
        images, labels = batch
        outputs = net(images)
        _, predicted = torch.max(outputs, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()

print(f"Accuracy of the network on the {total} test images: {100 * correct // total} %")

# %% Accuracy per class
hits = {name: 0 for name in classes}
seen = {name: 0 for name in classes}

with torch.no_grad():
    for batch in test_loader:
        images, labels = batch
        outputs = net(images)
        _, predictions = torch.max(outputs, 1)
        for label, prediction in zip(labels, predictions):
            if label == prediction:
                hits[classes[label]] += 1
            seen[classes[label]] += 1

for name, n_hit in hits.items():
    accuracy = 100 * float(n_hit) / seen[name]
    print(f"Accuracy for class: {name:5s} is {accuracy:.1f} %")

# %% Training on a GPU: pick the device
device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")

print(device)  # "cpu" here; net.to(device) and inputs.to(device) would move the work there

# %%
del batches
