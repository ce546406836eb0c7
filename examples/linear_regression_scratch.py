"""Linear regression from scratch, as in the PyTorch tutorials, with only the import line changed.

Fits y = 0.7 x + 0.3 with a hand-written gradient-descent loop on autograd.
"""

import ferrotorch as torch

torch.manual_seed(42)

weight, bias = 0.7, 0.3
X = torch.arange(0, 1, 0.02).unsqueeze(dim=1)
y = weight * X + bias

train_split = int(0.8 * len(X))
X_train, y_train = X[:train_split], y[:train_split]
X_test, y_test = X[train_split:], y[train_split:]

w = torch.randn(1, requires_grad=True, dtype=torch.float)
b = torch.randn(1, requires_grad=True, dtype=torch.float)
print("initial parameters:", w, b)

lr = 0.05
for epoch in range(300):
    y_pred = X_train * w + b
    loss = (y_pred - y_train).abs().mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    if epoch % 50 == 0:
        with torch.inference_mode():
            test_loss = ((X_test * w + b) - y_test).abs().mean()
        print(f"Epoch: {epoch} | Train loss: {loss.item():.4f} | Test loss: {test_loss.item():.4f}")

print("learned:", w, b)
print(f"target: weight={weight}, bias={bias}")
assert abs(w.item() - weight) < 0.05 and abs(b.item() - bias) < 0.05, "the model did not learn"
