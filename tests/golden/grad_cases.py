"""The gradient cases shared by make_grad_golden.py (run under torch) and test_grad_golden.py."""

X = [[0.3, 0.7, 1.3], [0.45, 0.9, 1.7]]
Y = [0.8, 1.3, 0.45]
UNARY = [
    "abs",
    "neg",
    "exp",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sqrt",
    "rsqrt",
    "square",
    "sin",
    "cos",
    "tan",
    "tanh",
    "sigmoid",
    "relu",
    "reciprocal",
    "exp2",
    "atan",
    "erf",
    "frac",
    "floor",
    "round",
    "sign",
    "asinh",
    "deg2rad",
    "rad2deg",
    "sinc",
]
BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2", "remainder", "fmod"]


def cases(torch):
    """name -> f(x, y) for the library passed in (torch or ferrotorch)."""
    c = {"u_" + n: (lambda x, y, n=n: getattr(torch, n)(x)) for n in UNARY}
    c.update({"b_" + n: (lambda x, y, n=n: getattr(torch, n)(x, y)) for n in BINARY})
    c.update(
        {
            "c_clamp": lambda x, y: torch.clamp(x, 0.5, 1.0),
            "c_clamp_tensor": lambda x, y: torch.clamp(x, min=y),
            "c_where": lambda x, y: torch.where(x > 0.6, x, y),
            "c_view_t_mul": lambda x, y: x.t() * y.unsqueeze(1),
            "c_expand_sum": lambda x, y: (y.expand(2, 3) * x).sum(0),
            "c_narrow_select": lambda x, y: x.narrow(1, 1, 2).select(0, 1) * y.narrow(0, 0, 2),
            "c_reshape_permute": lambda x, y: x.reshape(3, 2).permute(1, 0) * 2 + y,
            "c_inplace_chain": lambda x, y: (x * 1).mul_(y).add_(x).exp_(),
            "c_lerp": lambda x, y: torch.lerp(x, y.expand(2, 3), 0.3),
            "c_pow_scalar": lambda x, y: x**3 + 2**x,
            "c_acosh": lambda x, y: torch.acosh(x + 1),
            "c_atanh": lambda x, y: torch.atanh(x / 2),
            "c_sinc_at_zero": lambda x, y: torch.sinc(x - x.detach()[0, 0]),
        }
    )
    return c


def run(torch, fn):
    """Forward and backward of fn on the fixed float64 inputs; returns (out, x, y)."""
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(Y, dtype=torch.float64, requires_grad=True)
    out = fn(x, y)
    out.backward(torch.ones_like(out))
    return out, x, y
