"""Second-derivative cases shared by make_double_backward_golden.py (run under torch) and
test_double_backward.py: name -> f(x, torch, F), with x float64 of shape SHAPES[name]."""

SHAPE2 = (3, 4)
SHAPE4 = (2, 2, 4, 4)


def cases(torch, F):
    t = torch.tensor
    return {
        "softmax": (SHAPE2, lambda x: F.softmax(x, 1)),
        "log_softmax": (SHAPE2, lambda x: F.log_softmax(x, 0)),
        "gelu": (SHAPE2, F.gelu),
        "gelu_tanh": (SHAPE2, lambda x: F.gelu(x, approximate="tanh")),
        "softplus": (SHAPE2, lambda x: F.softplus(x, beta=2.0)),
        "mish": (SHAPE2, F.mish),
        "silu": (SHAPE2, F.silu),
        "elu": (SHAPE2, lambda x: F.elu(x, 0.7)),
        "selu": (SHAPE2, F.selu),
        "celu": (SHAPE2, lambda x: F.celu(x, 1.3)),
        "hardswish": (SHAPE2, lambda x: F.hardswish(x * 2)),
        "leaky_relu": (SHAPE2, lambda x: F.leaky_relu(x, 0.1) * x),
        "hardtanh": (SHAPE2, lambda x: F.hardtanh(x, -0.5, 0.5) * x),
        "hardsigmoid": (SHAPE2, lambda x: F.hardsigmoid(x * 3) * x),
        "softshrink": (SHAPE2, lambda x: F.softshrink(x, 0.3) * x),
        "hardshrink": (SHAPE2, lambda x: F.hardshrink(x, 0.3) * x),
        "threshold": (SHAPE2, lambda x: F.threshold(x, 0.1, 2.0) * x),
        "getitem": (SHAPE2, lambda x: (x * x)[t([0, 2, 2])]),
        "index_select": (SHAPE2, lambda x: (x * x).index_select(1, t([3, 0]))),
        "gather": (SHAPE2, lambda x: (x * x).gather(1, t([[0, 1], [2, 2], [3, 0]]))),
        "diagonal": (SHAPE2, lambda x: (x * x).diagonal(1)),
        "cumsum": (SHAPE2, lambda x: (x * x).cumsum(1)),
        "max_dim": (SHAPE2, lambda x: (x * x).max(1)[0]),
        "amax": (SHAPE2, lambda x: (x * x).amax(0)),
        "max": (SHAPE2, lambda x: (x * x).max()),
        "median_dim": (SHAPE2, lambda x: (x * x).median(1)[0]),
        "max_pool2d": (SHAPE4, lambda x: F.max_pool2d(x * x, 2)),
        "avg_pool2d": (
            SHAPE4,
            lambda x: F.avg_pool2d(x * x, 3, stride=1, padding=1, count_include_pad=False),
        ),
        "adaptive_avg_pool2d": (SHAPE4, lambda x: F.adaptive_avg_pool2d(x * x, 3)),
        "embedding": (SHAPE2, lambda w: F.embedding(t([[0, 2], [2, 1]]), w * w)),
    }


def second_derivative(torch, f, x, u, w):
    """d/dx Σ w·(d/dx Σ u·f(x)): a Hessian-vector product of f in the directions u and w."""
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad((f(x) * u).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad((g * w).sum(), x)
    return g.detach(), h
