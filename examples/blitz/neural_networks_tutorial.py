"""The steps of PyTorch's "60 Minute Blitz: Neural Networks" tutorial, written for ferrotorch."""

# %%
import ferrotorch as torch
import ferrotorch.nn as nn
import ferrotorch.nn.functional as F
import ferrotorch.optim as optim


# %% A LeNet-style network for 32x32 single-channel images
class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        # 1 input channel, 6 feature maps, 5x5 kernels
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        # fully connected layers: y = x W^T + b
        self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 16 maps of 5x5 after the second pooling
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        # conv -> relu: N x 6 x 28 x 28; 2x2 max pooling: N x 6 x 14 x 14
        maps1 = F.relu(self.conv1(x))
        pooled1 = F.max_pool2d(maps1, (2, 2))
        # conv -> relu: N x 16 x 10 x 10; pooling with a square window given as one number: N x 16 x 5 x 5
        maps2 = F.relu(self.conv2(pooled1))
        pooled2 = F.max_pool2d(maps2, 2)
        flat = torch.flatten(pooled2, 1)  # N x 400
        hidden1 = F.relu(self.fc1(flat))  # N x 120
        hidden2 = F.relu(self.fc2(hidden1))  # N x 84
        return self.fc3(hidden2)  # N x 10


net = LeNet()
print(net)

# %% The learnable parameters
params = list(net.parameters())
print(len(params))
print(params[0].size())  # conv1's weight

# %% A random 32x32 input through the network
input = torch.randn(1, 1, 32, 32)
out = net(input)
print(out)

# %% Clear the gradients, then backpropagate a random gradient
net.zero_grad()
out.backward(torch.randn(1, 10))

# %% A loss: mean squared error against a made-up target
output = net(input)
target = torch.randn(10)  # a dummy target
target = target.view(1, -1)  # shaped like the output
criterion = nn.MSELoss()

loss = criterion(output, target)
print(loss)

# %% Following the graph backwards from the loss
print(loss.grad_fn)  # the MSE loss
print(loss.grad_fn.next_functions[0][0])  # the last linear layer
print(loss.grad_fn.next_functions[0][0].next_functions[0][0])  # one step further back

# %% Backprop: conv1's bias gradient before and after
net.zero_grad()  # gradients accumulate, so clear them first

print("conv1.bias.grad before backward")
print(net.conv1.bias.grad)

loss.backward()

print("conv1.bias.grad after backward")
print(net.conv1.bias.grad)

# %% Updating the weights by hand: weight = weight - learning_rate * gradient
learning_rate = 0.01
for f in net.parameters():
    f.data.sub_(f.grad.data * learning_rate)

# %% ... or with torch.optim

optimizer = optim.SGD(net.parameters(), lr=0.01)

# one training step
optimizer.zero_grad()  # clear the gradient buffers
output = net(input)
loss = criterion(output, target)
loss.backward()
optimizer.step()  # apply the update
