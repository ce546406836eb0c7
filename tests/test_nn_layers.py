"""nn layers and nn.init: default initialisation and dropout masks equal torch's after manual_seed,
printed forms and state_dict keys equal torch's, train/eval behaviour, layer errors, gradient checks."""

import json
import os
import sys
import warnings

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch import nn
from ferrotorch.nn import init

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "golden"))
from make_nn_golden import CASES, REPR_EXPRS

with open(os.path.join(HERE, "golden", "nn_golden.json")) as fh:
    GOLDEN = json.load(fh)

SEEDED = [n for n in CASES if n.startswith(("init_", "dropout"))]


@pytest.mark.parametrize("name", SEEDED)
def test_seeded_values_equal_torch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = CASES[name](torch, F)
    np.testing.assert_allclose(
        np.array(r["out"], dtype=float), np.array(GOLDEN[name]["out"], dtype=float), rtol=2e-6, atol=1e-7
    )


@pytest.mark.parametrize("i", range(len(REPR_EXPRS)))
def test_repr_and_state_dict_keys(i):
    m = eval(REPR_EXPRS[i], {"nn": nn, "torch": torch})
    assert repr(m) == GOLDEN["__reprs__"][i]
    assert list(m.state_dict().keys()) == GOLDEN["__state_keys__"][i]


def test_mlp_tutorial():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(13, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 3))
    x = torch.randn(8, 13)
    y = model(x)
    assert tuple(y.shape) == (8, 3)
    loss = nn.CrossEntropyLoss()(y, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]))
    loss.backward()
    for p in model.parameters():
        assert p.grad is not None and tuple(p.grad.shape) == tuple(p.shape)
    assert y.grad_fn.name() == "AddmmBackward0"


def test_linear_shapes_and_error():
    lin = nn.Linear(20, 5)
    assert tuple(lin.weight.shape) == (5, 20) and tuple(lin.bias.shape) == (5,)
    assert tuple(lin(torch.randn(2, 3, 20)).shape) == (2, 3, 5)
    assert tuple(lin(torch.randn(20)).shape) == (5,)
    with pytest.raises(RuntimeError) as e:
        lin(torch.randn(64, 10))
    msg = str(e.value)
    assert msg.startswith("addmm: mat1 and mat2 shapes cannot be multiplied (64x10 and 20x5)")
    assert "Linear(in_features=20, out_features=5) expects the last dimension of its input to be 20" in msg
    lin_nb = nn.Linear(3, 2, bias=False, dtype=torch.float64)
    assert lin_nb.bias is None and lin_nb.weight.dtype == torch.float64
    assert [n for n, _ in lin_nb.named_parameters()] == ["weight"]


def test_linear_bound_and_reset():
    torch.manual_seed(3)
    lin = nn.Linear(16, 7)
    w = lin.weight.detach().numpy()
    assert np.abs(w).max() <= 1 / 4 + 1e-6 and np.abs(lin.bias.detach().numpy()).max() <= 1 / 4 + 1e-6
    before = w.copy()
    lin.reset_parameters()
    assert not np.allclose(before, lin.weight.detach().numpy())


def test_embedding_module():
    torch.manual_seed(0)
    emb = nn.Embedding(6, 3, padding_idx=1)
    np.testing.assert_allclose(emb.weight.detach().numpy()[1], 0)
    out = emb(torch.tensor([[1, 2], [4, 1]]))
    assert tuple(out.shape) == (2, 2, 3)
    out.sum().backward()
    np.testing.assert_allclose(emb.weight.grad.numpy()[1], 0)
    np.testing.assert_allclose(emb.weight.grad.numpy()[2], 1)
    pre = torch.randn(4, 2)
    e2 = nn.Embedding.from_pretrained(pre)
    assert not e2.weight.requires_grad
    np.testing.assert_allclose(e2(torch.tensor([3])).detach().numpy(), pre.numpy()[3:4])
    assert nn.Embedding.from_pretrained(pre, freeze=False).weight.requires_grad


def test_dropout_train_eval():
    d = nn.Dropout(0.5)
    x = torch.ones(200)
    y = d(x)
    assert (y.numpy() == 0).any()
    d.eval()
    assert d(x) is x
    d2 = nn.Dropout2d(0.5).eval()
    x4 = torch.ones(2, 3, 4, 4)
    assert d2(x4) is x4
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got -0.1"):
        nn.Dropout(-0.1)


def test_norm_modules():
    ln = nn.LayerNorm(5)
    x = torch.randn(3, 5, dtype=torch.float32)
    y = ln(x).detach().numpy()
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-6)
    np.testing.assert_allclose(y.std(-1), 1, atol=1e-3)
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    gn = nn.GroupNorm(2, 4)
    assert tuple(gn(torch.randn(2, 4, 3, 3)).shape) == (2, 4, 3, 3)
    with pytest.raises(ValueError, match=r"num_channels \(4\) must be divisible by num_groups \(3\)"):
        nn.GroupNorm(3, 4)


def test_activation_modules():
    x = torch.randn(4, 6)
    np.testing.assert_allclose(nn.Softmax(dim=1)(x).numpy(), F.softmax(x, 1).numpy())
    np.testing.assert_allclose(nn.LogSoftmax(dim=0)(x).numpy(), F.log_softmax(x, 0).numpy())
    np.testing.assert_allclose(nn.GELU("tanh")(x).numpy(), F.gelu(x, approximate="tanh").numpy())
    np.testing.assert_allclose(nn.Mish()(x).numpy(), F.mish(x).numpy())
    np.testing.assert_allclose(nn.Softplus(2.0, 5.0)(x).numpy(), F.softplus(x, 2.0, 5.0).numpy())
    np.testing.assert_allclose(nn.LeakyReLU(0.3)(x).numpy(), F.leaky_relu(x, 0.3).numpy())
    np.testing.assert_allclose(nn.ELU(0.4)(x).numpy(), F.elu(x, 0.4).numpy())
    np.testing.assert_allclose(nn.Hardtanh(-0.2, 0.3)(x).numpy(), F.hardtanh(x, -0.2, 0.3).numpy())
    np.testing.assert_allclose(nn.SiLU()(x).numpy(), F.silu(x).numpy())
    xi = x.clone()
    nn.SiLU(inplace=True)(xi)
    np.testing.assert_allclose(xi.numpy(), F.silu(x).numpy())


def test_layer_gradcheck():
    torch.manual_seed(0)
    rs = np.random.RandomState(2)
    for mod, shape in [
        (nn.Linear(3, 2, dtype=torch.float64), (4, 3)),
        (nn.LayerNorm(3).double(), (2, 3)),
        (nn.GroupNorm(2, 4).double(), (2, 4, 2)),
    ]:
        x = torch.tensor(rs.randn(*shape), requires_grad=True)
        mod(x).pow(2).sum().backward()
        num = np.zeros(shape)
        base = x.detach().numpy().copy()
        for k in range(base.size):
            v = []
            for s in (1, -1):
                b = base.copy()
                b.reshape(-1)[k] += s * 1e-6
                with torch.no_grad():
                    v.append(mod(torch.tensor(b)).pow(2).sum().item())
            num.reshape(-1)[k] = (v[0] - v[1]) / 2e-6
        np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-4, atol=1e-6)


def test_init_helpers_and_errors():
    assert init.calculate_gain("relu") == pytest.approx(2**0.5)
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        init.calculate_gain("foo")
    with pytest.raises(
        ValueError, match="Fan in and fan out can not be computed for tensor with fewer than 2"
    ):
        init.xavier_uniform_(torch.empty(3))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(torch.empty(2, 2, 2))
    with pytest.raises(ValueError, match="Mode fan_x not supported"):
        init.kaiming_uniform_(torch.empty(2, 2), mode="fan_x")
    w = nn.Parameter(torch.empty(3, 4))
    init.kaiming_normal_(w)
    assert w.requires_grad and w.is_leaf and w.grad_fn is None
    q = init.orthogonal_(torch.empty(5, 3, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-12)
    t = init.trunc_normal_(torch.empty(1000), std=2.0, a=-1.0, b=1.5)
    assert t.min().item() >= -1.0 and t.max().item() <= 1.5
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_uniform_(torch.empty(0, 3))
