"""Single ops and layers: small-op overhead, the big kernels, and Adam.step() over the ConvNet's parameters.

Every `make_*(lib)` builds identical float32 inputs from NumPy (outside the timing) and returns the
callable that is timed.
"""

from __future__ import annotations

import numpy as np
from harness import Case
from models import convnet


def _rand(lib, *shape, seed=0, requires_grad=False):
    t = lib.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))
    return t.requires_grad_(True) if requires_grad else t


def make_add_8x8(lib):
    a, b = lib.ones(8, 8), lib.ones(8, 8)
    return lambda: a + b


def make_matmul_8x8(lib):
    a, b = lib.ones(8, 8), lib.ones(8, 8)
    return lambda: a @ b


def make_three_op(lib):
    """(a * b + b).tanh() and its backward: graph bookkeeping dominates at this size."""
    a = _rand(lib, 8, 8, seed=0, requires_grad=True)
    b = _rand(lib, 8, 8, seed=1)
    g = lib.ones(8, 8)

    def step():
        a.grad = None
        (a * b + b).tanh().backward(g)

    return step


def make_matmul(n):
    def make(lib):
        a, b = _rand(lib, n, n, seed=0), _rand(lib, n, n, seed=1)
        return lambda: a @ b

    return make


def make_elementwise_4m(lib):
    a, b = _rand(lib, 1 << 22, seed=0), _rand(lib, 1 << 22, seed=1)
    return lambda: a * b


def make_gelu_1m(lib):
    """F.gelu forward and backward over 1M float32 values (erf form)."""
    x = _rand(lib, 1 << 20, seed=0, requires_grad=True)
    g = _rand(lib, 1 << 20, seed=1)

    def step():
        x.grad = None
        lib.nn.functional.gelu(x).backward(g)

    return step


def _conv_input(lib):
    return _rand(lib, 64, 32, 16, 16, seed=0, requires_grad=True), _rand(lib, 64, 32, 16, 16, seed=1)


def make_conv_fwd(lib):
    lib.manual_seed(0)
    conv = lib.nn.Conv2d(32, 32, 3, padding=1)
    x, _ = _conv_input(lib)

    def step():
        with lib.no_grad():
            conv(x)

    return step


def make_conv_fwd_bwd(lib):
    lib.manual_seed(0)
    conv = lib.nn.Conv2d(32, 32, 3, padding=1)
    x, gy = _conv_input(lib)

    def step():
        x.grad = None
        conv.zero_grad()
        conv(x).backward(gy)

    return step


def make_maxpool_fwd_bwd(lib):
    pool = lib.nn.MaxPool2d(2)
    x, _ = _conv_input(lib)
    gy = _rand(lib, 64, 32, 8, 8, seed=2)

    def step():
        x.grad = None
        pool(x).backward(gy)

    return step


def make_batchnorm_fwd_bwd(lib):
    bn = lib.nn.BatchNorm2d(32)
    x, gy = _conv_input(lib)

    def step():
        x.grad = None
        bn.zero_grad()
        bn(x).backward(gy)

    return step


def make_cross_entropy(lib):
    logits = _rand(lib, 512, 10, seed=0, requires_grad=True)
    target = lib.tensor(np.random.default_rng(1).integers(0, 10, 512))
    F = lib.nn.functional

    def step():
        logits.grad = None
        F.cross_entropy(logits, target).backward()

    return step


def make_adam_step(lib):
    """Adam over the demo ConvNet's 26 parameter tensors, gradients already in place."""
    lib.manual_seed(0)
    params = list(convnet(lib).parameters())
    for i, p in enumerate(params):
        p.grad = _rand(lib, *p.shape, seed=100 + i)
    opt = lib.optim.Adam(params, lr=1e-3)
    opt.step()  # state allocated outside the timing
    return opt.step


CASES = [
    Case("add_8x8", "a + b 8×8", 0.5, make_add_8x8, number=50000),
    Case("matmul_8x8", "matmul 8×8", 0.5, make_matmul_8x8, number=50000),
    Case("three_op_8x8", "three-op fwd+bwd 8×8", 0.3, make_three_op, number=5000),
    Case(
        "matmul_256",
        "matmul 256² f32",
        None,
        make_matmul(256),
        number=200,
        work=2 * 256**3,
        rate_unit="GFLOP/s",
    ),
    Case(
        "matmul_1024",
        "matmul 1024² f32",
        1.0,
        make_matmul(1024),
        number=5,
        work=2 * 1024**3,
        rate_unit="GFLOP/s",
    ),
    Case("conv_fwd", "conv 3×3 fwd (no_grad)", None, make_conv_fwd, number=30),
    Case("conv_fwd_bwd", "conv 3×3 fwd+bwd", 1.0, make_conv_fwd_bwd, number=10),
    Case("maxpool_fwd_bwd", "max-pool 2×2 fwd+bwd", None, make_maxpool_fwd_bwd, number=30),
    Case("batchnorm_fwd_bwd", "batch-norm 2d fwd+bwd", None, make_batchnorm_fwd_bwd, number=30),
    Case("elementwise_4m", "elementwise mul 4M", 0.8, make_elementwise_4m, number=20),
    Case("gelu_1m", "GELU 1M fwd+bwd", None, make_gelu_1m, number=20),
    Case("cross_entropy", "cross-entropy 512×10 fwd+bwd", 0.3, make_cross_entropy, number=1000),
    Case("adam_step", "Adam.step() ConvNet params", None, make_adam_step, number=200),
]
