"""The tabular MLP tutorial with its training loop replaced by ``ferrotorch.fit`` (ferrotorch only).

Same data, model, initialisation, loss and optimizer as tabular_mlp.py; ``fit`` captures the first
epoch's forward pass and replays the other 99 in Rust, giving the same losses as the eager loop.
"""

# %%
import pathlib

import ferrotorch as torch
import ferrotorch.nn as nn
import ferrotorch.optim as optim
import numpy as np

HERE = pathlib.Path(__file__).parent if "__file__" in globals() else pathlib.Path.cwd()

# %%
torch.manual_seed(0)
data = np.loadtxt(HERE / "data" / "wine.csv", delimiter=",", skiprows=1)
features = data[:, :13].astype(np.float32)
features = (features - features.mean(axis=0)) / features.std(axis=0)
X, y = torch.tensor(features), torch.tensor(data[:, 13].astype(np.int64))
perm = torch.randperm(len(X))
X_train, y_train, X_test, y_test = X[perm[:142]], y[perm[:142]], X[perm[142:]], y[perm[142:]]

# %%
model = nn.Sequential(nn.Linear(13, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 3))


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        m.bias.data.fill_(0.01)


model.apply(init_weights)

# %%
history = torch.fit(model, (X_train, y_train), nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01),
                     epochs=100, val=(X_test, y_test), metrics="accuracy", progress=False)
for epoch in range(0, 100, 10):
    print(f"epoch {epoch:3d}  loss {history['loss'][epoch]:.4f}  test accuracy {history['val_accuracy'][epoch]:.3f}")
print(f"100 epochs in {sum(history['epoch_seconds']) * 1000:.1f} ms")

# %%
try:
    import matplotlib

    matplotlib.use("Agg")
    history.plot(HERE / "tabular_mlp_fit_loss.png", keys=["loss", "val_loss"])
except ImportError:
    pass
assert history["val_accuracy"][-1] > 0.9, "the model did not learn"
