"""Second-derivative cases shared by make_double_backward_golden.py (run under torch) and
test_double_backward.py: name -> f(x, torch, F), with x float64 of shape SHAPES[name]."""

SHAPE2 = (3, 4)
SHAPE4 = (2, 2, 4, 4)
SHAPE_SEG = (2, 3, 2, 2)
SHAPE_IMG = (2, 2, 5, 5)


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
        "cross_entropy": (SHAPE2, lambda x: F.cross_entropy(x, t([1, 0, 3]))),
        "cross_entropy_weight_smoothing": (
            SHAPE2,
            lambda x: F.cross_entropy(
                x, t([1, 0, 3]), weight=t([0.5, 1.0, 2.0, 1.5], dtype=torch.float64), label_smoothing=0.2
            ),
        ),
        "cross_entropy_ignore_sum": (SHAPE2, lambda x: F.cross_entropy(x, t([1, -100, 3]), reduction="sum")),
        "cross_entropy_none_2d": (
            SHAPE_SEG,
            lambda x: F.cross_entropy(x, t([[[0, 1], [2, 0]], [[1, 1], [2, 2]]]), reduction="none"),
        ),
        "nll_log_softmax": (SHAPE2, lambda x: F.nll_loss(F.log_softmax(x, 1), t([1, 0, 3]))),
        "nll_weighted": (
            SHAPE2,
            lambda x: F.nll_loss(x * x, t([1, 0, 3]), weight=t([0.5, 1.0, 2.0, 1.5], dtype=torch.float64)),
        ),
        # conv2d(x, w(x)): bilinear in x, so the second derivative has both the input and weight terms
        "conv2d": (SHAPE_IMG, lambda x: F.conv2d(x, x[:, :, 1:4, 1:4], x[0, 0, 0, :2], padding=1)),
        "conv2d_stride2": (SHAPE_IMG, lambda x: F.conv2d(x, x[:, :, :3, :3], stride=2, padding=1)),
        "conv2d_dilation2": (SHAPE_IMG, lambda x: F.conv2d(x, x[:, :, :2, 1:3], dilation=2, padding=(1, 0))),
        "conv2d_groups2": (SHAPE_IMG, lambda x: F.conv2d(x * x, x[:, :1, :3, :3], groups=2)),
        # views, joins and composites: the second derivative of x ↦ op(x·x)
        "slice": (SHAPE2, lambda x: (x * x)[:, 1:3]),
        "slice_step": (SHAPE2, lambda x: (x * x)[::2, ::3]),
        "select": (SHAPE2, lambda x: (x * x)[1]),
        "narrow": (SHAPE2, lambda x: (x * x).narrow(1, 1, 2)),
        "permute_reshape": (SHAPE2, lambda x: (x * x).t().reshape(2, 6)),
        "expand_broadcast": (SHAPE2, lambda x: x[:1] * x * x[:, :1]),
        "unsqueeze_squeeze": (SHAPE2, lambda x: (x * x).unsqueeze(0).squeeze(0).unsqueeze(2)),
        "flip": (SHAPE2, lambda x: (x * x).flip(1)),
        "tril": (SHAPE2, lambda x: (x * x).tril(1)),
        "diag_embed": (SHAPE2, lambda x: torch.diag(x[0] * x[1])),
        "cat_stack": (SHAPE2, lambda x: torch.cat([torch.stack([x, x * x]), (x * x * x).unsqueeze(0)])),
        "split_chunk": (SHAPE2, lambda x: torch.split(x * x, [1, 3], 1)[1] * x.chunk(2, 1)[0].sum()),
        "unbind": (SHAPE2, lambda x: torch.unbind(x * x)[2] * x[0]),
        "repeat": (SHAPE2, lambda x: (x * x).repeat(2, 1)),
        "where": (SHAPE2, lambda x: torch.where(x > 0, x * x, x * x * x)),
        "masked_fill": (SHAPE2, lambda x: (x * x).masked_fill(x > 0.5, 2.0) * x),
        "index_add": (SHAPE2, lambda x: x.index_add(0, t([0, 2]), (x * x)[1:])),
        "clone_contiguous": (SHAPE2, lambda x: (x * x).t().clone().contiguous() * x.t()),
        "matmul_broadcast": (SHAPE2, lambda x: x @ (x.t() * x.t())),
        "sum_mean_dims": (SHAPE2, lambda x: (x * x).sum(1, keepdim=True) * (x * x).mean(0)),
        "pow_div_clamp": (SHAPE2, lambda x: (x.abs() + 1) ** 1.5 / (x * x + 1) + x.clamp(-0.5, 0.5) * x),
        "lerp": (SHAPE2, lambda x: torch.lerp(x, x * x, 0.3)),
        "mse_loss": (SHAPE2, lambda x: F.mse_loss(x * x, x.flip(0))),
        "bce_with_logits": (SHAPE2, lambda x: F.binary_cross_entropy_with_logits(x, (x * x).sigmoid())),
        "linear": (SHAPE2, lambda x: F.linear(x, x * x, x[:, 0])),
        # normalisation, reductions and gated units with composed double backwards
        "layer_norm": (SHAPE2, lambda x: F.layer_norm(x * x, (4,), x[0], x[1].flip(0), eps=1e-3)),
        "layer_norm_2d_shape": (SHAPE_IMG, lambda x: F.layer_norm(x, (5, 5), x[0, 0] * 0.5, x[1, 1] + 1.0)),
        "batch_norm_train": (
            SHAPE4,
            lambda x: F.batch_norm(x * x, None, None, x[0, :, 0, 0], x[1, :, 1, 1], training=True),
        ),
        "batch_norm_eval": (
            SHAPE4,
            lambda x: F.batch_norm(
                x * x,
                t([0.2, -0.1], dtype=torch.float64),
                t([1.5, 0.7], dtype=torch.float64),
                x[0, :, 0, 0],
                None,
                training=False,
            ),
        ),
        "group_norm": (SHAPE4, lambda x: F.group_norm(x * x, 2, x[0, :, 0, 0], x[1, :, 1, 1])),
        "glu": (SHAPE2, lambda x: F.glu(x * x, 1)),
        "prelu": (SHAPE4, lambda x: F.prelu(x * x - 1, x[0, :, 0, 0])),
        "prelu_shared": (SHAPE2, lambda x: F.prelu(x, x[0, :1] * x[1, :1])),
        "var": (SHAPE2, lambda x: (x * x).var(1)),
        "std_keepdim": (SHAPE2, lambda x: (x * x).std(0, keepdim=True, correction=0)),
        "norm2": (SHAPE2, lambda x: (x * x).norm(dim=1)),
        "norm3": (SHAPE2, lambda x: x.norm(p=3)),
        "norm1": (SHAPE2, lambda x: x.norm(p=1) * x),
        "logsumexp": (SHAPE2, lambda x: (x * x).logsumexp(1)),
        "nansum": (SHAPE2, lambda x: (x * x).nansum(0)),
        "nanmean": (SHAPE2, lambda x: (x * x).nanmean(1, keepdim=True)),
        "conv_transpose2d": (
            SHAPE_IMG,
            lambda x: F.conv_transpose2d(x, x[:, :, 1:4, 1:4], x[0, 0, 0, :2], padding=1),
        ),
        "conv_transpose2d_stride2": (
            SHAPE_IMG,
            lambda x: F.conv_transpose2d(x, x[:, :, :3, :3], stride=2, padding=1, output_padding=1),
        ),
        "conv_transpose2d_groups2_dilation2": (
            SHAPE_IMG,
            lambda x: F.conv_transpose2d(x * x, x[:, :1, :3, :3], groups=2, dilation=2),
        ),
        "embedding": (SHAPE2, lambda w: F.embedding(t([[0, 2], [2, 1]]), w * w)),
    }


def second_derivative(torch, f, x, u, w):
    """d/dx Σ w·(d/dx Σ u·f(x)): a Hessian-vector product of f in the directions u and w."""
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad((f(x) * u).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad((g * w).sum(), x)
    return g.detach(), h
