"""A tabular MLP classifier trained full batch with Adam, as in the PyTorch tutorials.

Only the import lines differ from the PyTorch version. Data: the UCI Wine data set (examples/data).
The notebook of the same name is generated from this script (cells marked `# %%`) by tools/make_notebooks.py.
"""

# %%
import pathlib

import ferrotorch as torch
import ferrotorch.nn as nn
import ferrotorch.optim as optim
import numpy as np

HERE = pathlib.Path(__file__).parent if "__file__" in globals() else pathlib.Path.cwd()  # script or notebook

# %% [markdown]
# ## Data: 178 wines, 13 chemical measurements, 3 cultivars

# %%
torch.manual_seed(0)

data = np.loadtxt(HERE / "data" / "wine.csv", delimiter=",", skiprows=1)
features = data[:, :13].astype(np.float32)
labels = data[:, 13].astype(np.int64)
features = (features - features.mean(axis=0)) / features.std(axis=0)

X = torch.tensor(features)
y = torch.tensor(labels)
perm = torch.randperm(len(X))
train_idx, test_idx = perm[:142], perm[142:]
X_train, y_train, X_test, y_test = X[train_idx], y[train_idx], X[test_idx], y[test_idx]
print("train:", X_train.shape, "test:", X_test.shape)

# %% [markdown]
# ## Model: a 13 → 64 → 32 → 3 MLP with Xavier initialisation

# %%
model = nn.Sequential(
    nn.Linear(13, 64),
    nn.ReLU(),
    nn.Linear(64, 32),
    nn.ReLU(),
    nn.Linear(32, 3),
)


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        m.bias.data.fill_(0.01)


model.apply(init_weights)
print(model)

# %% [markdown]
# ## Training: full batch, cross-entropy, Adam

# %%
criterion = nn.CrossEntropyLoss()
optimizer = optim.Adam(model.parameters(), lr=0.01)

losses = []
for epoch in range(100):
    optimizer.zero_grad()
    outputs = model(X_train)
    loss = criterion(outputs, y_train)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    if epoch % 10 == 0:
        print(f"epoch {epoch:3d}  loss {loss.item():.4f}")

# %%
model.eval()
with torch.no_grad():
    predicted = torch.argmax(model(X_test), dim=1)
    accuracy = (predicted == y_test).float().mean().item()
print(f"test accuracy: {accuracy:.3f}")

# %%
try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    plt.plot(losses)
    plt.xlabel("epoch")
    plt.ylabel("cross-entropy loss")
    plt.savefig(HERE / "tabular_mlp_loss.png")

# %%
assert accuracy > 0.9, "the model did not learn"
