"""The linear-regression tutorial with its training loop replaced by ``ferrotorch.fit`` (ferrotorch only).

Same model, data, loss and optimizer as linear_regression_scratch.py. The tutorial's loop — train
step, then the test loss under ``inference_mode`` — is ``fit(..., val=(X_test, y_test))``.
"""

# %%
import ferrotorch as torch
from ferrotorch import nn

weight, bias = 0.7, 0.3
X = torch.arange(0, 1, 0.02).unsqueeze(dim=1)
y = weight * X + bias
train_split = int(0.8 * len(X))
X_train, y_train, X_test, y_test = X[:train_split], y[:train_split], X[train_split:], y[train_split:]


# %%
class LinearRegressionModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(1, dtype=torch.float), requires_grad=True)
        self.bias = nn.Parameter(torch.randn(1, dtype=torch.float), requires_grad=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weights * x + self.bias


# %%
torch.manual_seed(42)
model_0 = LinearRegressionModel()
print(model_0.state_dict())

# %%
history = torch.fit(model_0, (X_train, y_train), nn.L1Loss(), torch.optim.SGD(model_0.parameters(), lr=0.01),
                    epochs=200, val=(X_test, y_test), progress=False)
for epoch in range(0, 200, 10):
    print(f"Epoch: {epoch} | MAE Train Loss: {history['loss'][epoch]:.4f} | "
          f"MAE Test Loss: {history['val_loss'][epoch]:.4f}")

# %%
print("The model learned the following values for weights and bias:")
print(model_0.state_dict())
learned = model_0.state_dict()
assert abs(learned["weights"].item() - weight) < 0.02 and abs(learned["bias"].item() - bias) < 0.02, "the model did not learn"
