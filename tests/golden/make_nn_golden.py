# ruff: noqa: B023, PLC3002, C408  (cases bind loop variables through immediately-called lambdas)
"""Golden values for nn layers, functional ops, losses, init and dropout, from real PyTorch.

The cases are written once against a ``torch``-like module: this script runs them with real torch
and writes ``nn_golden.json``; ``tests/test_nn_*.py`` import ``CASES`` and run them with ferrotorch.
Run: /opt/torchenv/bin/python tests/golden/make_nn_golden.py
"""

from __future__ import annotations

import json
import os

import numpy as np


def _arr(seed, *shape, lo=-2.0, hi=2.0):
    return np.random.RandomState(seed).uniform(lo, hi, size=shape)


def _t(torch, a, grad=True, dtype=None):
    return torch.tensor(np.asarray(a), dtype=dtype or torch.float64, requires_grad=grad)


def _run(torch, fn, inputs):
    """fn(*inputs) -> output; returns output and the grads of (out * w).sum() w.r.t. inputs."""
    out = fn(*inputs)
    res = {"out": out.detach().numpy().tolist()}
    diff = [x for x in inputs if getattr(x, "requires_grad", False)]
    if diff and out.requires_grad:
        w = torch.tensor(np.random.RandomState(99).uniform(0.5, 1.5, size=tuple(out.shape)), dtype=out.dtype)
        (out * w).sum().backward()
        res["grads"] = [x.grad.numpy().tolist() for x in diff]
    return res


def _unary_cases():
    x = _arr(1, 7, 5, lo=-4, hi=4)
    x[0, 0], x[0, 1], x[0, 2] = 0.0, 25.0, -30.0
    fns = {
        "relu": lambda F, t: F.relu(t),
        "leaky_relu": lambda F, t: F.leaky_relu(t, 0.2),
        "elu": lambda F, t: F.elu(t, 1.3),
        "gelu": lambda F, t: F.gelu(t),
        "gelu_tanh": lambda F, t: F.gelu(t, approximate="tanh"),
        "silu": lambda F, t: F.silu(t),
        "mish": lambda F, t: F.mish(t),
        "softplus": lambda F, t: F.softplus(t),
        "softplus_b": lambda F, t: F.softplus(t, beta=2.0, threshold=5.0),
        "hardtanh": lambda F, t: F.hardtanh(t, -0.5, 0.7),
        "relu6": lambda F, t: F.relu6(t * 3),
        "sigmoid": lambda F, t: F.sigmoid(t),
        "tanh": lambda F, t: F.tanh(t),
        "logsigmoid": lambda F, t: F.logsigmoid(t),
        "softmax0": lambda F, t: F.softmax(t, dim=0),
        "softmax1": lambda F, t: F.softmax(t, dim=1),
        "log_softmax0": lambda F, t: F.log_softmax(t, dim=0),
        "log_softmax1": lambda F, t: F.log_softmax(t, dim=-1),
        "softmax_3d": lambda F, t: F.softmax(t.reshape(7, 1, 5) * t.reshape(1, 7, 5), dim=1),
        "log_softmax_3d": lambda F, t: F.log_softmax(t.reshape(7, 1, 5) * t.reshape(1, 7, 5), dim=0),
        "softmax_T": lambda F, t: F.softmax(t.t(), dim=1),
    }
    out = {}
    for name, f in fns.items():
        out["act_" + name] = (lambda f: lambda torch, F: _run(torch, lambda a: f(F, a), [_t(torch, x)]))(f)
    return out


def _layer_cases():
    c = {}
    x = _arr(2, 6, 9)
    w = _arr(3, 4, 9, lo=-0.5, hi=0.5)
    b = _arr(4, 4)
    c["linear"] = lambda torch, F: _run(torch, F.linear, [_t(torch, x), _t(torch, w), _t(torch, b)])
    c["linear_nobias_3d"] = lambda torch, F: _run(
        torch, lambda a, ww: F.linear(a, ww), [_t(torch, x.reshape(2, 3, 9)), _t(torch, w)]
    )
    c["linear_1d"] = lambda torch, F: _run(torch, F.linear, [_t(torch, x[0]), _t(torch, w), _t(torch, b)])
    x1, x2 = _arr(5, 5, 3), _arr(6, 5, 4)
    wb, bb = _arr(7, 2, 3, 4), _arr(8, 2)
    c["bilinear"] = lambda torch, F: _run(
        torch, F.bilinear, [_t(torch, x1), _t(torch, x2), _t(torch, wb), _t(torch, bb)]
    )
    xl = _arr(9, 3, 4, 5)
    c["layer_norm"] = lambda torch, F: _run(
        torch,
        lambda a, ww, bb_: F.layer_norm(a, (5,), ww, bb_),
        [_t(torch, xl), _t(torch, _arr(10, 5)), _t(torch, _arr(11, 5))],
    )
    c["layer_norm2"] = lambda torch, F: _run(
        torch, lambda a: F.layer_norm(a, (4, 5), eps=1e-3), [_t(torch, xl)]
    )
    xg = _arr(12, 2, 6, 3, 2)
    c["group_norm"] = lambda torch, F: _run(
        torch,
        lambda a, ww, bb_: F.group_norm(a, 3, ww, bb_),
        [_t(torch, xg), _t(torch, _arr(13, 6)), _t(torch, _arr(14, 6))],
    )
    xp = _arr(15, 2, 3, 4, 5)
    c["pad_const"] = lambda torch, F: _run(
        torch, lambda a: F.pad(a, (1, 2, 0, 3), value=0.5), [_t(torch, xp)]
    )
    c["pad_const_neg"] = lambda torch, F: _run(torch, lambda a: F.pad(a, (-1, 2)), [_t(torch, xp)])
    c["pad_reflect"] = lambda torch, F: _run(
        torch, lambda a: F.pad(a, (2, 3, 1, 2), mode="reflect"), [_t(torch, xp)]
    )
    c["pad_replicate"] = lambda torch, F: _run(
        torch, lambda a: F.pad(a, (3, 1, 2, 0), mode="replicate"), [_t(torch, xp)]
    )
    c["pad_circular"] = lambda torch, F: _run(
        torch, lambda a: F.pad(a, (2, 1, 1, 1), mode="circular"), [_t(torch, xp)]
    )
    c["normalize"] = lambda torch, F: _run(torch, lambda a: F.normalize(a, dim=1), [_t(torch, x)])
    c["normalize_p1"] = lambda torch, F: _run(torch, lambda a: F.normalize(a, p=1.0, dim=0), [_t(torch, x)])
    y = _arr(16, 6, 9)
    c["cosine_similarity"] = lambda torch, F: _run(torch, F.cosine_similarity, [_t(torch, x), _t(torch, y)])
    c["cosine_similarity_bc"] = lambda torch, F: _run(
        torch, lambda a, bb_: F.cosine_similarity(a, bb_, dim=-1), [_t(torch, x), _t(torch, y[:1])]
    )
    c["pairwise_distance"] = lambda torch, F: _run(torch, F.pairwise_distance, [_t(torch, x), _t(torch, y)])
    c["pairwise_distance_p1"] = lambda torch, F: _run(
        torch, lambda a, bb_: F.pairwise_distance(a, bb_, p=1.0, keepdim=True), [_t(torch, x), _t(torch, y)]
    )
    xi = _arr(17, 2, 3, 4, 5)
    for name, kw in {
        "nearest_size": dict(size=(7, 3)),
        "nearest_scale": dict(scale_factor=2),
        "nearest_scale_frac": dict(scale_factor=1.7),
        "bilinear_ac": dict(size=(7, 9), mode="bilinear", align_corners=True),
        "bilinear": dict(size=(7, 9), mode="bilinear", align_corners=False),
        "bilinear_down": dict(size=(3, 2), mode="bilinear"),
        "bilinear_scale": dict(scale_factor=1.5, mode="bilinear"),
        "nearest_exact": dict(size=(7, 3), mode="nearest-exact"),
    }.items():
        c["interp_" + name] = (
            lambda kw: lambda torch, F: _run(torch, lambda a: F.interpolate(a, **kw), [_t(torch, xi)])
        )(kw)
    c["interp_linear"] = lambda torch, F: _run(
        torch, lambda a: F.interpolate(a, size=9, mode="linear"), [_t(torch, xi.reshape(2, 12, 5))]
    )
    xu = _arr(30, 2, 3, 5, 6)
    c["unfold"] = lambda torch, F: _run(torch, lambda a: F.unfold(a, (2, 3)), [_t(torch, xu)])
    c["unfold_args"] = lambda torch, F: _run(
        torch, lambda a: F.unfold(a, 3, dilation=(1, 2), padding=1, stride=(2, 1)), [_t(torch, xu)]
    )
    c["unfold_3d"] = lambda torch, F: _run(torch, lambda a: F.unfold(a, 2, stride=2), [_t(torch, xu[0])])
    xf = _arr(31, 2, 12, 9)
    c["fold"] = lambda torch, F: _run(torch, lambda a: F.fold(a, (4, 5), (2, 3)), [_t(torch, xf)])
    c["fold_args"] = lambda torch, F: _run(
        torch,
        lambda a: F.fold(a, (5, 4), 2, dilation=(2, 1), padding=(1, 0), stride=(2, 1)),
        [_t(torch, _arr(32, 2, 8, 9))],
    )
    idx = np.array([[1, 0, 3], [3, 2, 0]])
    emb = _arr(18, 5, 4)
    c["embedding"] = lambda torch, F: _run(
        torch, lambda ww: F.embedding(torch.tensor(idx), ww), [_t(torch, emb)]
    )
    c["embedding_pad"] = lambda torch, F: _run(
        torch, lambda ww: F.embedding(torch.tensor(idx), ww, padding_idx=0), [_t(torch, emb)]
    )
    c["one_hot"] = lambda torch, F: {"out": F.one_hot(torch.tensor([3, 0, 1, 3])).tolist()}
    c["one_hot_n"] = lambda torch, F: {"out": F.one_hot(torch.tensor([[1], [0]]), 4).tolist()}
    return c


def _loss_cases():
    c = {}
    logits = _arr(20, 6, 5, lo=-3, hi=3)
    tgt = np.array([0, 4, 2, 2, 1, 3])
    tgt_ig = np.array([0, -100, 2, 2, -100, 3])
    wt = _arr(21, 5, lo=0.2, hi=2.0)

    for red in ("mean", "sum", "none"):
        c["ce_" + red] = (
            lambda red: (
                lambda torch, F: _run(
                    torch, lambda a: F.cross_entropy(a, torch.tensor(tgt), reduction=red), [_t(torch, logits)]
                )
            )
        )(red)
        c["ce_w_" + red] = (
            lambda red: (
                lambda torch, F: _run(
                    torch,
                    lambda a: F.cross_entropy(a, torch.tensor(tgt), weight=torch.tensor(wt), reduction=red),
                    [_t(torch, logits)],
                )
            )
        )(red)
        c["ce_ls_" + red] = (
            lambda red: (
                lambda torch, F: _run(
                    torch,
                    lambda a: F.cross_entropy(a, torch.tensor(tgt), label_smoothing=0.2, reduction=red),
                    [_t(torch, logits)],
                )
            )
        )(red)
        c["ce_wls_ig_" + red] = (
            lambda red: (
                lambda torch, F: _run(
                    torch,
                    lambda a: F.cross_entropy(
                        a, torch.tensor(tgt_ig), weight=torch.tensor(wt), label_smoothing=0.1, reduction=red
                    ),
                    [_t(torch, logits)],
                )
            )
        )(red)
        c["nll_w_ig_" + red] = (
            lambda red: (
                lambda torch, F: _run(
                    torch,
                    lambda a: F.nll_loss(a, torch.tensor(tgt_ig), weight=torch.tensor(wt), reduction=red),
                    [_t(torch, logits)],
                )
            )
        )(red)
    c["ce_ignore"] = lambda torch, F: _run(
        torch,
        lambda a: F.cross_entropy(a, torch.tensor(np.array([0, 4, 2, 2, 1, 2])), ignore_index=2),
        [_t(torch, logits)],
    )
    x4 = _arr(22, 2, 5, 3, 4)
    t4 = np.random.RandomState(23).randint(0, 5, size=(2, 3, 4))
    c["ce_4d"] = lambda torch, F: _run(torch, lambda a: F.cross_entropy(a, torch.tensor(t4)), [_t(torch, x4)])
    c["ce_4d_none_w"] = lambda torch, F: _run(
        torch,
        lambda a: F.cross_entropy(a, torch.tensor(t4), weight=torch.tensor(wt), reduction="none"),
        [_t(torch, x4)],
    )
    c["ce_3d"] = lambda torch, F: _run(
        torch, lambda a: F.cross_entropy(a, torch.tensor(t4[:, 0])), [_t(torch, x4[:, :, 0])]
    )
    c["ce_1d"] = lambda torch, F: _run(
        torch, lambda a: F.cross_entropy(a, torch.tensor(3)), [_t(torch, logits[0])]
    )
    probs = np.random.RandomState(24).dirichlet(np.ones(5), size=6)
    for red in ("mean", "sum", "none"):
        c["ce_prob_" + red] = (
            lambda red: (
                lambda torch, F: _run(
                    torch,
                    lambda a, p: F.cross_entropy(
                        a, p, reduction=red, label_smoothing=0.1, weight=torch.tensor(wt)
                    ),
                    [_t(torch, logits), _t(torch, probs)],
                )
            )
        )(red)
    c["ce_prob"] = lambda torch, F: _run(
        torch, lambda a, p: F.cross_entropy(a, p), [_t(torch, logits), _t(torch, probs)]
    )
    c["nll"] = lambda torch, F: _run(
        torch, lambda a: F.nll_loss(F.log_softmax(a, 1), torch.tensor(tgt)), [_t(torch, logits)]
    )
    xr, yr = _arr(25, 4, 7), _arr(26, 4, 7)
    for red in ("mean", "sum", "none"):
        for name, f in {
            "mse": lambda F, a, b, r: F.mse_loss(a, b, reduction=r),
            "l1": lambda F, a, b, r: F.l1_loss(a, b, reduction=r),
            "smooth_l1": lambda F, a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.5),
            "smooth_l1_b0": lambda F, a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.0),
            "huber": lambda F, a, b, r: F.huber_loss(a, b, reduction=r, delta=0.7),
            "margin_ranking": lambda F, a, b, r: F.margin_ranking_loss(
                a[0], b[0], a[1].sign(), margin=0.3, reduction=r
            ),
            "cosine_embedding": lambda F, a, b, r: F.cosine_embedding_loss(
                a, b, (a[:, 0] > 0).double() * 2 - 1, margin=0.2, reduction=r
            ),
            "kl_div": lambda F, a, b, r: F.kl_div(F.log_softmax(a, 1), F.softmax(b, 1), reduction=r),
            "kl_div_log": lambda F, a, b, r: F.kl_div(a, F.log_softmax(b, 1), reduction=r, log_target=True),
        }.items():
            c[f"{name}_{red}"] = (
                lambda f, red: (
                    lambda torch, F: _run(torch, lambda a, b: f(F, a, b, red), [_t(torch, xr), _t(torch, yr)])
                )
            )(f, red)
    c["kl_div_batchmean"] = lambda torch, F: _run(
        torch,
        lambda a, b: F.kl_div(F.log_softmax(a, 1), F.softmax(b, 1), reduction="batchmean"),
        [_t(torch, xr), _t(torch, yr)],
    )
    pr = _arr(27, 4, 7, lo=0.0, hi=1.0)
    pr[0, 0], pr[0, 1] = 0.0, 1.0
    tb = (np.random.RandomState(28).uniform(size=(4, 7)) > 0.5).astype(np.float64)
    wb = _arr(29, 7, lo=0.5, hi=2)
    for red in ("mean", "sum", "none"):
        c["bce_" + red] = (
            lambda red: (
                lambda torch, F: _run(
                    torch,
                    lambda a: F.binary_cross_entropy(a, torch.tensor(tb[1:]), reduction=red),
                    [_t(torch, pr[1:])],
                )
            )
        )(red)
        c["bce_w_" + red] = (
            lambda red: (
                lambda torch, F: _run(
                    torch,
                    lambda a: F.binary_cross_entropy(
                        a, torch.tensor(tb[1:]), weight=torch.tensor(wb), reduction=red
                    ),
                    [_t(torch, pr[1:])],
                )
            )
        )(red)
        c["bcel_" + red] = (
            lambda red: (
                lambda torch, F: _run(
                    torch,
                    lambda a, t: F.binary_cross_entropy_with_logits(a * 20, t, reduction=red),
                    [_t(torch, xr), _t(torch, pr)],
                )
            )
        )(red)
        c["bcel_w_pw_" + red] = (
            lambda red: (
                lambda torch, F: _run(
                    torch,
                    lambda a: F.binary_cross_entropy_with_logits(
                        a,
                        torch.tensor(tb),
                        weight=torch.tensor(wb),
                        pos_weight=torch.tensor(wb[::-1].copy()),
                        reduction=red,
                    ),
                    [_t(torch, xr)],
                )
            )
        )(red)
    c["bce_saturated"] = lambda torch, F: {
        "out": F.binary_cross_entropy(
            torch.tensor(pr[0], dtype=torch.float64), torch.tensor(1 - tb[0])
        ).item()
    }
    return c


def _init_cases():
    c = {}

    def seeded(f):
        def run(torch, F):
            torch.manual_seed(1234)
            return {"out": f(torch).detach().numpy().tolist()}

        return run

    nn = "nn"
    c["init_linear_w"] = seeded(lambda torch: getattr(torch, nn).Linear(13, 64).weight)
    c["init_linear_b"] = seeded(lambda torch: getattr(torch, nn).Linear(13, 64).bias)
    c["init_bilinear_w"] = seeded(lambda torch: getattr(torch, nn).Bilinear(3, 4, 5).weight)
    c["init_embedding"] = seeded(lambda torch: getattr(torch, nn).Embedding(6, 3, padding_idx=2).weight)
    c["init_mlp_last"] = seeded(
        lambda torch: (
            getattr(torch, nn)
            .Sequential(
                torch.nn.Linear(13, 64),
                torch.nn.ReLU(),
                torch.nn.Linear(64, 32),
                torch.nn.ReLU(),
                torch.nn.Linear(32, 3),
            )[4]
            .weight
        )
    )
    init = {
        "uniform": lambda I, t: I.uniform_(t, -0.3, 0.7),
        "normal": lambda I, t: I.normal_(t, 0.5, 2.0),
        "constant": lambda I, t: I.constant_(t, 0.25),
        "ones": lambda I, t: I.ones_(t),
        "zeros": lambda I, t: I.zeros_(t),
        "eye": lambda I, t: I.eye_(t),
        "xavier_uniform": lambda I, t: I.xavier_uniform_(t, gain=1.5),
        "xavier_normal": lambda I, t: I.xavier_normal_(t),
        "kaiming_uniform": lambda I, t: I.kaiming_uniform_(t, a=0.1),
        "kaiming_normal": lambda I, t: I.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
        "trunc_normal": lambda I, t: I.trunc_normal_(t, 0.1, 0.8, -1.0, 1.2),
        "trunc_normal_narrow": lambda I, t: I.trunc_normal_(t, 0.0, 1.0, 1.5, 2.5),
        "trunc_normal_default": lambda I, t: I.trunc_normal_(t.reshape(36)),
        "orthogonal": lambda I, t: I.orthogonal_(t),
        "orthogonal_wide": lambda I, t: I.orthogonal_(t.reshape(3, 12)),
    }
    for name, f in init.items():
        c["init_" + name] = (lambda f: seeded(lambda torch: f(torch.nn.init, torch.empty(9, 4))))(f)
    c["init_dirac"] = seeded(lambda torch: torch.nn.init.dirac_(torch.empty(4, 2, 3, 3), groups=2))
    c["init_gain"] = lambda torch, F: {
        "out": [
            torch.nn.init.calculate_gain(n, p)
            for n, p in [
                ("linear", None),
                ("relu", None),
                ("tanh", None),
                ("leaky_relu", None),
                ("leaky_relu", 0.3),
                ("selu", None),
                ("sigmoid", None),
                ("conv2d", None),
            ]
        ]
    }
    c["dropout"] = seeded(lambda torch: torch.nn.functional.dropout(torch.ones(4, 10), 0.3))
    c["dropout_p0"] = seeded(lambda torch: torch.nn.functional.dropout(torch.ones(4, 10), 0.0))
    c["dropout2d"] = seeded(lambda torch: torch.nn.Dropout2d(0.5)(torch.ones(2, 6, 2, 2)))
    c["dropout_module_twice"] = seeded(
        lambda torch: torch.cat(
            [torch.nn.Dropout(0.25)(torch.ones(3, 7)), torch.nn.Dropout(0.6)(torch.ones(50))[None, :7]]
        )
    )
    return c


def all_cases():
    c = {}
    c.update(_unary_cases())
    c.update(_layer_cases())
    c.update(_loss_cases())
    c.update(_init_cases())
    return c


CASES = all_cases()

# printed forms (and state_dict keys) of modules, evaluated with `nn` bound to torch.nn / ferrotorch.nn
REPR_EXPRS = [
    "nn.Sequential(nn.Linear(13, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 3))",
    "nn.Linear(3, 4, bias=False)",
    "nn.Bilinear(2, 3, 4)",
    "nn.Embedding(10, 3)",
    "nn.Embedding(10, 3, padding_idx=-1, max_norm=2.0)",
    "nn.Dropout()",
    "nn.Dropout(0.2, inplace=True)",
    "nn.Dropout2d(0.1)",
    "nn.LayerNorm(10)",
    "nn.LayerNorm((4, 5), eps=1e-3, elementwise_affine=False)",
    "nn.LayerNorm(6, bias=False)",
    "nn.GroupNorm(2, 4)",
    "nn.GroupNorm(3, 6, affine=False)",
    "nn.Softmax(dim=1)",
    "nn.Softmax()",
    "nn.LogSoftmax(dim=-1)",
    "nn.GELU()",
    "nn.GELU(approximate='tanh')",
    "nn.Mish()",
    "nn.Softplus(beta=2, threshold=10)",
    "nn.ELU(alpha=0.5)",
    "nn.LeakyReLU(0.2)",
    "nn.SiLU()",
    "nn.CrossEntropyLoss(label_smoothing=0.1)",
    "nn.NLLLoss()",
    "nn.MSELoss(reduction='sum')",
    "nn.BCEWithLogitsLoss(pos_weight=torch.ones(2))",
    "nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.GELU(), nn.Dropout(0.1), nn.Linear(8, 2), nn.LogSoftmax(dim=1))",
]


def main():
    import torch
    import torch.nn.functional as F

    torch.set_default_dtype(torch.float32)
    out = {}
    for name, f in CASES.items():
        out[name] = f(torch, F)
    out["__reprs__"] = [repr(eval(e, {"nn": torch.nn, "torch": torch})) for e in REPR_EXPRS]
    out["__state_keys__"] = [
        list(eval(e, {"nn": torch.nn, "torch": torch}).state_dict().keys()) for e in REPR_EXPRS
    ]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nn_golden.json")
    with open(path, "w") as fh:
        json.dump(out, fh, allow_nan=True)
    print(f"wrote {len(out)} cases to {path}")


if __name__ == "__main__":
    main()
