"""The steps of PyTorch's "60 Minute Blitz: A Gentle Introduction to torch.autograd" tutorial, written for ferrotorch.

The pretrained ResNet-18 weights are read from the hub cache ($TORCH_HOME/hub/checkpoints) when the file is there.
"""

# %%
import ferrotorch as torch
from ferrotorch import nn, optim
from ferrotorch.vision.models import ResNet18_Weights, resnet18

# %% One training step on a pretrained ResNet-18
resnet = resnet18(weights=ResNet18_Weights.DEFAULT)
image = torch.rand(1, 3, 64, 64)  # one 3-channel 64x64 picture
targets = torch.rand(1, 1000)  # a made-up label per ImageNet class

scores = resnet(image)  # forward pass
error = (scores - targets).sum()
error.backward()  # backward pass: autograd fills each parameter's .grad

sgd = torch.optim.SGD(resnet.parameters(), lr=1e-2, momentum=0.9)
sgd.step()  # gradient descent

# %% What autograd computes: Q = 3a^3 - b^2
a = torch.tensor([2.0, 3.0], requires_grad=True)
b = torch.tensor([6.0, 4.0], requires_grad=True)

Q = 3 * a**3 - b**2

# Q is a vector, so backward() needs the gradient of something with respect to Q: dQ/dQ = 1
upstream = torch.tensor([1.0, 1.0])
Q.backward(gradient=upstream)

# the gradients autograd collected equal the ones worked out by hand
print(9 * a**2 == a.grad)
print(-2 * b == b.grad)

# %% Only operations with an input that requires grad are tracked
p = torch.rand(5, 5)
q = torch.rand(5, 5)
r = torch.rand((5, 5), requires_grad=True)

plain = p + q
print(f"Does `plain` require gradients?: {plain.requires_grad}")
tracked = p + r
print(f"Does `tracked` require gradients?: {tracked.requires_grad}")

# %% Finetuning: freeze the network, then replace its classifier

resnet = resnet18(weights=ResNet18_Weights.DEFAULT)

for weight in resnet.parameters():  # nothing in the pretrained part learns
    weight.requires_grad = False

resnet.fc = nn.Linear(512, 10)  # a new layer: its parameters require grad

# every parameter goes to the optimizer, but only the new classifier's get gradients
sgd = optim.SGD(resnet.parameters(), lr=1e-2, momentum=0.9)
