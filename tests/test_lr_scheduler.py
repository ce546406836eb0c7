"""torch.optim.lr_scheduler: lr sequences against PyTorch goldens, state_dict resume, errors."""

import json
import os
import warnings

import ferrotorch as torch
import numpy as np
import pytest

S = torch.optim.lr_scheduler
with open(os.path.join(os.path.dirname(__file__), "golden", "optim", "optim_golden.json")) as _f:
    META = json.load(_f)
GOLD = META["sched"]
PLATEAU = META["plateau_metrics"]


def lam(e):
    return 0.95**e


def lam2(e):
    return 1.0 / (1 + e)


MAKERS = {
    "StepLR": lambda o: S.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "ExponentialLR": lambda o: S.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "LambdaLR": lambda o: S.LambdaLR(o, lr_lambda=[lam, lam2]),
    "LinearLR": lambda o: S.LinearLR(o, start_factor=0.25, total_iters=6),
    "LinearLR_down": lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=7),
    "ConstantLR": lambda o: S.ConstantLR(o, factor=0.5, total_iters=4),
    "OneCycleLR": lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.05], total_steps=30),
    "OneCycleLR_three_linear": lambda o: S.OneCycleLR(
        o, max_lr=0.2, total_steps=30, three_phase=True, anneal_strategy="linear"
    ),
    "OneCycleLR_adam": lambda o: S.OneCycleLR(o, max_lr=0.1, epochs=3, steps_per_epoch=10),
    "ReduceLROnPlateau": lambda o: S.ReduceLROnPlateau(o, patience=2, cooldown=1, factor=0.5),
    "ReduceLROnPlateau_max_abs": lambda o: S.ReduceLROnPlateau(
        o, mode="max", threshold_mode="abs", threshold=0.05, patience=1, min_lr=[0.02, 0.001]
    ),
    "SequentialLR": lambda o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.1, total_iters=4), S.ExponentialLR(o, gamma=0.9)], milestones=[4]
    ),
    "SequentialLR_three": lambda o: S.SequentialLR(
        o,
        [S.ConstantLR(o, factor=0.5, total_iters=3), S.CosineAnnealingLR(o, T_max=8), S.StepLR(o, 2, 0.5)],
        milestones=[5, 15],
    ),
}


def metrics_for(name):
    if name == "ReduceLROnPlateau":
        return PLATEAU
    if name == "ReduceLROnPlateau_max_abs":
        return [-m for m in PLATEAU]
    return None


def make_opt(name):
    p = torch.zeros(2, requires_grad=True)
    q = torch.zeros(3, requires_grad=True)
    groups = [{"params": [p]}, {"params": [q], "lr": 0.01}]
    if name == "OneCycleLR_adam":
        return torch.optim.Adam(groups, lr=0.1), (p, q)
    return torch.optim.SGD(groups, lr=0.1, momentum=0.9), (p, q)


def drive(opt, pq, s, metrics, start, stop):
    lrs, mom = [], []
    for i in range(start, stop):
        pq[0].grad = torch.ones(2)
        pq[1].grad = torch.ones(3)
        opt.step()
        if metrics is not None:
            s.step(metrics[i])
        else:
            s.step()
        lrs.append([float(x) for x in s.get_last_lr()])
        mom.append([g.get("momentum", g.get("betas", [None])[0]) for g in opt.param_groups])
    return lrs, mom


@pytest.mark.parametrize("name", list(MAKERS))
def test_sequence_matches_torch(name):
    opt, pq = make_opt(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = MAKERS[name](opt)
        lrs, mom = drive(opt, pq, s, metrics_for(name), 0, 30)
    want = GOLD[name]
    np.testing.assert_allclose(np.array([s_ for s_ in want["lrs"][0]]), [float(x) for x in want["lrs"][0]])
    np.testing.assert_allclose(np.array(lrs), np.array(want["lrs"][1:]), rtol=1e-13, atol=0)
    if name.startswith("OneCycle"):
        np.testing.assert_allclose(
            np.array(mom, dtype=float), np.array(want["momentum"], dtype=float), rtol=1e-13
        )
    assert [g["lr"] for g in opt.param_groups] == pytest.approx(want["lrs"][-1], rel=1e-13)


@pytest.mark.parametrize(
    "name", ["StepLR", "CosineAnnealingLR", "OneCycleLR", "ReduceLROnPlateau", "SequentialLR", "LambdaLR"]
)
def test_state_dict_resume(name):
    metrics = metrics_for(name)
    opt, pq = make_opt(name)
    s = MAKERS[name](opt)
    drive(opt, pq, s, metrics, 0, 12)
    sd_opt, sd_s = opt.state_dict(), s.state_dict()
    assert "optimizer" not in sd_s
    opt2, pq2 = make_opt(name)
    s2 = MAKERS[name](opt2)
    opt2.load_state_dict(sd_opt)
    s2.load_state_dict(sd_s)
    lrs, _ = drive(opt2, pq2, s2, metrics, 12, 30)
    np.testing.assert_allclose(np.array(lrs), np.array(GOLD[name]["lrs"][13:]), rtol=1e-13)


def test_errors_and_base_behaviour():
    p = [torch.zeros(1, requires_grad=True)]
    opt = torch.optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR(object(), 3)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(torch.optim.SGD(p, lr=0.1), 3, last_epoch=4)
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="Constant multiplicative factor expected to be between 0 and 1."):
        S.ConstantLR(opt, factor=2.0)
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        S.OneCycleLR(opt, max_lr=0.1)
    s = S.OneCycleLR(opt, max_lr=0.1, total_steps=2)
    s.step()
    s.step()
    with pytest.raises(ValueError, match="Tried to step 3 times. The specified number of total steps is 2"):
        s.step()
    opt = torch.optim.SGD(p, lr=0.1)
    s = S.ExponentialLR(opt, 0.5)
    assert opt.param_groups[0]["initial_lr"] == 0.1 and s.get_last_lr() == [0.1]
    assert s.last_epoch == 0 and s.base_lrs == [0.1]
