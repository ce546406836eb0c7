"""The steps of PyTorch's "Learn the Basics: Automatic Differentiation" tutorial, written for ferrotorch."""

# %%
import ferrotorch as torch

# %% A one-layer network: 5 inputs, 3 outputs, and a loss that compares them with a target
inputs = torch.ones(5)
target = torch.zeros(3)
weight = torch.randn(5, 3, requires_grad=True)  # parameters: we want the loss's gradient for these
bias = torch.randn(3, requires_grad=True)
out = torch.matmul(inputs, weight) + bias
loss = torch.nn.functional.binary_cross_entropy_with_logits(out, target)

# %% Each result remembers the function that made it, for the backward pass
print(f"out was made by {out.grad_fn}")
print(f"loss was made by {loss.grad_fn}")

# %% backward() fills .grad of the leaves that require gradients
loss.backward()
print("d loss / d weight:", weight.grad)
print("d loss / d bias:", bias.grad)
print("the input needs none:", inputs.grad)

# %% Switching tracking off
out = torch.matmul(inputs, weight) + bias
print("tracked:", out.requires_grad)

with torch.no_grad():
    out = torch.matmul(inputs, weight) + bias
print("tracked inside no_grad:", out.requires_grad)

out = torch.matmul(inputs, weight) + bias
frozen = out.detach()
print("tracked after detach:", frozen.requires_grad)

late = torch.zeros(2)
late.requires_grad_(True)
print("tracked after requires_grad_:", late.requires_grad)

# %% A non-scalar result needs a vector v: backward(v) computes v^T times the Jacobian
start = torch.eye(3, 4, requires_grad=True)
result = (start + 1).pow(2).t()
v = torch.ones_like(result)
result.backward(v, retain_graph=True)  # keep the graph: we go backward through it again
print(f"one backward:\n{start.grad}")
result.backward(v, retain_graph=True)
print(f"two backwards (gradients add up):\n{start.grad}")
start.grad.zero_()
result.backward(v, retain_graph=True)
print(f"after zeroing, one more:\n{start.grad}")
