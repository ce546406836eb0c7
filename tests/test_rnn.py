"""nn.RNN / nn.LSTM / nn.GRU and the cells against real-PyTorch goldens (make_rnn_golden.py):
parameters after manual_seed bit for bit, outputs, h_n/c_n and the gradients of every parameter, the
input and h0/c0 within float tolerance (summation orders differ), dropout masks between layers,
printed forms, state_dict keys, errors; plus float64 finite-difference gradient checks."""

import json
import os
import sys
import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "golden"))
from make_rnn_golden import ERROR_EXPRS, FORWARD, REPR_EXPRS, run_error, run_forward

with open(os.path.join(HERE, "golden", "rnn_golden.json")) as fh:
    GOLDEN = json.load(fh)


def _tol(name):
    # float32: one rounding per op, in a different summation order than ATen's gemm; float64: tight
    if FORWARD[name][4] == "float64":
        return {"rtol": 1e-11, "atol": 1e-13}
    return {"rtol": 2e-5, "atol": 2e-6}


@pytest.mark.parametrize("name", sorted(FORWARD))
def test_forward_backward_equals_torch(name):
    got = run_forward(torch, name)
    exp = GOLDEN["forward"][name]
    assert got["param_names"] == exp["param_names"]
    for n, p, q in zip(got["param_names"], got["params"], exp["params"]):
        # the default initialisation draws the same numbers from the same generator
        np.testing.assert_array_equal(np.array(p), np.array(q), err_msg=n)
    assert got["out_shapes"] == exp["out_shapes"]
    tol = _tol(name)
    for k, (a, b) in enumerate(zip(got["outs"], exp["outs"])):
        np.testing.assert_allclose(np.array(a), np.array(b), err_msg=f"output {k}", **tol)
    for n, a, b in zip(got["param_names"], got["param_grads"], exp["param_grads"]):
        np.testing.assert_allclose(np.array(a), np.array(b), err_msg=f"grad {n}", **tol)
    np.testing.assert_allclose(np.array(got["input_grad"]), np.array(exp["input_grad"]), **tol)
    assert len(got["hidden_grads"]) == len(exp["hidden_grads"])
    for a, b in zip(got["hidden_grads"], exp["hidden_grads"]):
        np.testing.assert_allclose(np.array(a), np.array(b), **tol)


@pytest.mark.parametrize("i", range(len(REPR_EXPRS)))
def test_repr_and_state_dict_keys(i):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = eval(REPR_EXPRS[i], {"nn": nn, "torch": torch})
    assert repr(m) == GOLDEN["reprs"][i]
    assert list(m.state_dict().keys()) == GOLDEN["state_keys"][i]
    assert [n for n, _ in m.named_parameters()] == GOLDEN["state_keys"][i]


@pytest.mark.parametrize("i", range(len(ERROR_EXPRS)))
def test_errors_equal_torch(i):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert run_error(torch, ERROR_EXPRS[i]) == GOLDEN["errors"][i], ERROR_EXPRS[i]


def test_dropout_warning_and_attributes():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        m = nn.GRU(3, 4, dropout=0.2)
    assert m.dropout == 0.2 and m.mode == "GRU" and m.num_layers == 1
    r = nn.RNN(3, 4, 2, "relu")
    assert r.nonlinearity == "relu" and r.mode == "RNN_RELU" and r.num_layers == 2
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert lstm.proj_size == 0
    assert [[tuple(p.shape) for p in ws] for ws in lstm.all_weights][2] == [(16, 8), (16, 4), (16,), (16,)]
    lstm.flatten_parameters()  # a no-op on CPU, as in torch
    assert isinstance(lstm, nn.RNNBase) and isinstance(nn.GRUCell(2, 3), nn.RNNCellBase)


def test_proj_size_and_packed_sequence_not_supported():
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(4, 3, proj_size=2)

    class PackedSequence(tuple):  # stands in for nn.utils.rnn.PackedSequence (a namedtuple in torch)
        pass

    for m in (nn.RNN(4, 3), nn.LSTM(4, 3), nn.GRU(4, 3)):
        with pytest.raises(NotImplementedError, match="packed sequences are not supported yet"):
            m(PackedSequence((torch.zeros(5, 4), torch.tensor([2, 2, 1]))))


def test_eval_ignores_dropout_and_train_uses_it():
    torch.manual_seed(0)
    m = nn.LSTM(4, 6, num_layers=2, dropout=0.5)
    x = torch.randn(7, 3, 4)
    m.eval()
    a, _ = m(x)
    b, _ = m(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    m.train()
    c, _ = m(x)
    assert not np.allclose(a.detach().numpy(), c.detach().numpy())


def test_batch_first_output_layout_and_cell_loop():
    torch.manual_seed(1)
    m = nn.GRU(3, 5, batch_first=True, bidirectional=True)
    x = torch.randn(2, 4, 3)
    out, h = m(x)
    assert tuple(out.shape) == (2, 4, 10) and tuple(h.shape) == (2, 2, 5)
    # forward direction's last step and reverse direction's first step are h_n
    np.testing.assert_array_equal(out[:, -1, :5].detach().numpy(), h[0].detach().numpy())
    np.testing.assert_array_equal(out[:, 0, 5:].detach().numpy(), h[1].detach().numpy())
    # running the cell step by step gives the layer's output with the same parameters
    cell = nn.LSTMCell(3, 5)
    layer = nn.LSTM(3, 5)
    with torch.no_grad():
        for a, b in (("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0")):
            getattr(cell, a).copy_(getattr(layer, b))
        cell.bias_ih.copy_(layer.bias_ih_l0)
        cell.bias_hh.copy_(layer.bias_hh_l0)
    xs = torch.randn(4, 2, 3)
    hx = None
    outs = []
    for t in range(4):
        hx = cell(xs[t], hx)
        outs.append(hx[0])
    ref, (hn, cn) = layer(xs)
    np.testing.assert_allclose(torch.stack(outs).detach().numpy(), ref.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(hx[1].detach().numpy(), cn[0].detach().numpy(), rtol=1e-6, atol=1e-7)


def _fd_check(module, inputs, eps=1e-6, rtol=1e-6, atol=1e-8):
    """Analytical gradients of a weighted sum of every output, for the inputs and every parameter,
    against central differences (float64)."""
    rng = np.random.RandomState(7)

    def hidden_of(xs):
        return None if len(xs) == 1 else xs[1] if len(xs) == 2 else tuple(xs[1:])

    def loss_of(*xs):
        res = module(xs[0], hidden_of(xs))
        outs = []
        for r in res if isinstance(res, tuple) else (res,):
            outs.extend(r if isinstance(r, tuple) else (r,))
        return sum((o * weights[k]).sum() for k, o in enumerate(outs))

    probe = module(inputs[0], hidden_of(inputs))
    flat = []
    for r in probe if isinstance(probe, tuple) else (probe,):
        flat.extend(r if isinstance(r, tuple) else (r,))
    weights = [torch.tensor(rng.uniform(0.5, 1.5, size=tuple(o.shape))) for o in flat]

    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    module.zero_grad()
    loss_of(*leaves).backward()
    targets = [(leaf, leaf.grad.numpy()) for leaf in leaves]
    targets += [(p, p.grad.numpy().copy()) for p in module.parameters()]
    with torch.no_grad():
        for t, analytic in targets:
            arr = t.detach().numpy()  # shares memory with t
            numeric = np.zeros_like(arr)
            for i in np.ndindex(arr.shape):
                orig = arr[i]
                arr[i] = orig + eps
                hi = loss_of(*leaves).item()
                arr[i] = orig - eps
                lo = loss_of(*leaves).item()
                arr[i] = orig
                numeric[i] = (hi - lo) / (2 * eps)
            np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)


def _shares_memory():
    t = torch.zeros(2, dtype=torch.float64)
    t.numpy()[0] = 1.0
    return t[0].item() == 1.0


@pytest.mark.skipif(not _shares_memory(), reason="needs .numpy() views")
@pytest.mark.parametrize(
    "make",
    [
        lambda: (nn.LSTM(2, 3, bidirectional=True), [(3, 2, 2), (2, 2, 3), (2, 2, 3)]),
        lambda: (nn.GRU(2, 3, num_layers=2, batch_first=True), [(2, 3, 2), (2, 2, 3)]),
        lambda: (nn.RNN(2, 3, nonlinearity="tanh"), [(3, 2)]),
        lambda: (nn.LSTMCell(3, 2), [(2, 3), (2, 2), (2, 2)]),
        lambda: (nn.GRUCell(3, 2), [(3,), (2,)]),
    ],
)
def test_float64_finite_difference_gradcheck(make):
    torch.manual_seed(5)
    module, shapes = make()
    module = module.double()
    rng = np.random.RandomState(3)
    inputs = [torch.tensor(rng.uniform(-1, 1, size=s)) for s in shapes]
    _fd_check(module, inputs)
