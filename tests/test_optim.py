"""torch.optim: 20-step trajectories against PyTorch goldens, state/state_dict structure, errors."""

import io
import json
import os

import ferrotorch as torch
import numpy as np
import pytest

GOLD = os.path.join(os.path.dirname(__file__), "golden", "optim")
NPZ = np.load(os.path.join(GOLD, "optim_golden.npz"))
with open(os.path.join(GOLD, "optim_golden.json")) as _f:
    META = json.load(_f)
SHAPES = [(3, 4), (5,)]
STEPS = 20
TOL = {"float32": {"rtol": 2e-5, "atol": 2e-6}, "float64": {"rtol": 1e-11, "atol": 1e-12}}


def split(flat):
    out, i = [], 0
    for s in SHAPES:
        n = int(np.prod(s))
        out.append(flat[i : i + n].reshape(s))
        i += n
    return out


def make(name, dt):
    cfg = META["optim"][name]
    ps = [torch.tensor(a, dtype=getattr(torch, dt), requires_grad=True) for a in split(NPZ["init"])]
    kw = dict(cfg["kwargs"])
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    groups = [{"params": [ps[0]]}, {"params": [ps[1]], "lr": kw["lr"] * 0.5}]
    opt = getattr(torch.optim, cfg["cls"])(groups, **kw)
    return ps, opt, kw


def run_steps(ps, opt, kw, dt, start, stop):
    traj = []
    for k in range(start, stop):
        if k == 10:
            opt.param_groups[0]["lr"] = kw["lr"] * 2
        for p, g in zip(ps, split(NPZ["grads"][k])):
            p.grad = torch.tensor(g, dtype=getattr(torch, dt))
        opt.step()
        traj.append(np.concatenate([p.detach().numpy().ravel() for p in ps]))
    return traj


CASES = [(n, dt) for n in META["optim"] for dt in ("float32", "float64")]


@pytest.mark.parametrize("name,dt", CASES)
def test_trajectory_matches_torch(name, dt):
    ps, opt, kw = make(name, dt)
    traj = run_steps(ps, opt, kw, dt, 0, STEPS)
    gold = NPZ[f"{name}/{dt}"]
    for k in range(STEPS):
        np.testing.assert_allclose(traj[k], gold[k], err_msg=f"step {k}", **TOL[dt])
    assert all(p.dtype == getattr(torch, dt) for p in ps)
    # final state: torch's key names, values, and `step` as a float32 0-d tensor
    sd = opt.state_dict()
    cfg = META["optim"][name]
    assert {str(k): list(v.keys()) for k, v in sd["state"].items()} == cfg["state_keys"]
    for pid, st in sd["state"].items():
        for key, val in st.items():
            ref = NPZ[f"{name}/{dt}/state/{pid}/{key}"]
            if key == "step":
                assert val.dtype == torch.float32 and tuple(val.shape) == ()
                assert float(val) == float(ref)
            else:
                assert val.dtype == getattr(torch, dt)
                np.testing.assert_allclose(val.numpy(), ref, **TOL[dt])


@pytest.mark.parametrize("name", list(META["optim"]))
def test_param_groups_as_torch(name):
    ps, opt, kw = make(name, "float32")
    run_steps(ps, opt, kw, "float32", 0, STEPS)
    got = opt.state_dict()["param_groups"]
    want = META["optim"][name]["param_groups"]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert list(g.keys()) == list(w.keys())
        for k in w:
            gv = list(g[k]) if isinstance(g[k], tuple) else g[k]
            assert gv == w[k] or (isinstance(w[k], float) and abs(gv - w[k]) < 1e-15), k


@pytest.mark.parametrize("name", ["sgd_momentum", "adam_all", "adamw_amsgrad", "rmsprop_all", "adagrad_wd"])
def test_resume_from_state_dict(name):
    dt = "float32"
    ps, opt, kw = make(name, dt)
    run_steps(ps, opt, kw, dt, 0, 7)
    buf = io.BytesIO()
    torch.save({"params": [p.detach() for p in ps], "opt": opt.state_dict()}, buf)
    buf.seek(0)
    ck = torch.load(buf)
    ps2 = [torch.tensor(p.numpy(), requires_grad=True) for p in ck["params"]]
    ps2_groups = [{"params": [ps2[0]]}, {"params": [ps2[1]]}]
    opt2 = getattr(torch.optim, META["optim"][name]["cls"])(ps2_groups, lr=0.5)
    opt2.load_state_dict(ck["opt"])
    assert opt2.param_groups[1]["lr"] == kw["lr"] * 0.5
    traj = run_steps(ps2, opt2, kw, dt, 7, STEPS)
    gold = NPZ[f"{name}/{dt}"]
    for i, k in enumerate(range(7, STEPS)):
        np.testing.assert_allclose(traj[i], gold[k], **TOL[dt])


def test_validation_messages():
    p = [torch.zeros(2, requires_grad=True)]
    cases = [
        (lambda: torch.optim.SGD(p, lr=-0.1), "Invalid learning rate: -0.1"),
        (lambda: torch.optim.Adam(p, betas=(1.5, 0.9)), "Invalid beta parameter at index 0: 1.5"),
        (lambda: torch.optim.Adam(p, betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
        (lambda: torch.optim.Adam(p, eps=-1), "Invalid epsilon value: -1"),
        (lambda: torch.optim.AdamW(p, weight_decay=-1), "Invalid weight_decay value: -1"),
        (lambda: torch.optim.Adam([]), "optimizer got an empty parameter list"),
        (lambda: torch.optim.SGD(p, lr=0.1, momentum=-1), "Invalid momentum value: -1"),
        (
            lambda: torch.optim.SGD(p, lr=0.1, nesterov=True),
            "Nesterov momentum requires a momentum and zero dampening",
        ),
        (lambda: torch.optim.RMSprop(p, alpha=-1), "Invalid alpha value: -1"),
        (lambda: torch.optim.RMSprop(p, momentum=-1), "Invalid momentum value: -1"),
        (lambda: torch.optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value: -1"),
        (
            lambda: torch.optim.Adagrad(p, initial_accumulator_value=-1),
            "Invalid initial_accumulator_value value: -1",
        ),
    ]
    for f, msg in cases:
        with pytest.raises(ValueError) as e:
            f()
        assert str(e.value) == msg
    with pytest.raises(TypeError, match="params argument given to the optimizer should be an iterable"):
        torch.optim.SGD(torch.zeros(2, requires_grad=True), lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        torch.optim.SGD([1.0], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        torch.optim.SGD([p[0] * 2], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        torch.optim.SGD([{"params": p}, {"params": p}], lr=0.1)
    with pytest.warns(FutureWarning, match="ordering of tensors in sets"):
        opt = torch.optim.SGD(set(p), lr=0.1)
    with pytest.raises(TypeError, match="ordering of tensors in sets"):
        opt.add_param_group({"params": {torch.zeros(1, requires_grad=True)}})


def test_defaults_and_repr():
    p = [torch.zeros(2, requires_grad=True)]
    assert torch.optim.SGD(p).defaults["lr"] == 1e-3
    o = torch.optim.Adam(params=p)
    g = o.param_groups[0]
    assert list(g.keys()) == [
        "params",
        "lr",
        "betas",
        "eps",
        "weight_decay",
        "amsgrad",
        "maximize",
        "foreach",
        "capturable",
        "differentiable",
        "fused",
        "decoupled_weight_decay",
    ]
    assert repr(o).startswith("Adam (\nParameter Group 0\n    amsgrad: False\n    betas: (0.9, 0.999)")
    assert torch.optim.AdamW(p).param_groups[0]["weight_decay"] == 0.01
    # Adagrad creates its state eagerly, as torch does
    a = torch.optim.Adagrad(p, initial_accumulator_value=0.5)
    st = a.state_dict()["state"][0]
    assert list(st) == ["step", "sum"] and float(st["step"]) == 0.0
    np.testing.assert_array_equal(st["sum"].numpy(), [0.5, 0.5])


def test_zero_grad_and_skipping_params_without_grad():
    a = torch.ones(3, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    opt = torch.optim.Adam([a, b], lr=0.1)
    a.grad = torch.ones(3)
    opt.step()
    assert b not in opt.state or len(opt.state[b]) == 0
    np.testing.assert_array_equal(b.detach().numpy(), [1.0, 1.0])
    assert float(opt.state[a]["step"]) == 1.0
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), [0, 0, 0])
    opt.zero_grad()
    assert a.grad is None


def test_step_closure_and_autograd_after_step():
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(5)]
    assert losses[0] == 5.0 and losses[-1] < losses[0]
    # the updated leaf is still usable by autograd
    loss = (w * 3).sum()
    loss.backward()
    assert w.grad is not None


def test_non_contiguous_param_and_grad():
    base = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    g = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    p1 = torch.nn.Parameter(torch.tensor(base).t())
    assert not p1.is_contiguous()
    p2 = torch.tensor(base.T.copy(), requires_grad=True)
    o1 = torch.optim.Adam([p1], lr=0.1, amsgrad=True)
    o2 = torch.optim.Adam([p2], lr=0.1, amsgrad=True)
    for _ in range(3):
        p1.grad = torch.tensor(g.T.copy()).t()  # strided grad
        p2.grad = torch.tensor(g)
        o1.step()
        o2.step()
    np.testing.assert_array_equal(p1.detach().numpy(), p2.detach().numpy())


def test_in_place_update_shares_storage_and_bumps_version():
    w = torch.nn.Parameter(torch.ones(2, 3))
    view = w.detach()
    before = w._version if hasattr(w, "_version") else None
    opt = torch.optim.SGD([w], lr=1.0)
    (w * torch.ones(1, 3)).sum().backward()
    opt.step()
    np.testing.assert_allclose(view.numpy(), np.zeros((2, 3)))
    if before is not None:
        assert w._version > before


def test_add_param_group_and_load_errors():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(3, requires_grad=True)
    opt = torch.optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.5
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    other = torch.optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        other.load_state_dict(sd)
    other.add_param_group({"params": [b, torch.ones(1, requires_grad=True)]})
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        other.load_state_dict(sd)


def test_bad_state_is_a_clear_error():
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p])
    p.grad = torch.ones(3, dtype=torch.float64)
    opt.step()
    opt.state[p]["exp_avg"] = torch.zeros(4, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="exp_avg of parameter 0 has shape"):
        opt.step()
    opt.state[p]["exp_avg"] = torch.zeros(3, dtype=torch.float32)
    with pytest.raises(RuntimeError, match="exp_avg of parameter 0 has dtype float32"):
        opt.step()
    q = torch.zeros(2, dtype=torch.int64)
    with pytest.raises(RuntimeError, match="only floating point parameters"):
        torch._C._sgd_step([q], [q], [], 0.1, 0.0, 0.0, 0.0, False, False)


def test_duplicate_params_warn_and_update_twice_without_races():
    p = torch.zeros(300000, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        opt = torch.optim.SGD([p, p], lr=1.0)
    p.grad = torch.ones(300000)
    opt.step()
    np.testing.assert_array_equal(p.detach().numpy()[:3], [-2.0, -2.0, -2.0])
    assert float(p.detach().numpy().min()) == -2.0 and float(p.detach().numpy().max()) == -2.0


def test_large_params_parallel_path_matches_small_path():
    rng = np.random.default_rng(3)
    a = rng.standard_normal(400000).astype(np.float32)
    g = rng.standard_normal(400000).astype(np.float32)
    big = torch.tensor(a, requires_grad=True)
    opt = torch.optim.Adam([big], lr=0.01)
    pieces = [torch.tensor(a[i : i + 1000], requires_grad=True) for i in range(0, 400000, 1000)]
    opt2 = torch.optim.Adam(pieces, lr=0.01)
    for _ in range(3):
        big.grad = torch.tensor(g)
        for i, q in enumerate(pieces):
            q.grad = torch.tensor(g[i * 1000 : (i + 1) * 1000])
        opt.step()
        opt2.step()
    np.testing.assert_array_equal(big.detach().numpy(), np.concatenate([q.detach().numpy() for q in pieces]))
