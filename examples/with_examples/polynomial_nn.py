"""Learning PyTorch with Examples, "PyTorch: nn": the cubic as a Linear(3, 1) layer on the features
(x, x^2, x^3), trained with MSELoss(reduction='sum') and a hand-written gradient step."""

import math

import ferrotorch as torch

x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)

# (2000, 1) ** (3,) broadcasts to the (2000, 3) feature matrix
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)

# Flatten(0, 1) turns the (2000, 1) output into y's shape (2000,)
model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))

loss_fn = torch.nn.MSELoss(reduction="sum")

learning_rate = 1e-6
for t in range(2000):
    y_pred = model(xx)

    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())

    model.zero_grad()
    loss.backward()

    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad

# a Sequential is indexed like a list
linear_layer = model[0]

print(
    f"Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x"
    f" + {linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3"
)
