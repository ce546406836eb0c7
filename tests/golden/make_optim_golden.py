"""Writes the optim / lr_scheduler goldens and the serialization fixtures from real PyTorch.

Run with PyTorch's interpreter:  /opt/torchenv/bin/python tests/golden/make_optim_golden.py
The safetensors-package fixture is written by a second interpreter that has `safetensors`
(default /work/venv/bin/python; override with SAFETENSORS_PYTHON).

Outputs (tests/golden/optim/):
  optim_golden.npz        20-step trajectories for every optimizer/option, float32 and float64
  optim_golden.json       optimizer configs, final state_dict structure, scheduler lr sequences
  torch_state_dict.pt     a `torch.save`d state_dict (PyTorch's zip format) of a small model
  torch_checkpoint.pt     a `torch.save`d checkpoint dict (epoch, model and optimizer state, loss)
  torch_fixture_values.npz  the arrays those two files hold, written by NumPy
  safetensors_written.safetensors  a file written by `safetensors.numpy.save_file`
"""

import json
import os
import subprocess
from collections import OrderedDict

import numpy as np
import torch

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim")
os.makedirs(HERE, exist_ok=True)
STEPS = 20
SHAPES = [(3, 4), (5,)]

OPTIMS = {
    "sgd": ("SGD", {"lr": 0.1}),
    "sgd_momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}),
    "sgd_dampening": ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}),
    "sgd_nesterov": ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "sgd_wd": ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    "sgd_all": (
        "SGD",
        {"lr": 0.07, "momentum": 0.5, "weight_decay": 0.02, "nesterov": True, "maximize": True},
    ),
    "sgd_maximize": ("SGD", {"lr": 0.1, "momentum": 0.9, "maximize": True}),
    "adam": ("Adam", {"lr": 0.01}),
    "adam_amsgrad": ("Adam", {"lr": 0.02, "amsgrad": True}),
    "adam_wd": ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    "adam_maximize": ("Adam", {"lr": 0.01, "maximize": True}),
    "adam_betas": ("Adam", {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-6}),
    "adam_all": (
        "Adam",
        {"lr": 0.03, "betas": (0.7, 0.95), "weight_decay": 0.05, "amsgrad": True, "maximize": True},
    ),
    "adamw": ("AdamW", {"lr": 0.01}),
    "adamw_amsgrad": ("AdamW", {"lr": 0.02, "weight_decay": 0.1, "amsgrad": True}),
    "adamw_maximize": ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "maximize": True}),
    "rmsprop": ("RMSprop", {"lr": 0.01}),
    "rmsprop_centered": ("RMSprop", {"lr": 0.01, "centered": True}),
    "rmsprop_momentum": ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    "rmsprop_all": (
        "RMSprop",
        {"lr": 0.005, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1, "momentum": 0.5, "centered": True},
    ),
    "rmsprop_maximize": ("RMSprop", {"lr": 0.01, "maximize": True, "alpha": 0.95}),
    "adagrad": ("Adagrad", {"lr": 0.1}),
    "adagrad_decay": ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    "adagrad_wd": ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.1}),
    "adagrad_maximize": ("Adagrad", {"lr": 0.1, "maximize": True, "eps": 1e-6}),
}


def to_jsonable(o):
    if isinstance(o, torch.Tensor):
        return {"tensor": o.tolist(), "dtype": str(o.dtype).replace("torch.", ""), "shape": list(o.shape)}
    if isinstance(o, dict):
        return {str(k): to_jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [to_jsonable(v) for v in o]
    return o


def optim_goldens(npz, meta):
    rng = np.random.default_rng(1234)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    npz["init"] = np.concatenate([a.ravel() for a in init])
    npz["grads"] = np.stack([np.concatenate([g.ravel() for g in gs]) for gs in grads])
    meta["optim"] = {}
    for name, (cls, kw) in OPTIMS.items():
        for dt in (torch.float32, torch.float64):
            ps = [torch.tensor(a, dtype=dt, requires_grad=True) for a in init]
            # two groups: the second overrides lr, to test per-group options
            groups = [{"params": [ps[0]]}, {"params": [ps[1]], "lr": kw["lr"] * 0.5}]
            opt = getattr(torch.optim, cls)(groups, **kw)
            traj = []
            for k in range(STEPS):
                if k == 10:
                    opt.param_groups[0]["lr"] = kw["lr"] * 2  # change takes effect on the next step
                for p, g in zip(ps, grads[k]):
                    p.grad = torch.tensor(g, dtype=dt)
                opt.step()
                traj.append(torch.cat([p.detach().reshape(-1) for p in ps]).numpy().copy())
            key = f"{name}/{str(dt).replace('torch.', '')}"
            npz[key] = np.stack(traj)
            sd = opt.state_dict()
            for pid, st in sd["state"].items():
                for sk, sv in st.items():
                    npz[f"{key}/state/{pid}/{sk}"] = sv.numpy().copy()
            if dt == torch.float32:
                meta["optim"][name] = {
                    "cls": cls,
                    "kwargs": kw,
                    "param_groups": to_jsonable(sd["param_groups"]),
                    "state_keys": {str(k): list(v.keys()) for k, v in sd["state"].items()},
                    "step_dtype": str(sd["state"][0]["step"].dtype)
                    if "step" in sd["state"].get(0, {})
                    else None,
                }


def sched_goldens(meta):
    def lam(e):
        return 0.95**e

    def lam2(e):
        return 1.0 / (1 + e)

    def run(make, n=30, opt_cls="SGD", metrics=None, two=True):
        p = torch.zeros(2, requires_grad=True)
        q = torch.zeros(3, requires_grad=True)
        groups = [{"params": [p]}, {"params": [q], "lr": 0.01}] if two else [p]
        opt = getattr(torch.optim, opt_cls)(groups, lr=0.1, **({"momentum": 0.9} if opt_cls == "SGD" else {}))
        s = make(opt)
        lrs = [list(s.get_last_lr())]
        mom = []
        for i in range(n):
            p.grad = torch.ones(2)
            q.grad = torch.ones(3)
            opt.step()
            if metrics is not None:
                s.step(metrics[i])
            else:
                s.step()
            lrs.append([float(x) for x in s.get_last_lr()])
            mom.append([g.get("momentum", g.get("betas", [None])[0]) for g in opt.param_groups])
        return {"lrs": lrs, "momentum": mom}

    S = torch.optim.lr_scheduler
    plateau_metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.4] + [0.4] * 16
    meta["sched"] = {
        "StepLR": run(lambda o: S.StepLR(o, step_size=3, gamma=0.5)),
        "MultiStepLR": run(lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3)),
        "ExponentialLR": run(lambda o: S.ExponentialLR(o, gamma=0.9)),
        "CosineAnnealingLR": run(lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
        "LambdaLR": run(lambda o: S.LambdaLR(o, lr_lambda=[lam, lam2])),
        "LinearLR": run(lambda o: S.LinearLR(o, start_factor=0.25, total_iters=6)),
        "LinearLR_down": run(lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=7)),
        "ConstantLR": run(lambda o: S.ConstantLR(o, factor=0.5, total_iters=4)),
        "OneCycleLR": run(lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.05], total_steps=30)),
        "OneCycleLR_three_linear": run(
            lambda o: S.OneCycleLR(o, max_lr=0.2, total_steps=30, three_phase=True, anneal_strategy="linear")
        ),
        "OneCycleLR_adam": run(
            lambda o: S.OneCycleLR(o, max_lr=0.1, epochs=3, steps_per_epoch=10), opt_cls="Adam"
        ),
        "ReduceLROnPlateau": run(
            lambda o: S.ReduceLROnPlateau(o, patience=2, cooldown=1, factor=0.5), metrics=plateau_metrics
        ),
        "ReduceLROnPlateau_max_abs": run(
            lambda o: S.ReduceLROnPlateau(
                o, mode="max", threshold_mode="abs", threshold=0.05, patience=1, min_lr=[0.02, 0.001]
            ),
            metrics=[-m for m in plateau_metrics],
        ),
        "SequentialLR": run(
            lambda o: S.SequentialLR(
                o,
                [S.LinearLR(o, start_factor=0.1, total_iters=4), S.ExponentialLR(o, gamma=0.9)],
                milestones=[4],
            )
        ),
        "SequentialLR_three": run(
            lambda o: S.SequentialLR(
                o,
                [
                    S.ConstantLR(o, factor=0.5, total_iters=3),
                    S.CosineAnnealingLR(o, T_max=8),
                    S.StepLR(o, 2, 0.5),
                ],
                milestones=[5, 15],
            )
        ),
    }
    meta["plateau_metrics"] = plateau_metrics


def fixtures():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.ReLU(), torch.nn.Linear(3, 2, bias=False)
    )
    sd = model.state_dict()
    torch.save(sd, os.path.join(HERE, "torch_state_dict.pt"))
    vals = {f"sd/{k}": v.numpy().copy() for k, v in sd.items()}
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    extra = OrderedDict(
        [
            ("f64", torch.arange(6, dtype=torch.float64).reshape(2, 3)),
            ("i32", torch.tensor([1, -2, 3], dtype=torch.int32)),
            ("u8", torch.tensor([0, 255], dtype=torch.uint8)),
            ("b", torch.tensor([True, False, True])),
            ("empty", torch.zeros(0, 3)),
            ("scalar", torch.tensor(2.5)),
            ("strided", torch.arange(12.0).reshape(3, 4).t()),
        ]
    )
    ckpt = {
        "epoch": 3,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": opt.state_dict(),
        "loss": 0.1,
        "extra": extra,
        "names": ["a", "b"],
        "pair": (1, 2.5),
    }
    torch.save(ckpt, os.path.join(HERE, "torch_checkpoint.pt"))
    for k, v in model.state_dict().items():
        vals[f"model/{k}"] = v.numpy().copy()
    for pid, st in opt.state_dict()["state"].items():
        for sk, sv in st.items():
            vals[f"optim/{pid}/{sk}"] = sv.numpy()
    for k, v in extra.items():
        vals[f"extra/{k}"] = v.numpy()
    np.savez(os.path.join(HERE, "torch_fixture_values.npz"), **vals)
    return model


SAFETENSORS_SNIPPET = r"""
import numpy as np, sys
from safetensors.numpy import save_file
rng = np.random.default_rng(7)
d = {
    "weight": rng.standard_normal((3, 4)).astype(np.float32),
    "bias": rng.standard_normal(3).astype(np.float32),
    "double": rng.standard_normal((2, 2)),
    "index": np.array([1, 2, 3], dtype=np.int64),
    "mask": np.array([True, False]),
    "bytes": np.array([0, 7, 255], dtype=np.uint8),
    "i32": np.array([[-1, 5]], dtype=np.int32),
    "empty": np.zeros((0, 2), dtype=np.float32),
    "scalar": np.array(1.5, dtype=np.float64),
}
save_file(d, sys.argv[1], metadata={"format": "np", "note": "written by safetensors"})
np.savez(sys.argv[2], **d)
"""


def main():
    npz, meta = {}, {"torch_version": torch.__version__}
    optim_goldens(npz, meta)
    sched_goldens(meta)
    np.savez_compressed(os.path.join(HERE, "optim_golden.npz"), **npz)
    with open(os.path.join(HERE, "optim_golden.json"), "w") as f:
        json.dump(meta, f, indent=1)
    fixtures()
    py = os.environ.get("SAFETENSORS_PYTHON", "/work/venv/bin/python")
    subprocess.run(
        [
            py,
            "-c",
            SAFETENSORS_SNIPPET,
            os.path.join(HERE, "safetensors_written.safetensors"),
            os.path.join(HERE, "safetensors_values.npz"),
        ],
        check=True,
    )
    print("wrote", sorted(os.listdir(HERE)))


if __name__ == "__main__":
    main()
