"""Writes random.json: PyTorch's exact random streams, so ferrotorch's can be checked bit for bit.

Run with real PyTorch (never needed by the test suite):  /path/to/torch-venv/bin/python make_random_golden.py

Each case is a tiny program both libraries can run: seed a generator (the default one via
``manual_seed``, or a ``torch.Generator`` passed as ``generator=``), then a list of steps. A step calls a
``torch`` function or a method on a freshly made tensor; its result is stored with floats as
``float.hex`` so the comparison is exact. ``tests/test_random.py`` replays every step with ferrotorch.
"""

import json
import pathlib
import warnings

import torch

DT = {
    "float32": torch.float32,
    "float64": torch.float64,
    "int64": torch.int64,
    "int32": torch.int32,
    "uint8": torch.uint8,
    "bool": torch.bool,
}


def decode(a):
    """JSON argument -> torch value: {"dtype": name}, {"tensor": data, "dtype": name}, lists stay lists."""
    if isinstance(a, dict):
        if "tensor" in a:
            return torch.tensor(a["tensor"], dtype=DT[a["dtype"]])
        if set(a) == {"dtype"}:
            return DT[a["dtype"]]
        raise ValueError(a)
    return a


def encode(t):
    """A result tensor -> {"dtype", "shape", "values"} with exact float hex or ints."""
    flat = t.detach().reshape(-1).tolist()
    if t.dtype.is_floating_point:
        vals = [float(v).hex() for v in flat]
    else:
        vals = [int(v) for v in flat]
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "values": vals}


def run_step(step, gen):
    kwargs = {k: decode(v) for k, v in step.get("kwargs", {}).items()}
    if gen is not None:
        kwargs["generator"] = gen
    args = [decode(a) for a in step.get("args", [])]
    if "fn" in step:
        return getattr(torch, step["fn"])(*args, **kwargs)
    on = step["on"]
    base = torch.zeros(on["shape"], dtype=DT[on["dtype"]]) if "shape" in on else decode(on["data"])
    target = base.t() if on.get("transpose") else base
    r = getattr(target, step["method"])(*args, **kwargs)
    # In-place samplers are judged by the whole base tensor (memory order shows the draw order).
    return base if step["method"].endswith("_") else r


def run_case(case):
    if case["gen"] == "default":
        torch.manual_seed(case["seed"])
        gen = None
    else:
        gen = torch.Generator().manual_seed(case["seed"])
    out = []
    for step in case["steps"]:
        r = run_step(step, gen)
        out.append(encode(r))
    return out


def f(fn, *args, **kwargs):
    return {"fn": fn, "args": list(args), "kwargs": kwargs}


def m(method, on, *args, **kwargs):
    return {"method": method, "on": on, "args": list(args), "kwargs": kwargs}


def dt(name):
    return {"dtype": name}


def tens(data, dtype):
    return {"tensor": data, "dtype": dtype}


def cases():
    cs = []

    def add(name, seed, steps, gen="default"):
        cs.append({"name": name, "seed": seed, "gen": gen, "steps": steps})

    for seed in [0, 42, 123456789012345]:
        sizes = [1, 3, 15, 16, 17, 31, 32, 33, 100] + ([1000] if seed == 0 else [])
        for d in ["float32", "float64"]:
            add(f"rand_{d}_seed{seed}", seed, [f("rand", n, dtype=dt(d)) for n in sizes])
            add(f"randn_{d}_seed{seed}", seed, [f("randn", n, dtype=dt(d)) for n in sizes])
    add(
        "randn_shapes",
        7,
        [
            f("randn", 4, 5),
            f("randn", [2, 3, 4]),
            f("randn", 3, 0),
            f("randn", []),
            f("rand", 2, 8),
            f("randn", 1, 16),
        ],
    )
    add(
        "interleaved_cached_normal",
        5,
        [
            f("randn", 3),
            f("randn", 5),
            f("randn", 20),
            f("randn", 1, dtype=dt("float64")),
            f("rand", 2),
            f("randn", 1),
            f("randn", 7, dtype=dt("float64")),
            f("randn", 2),
        ],
    )
    add(
        "interleaved_generator", 5, [f("randn", 3), f("randn", 5), f("rand", 4), f("randn", 17)], gen="object"
    )
    add("generator_big_seed", 2**63 + 12345, [f("randn", 5), f("rand", 5, dtype=dt("float64"))], gen="object")

    # randint / random_: 32-bit draws for small ranges, 64-bit for ranges >= 2^32 (int64/float types).
    ri = []
    for d in ["int64", "int32", "float32", "float64"]:
        ri += [f("randint", -5, 17, [12], dtype=dt(d)), f("randint", 10, [6], dtype=dt(d))]
    ri += [
        f("randint", 3, 200, [12], dtype=dt("uint8")),
        f("randint", 0, 2, [12], dtype=dt("bool")),
        f("randint", -(2**31), 2**31 - 1, [6], dtype=dt("int32")),
        f("randint", 0, 2**32, [6]),
        f("randint", -(2**40), 2**41, [6]),
        f("randint", -(2**62), 2**62, [6]),
        f("randint", -(2**40), 2**41, [6], dtype=dt("float64")),
        f("randint", 0, 2**24, [6], dtype=dt("float32")),
        f("randint", 5, [2, 3]),
        f("randint", low=2, high=9, size=[4]),
        f("randint", 9, size=[4]),
    ]
    add("randint", 11, ri)
    add(
        "randint_generator",
        11,
        [f("randint", 0, 1000, [10]), f("randint", -(2**40), 2**41, [4])],
        gen="object",
    )
    rnd = []
    for d in ["int64", "int32", "uint8", "bool", "float32", "float64"]:
        rnd.append(m("random_", {"shape": [8], "dtype": d}))
        rnd.append(m("random_", {"shape": [5], "dtype": d}, 2))
    for d in ["int64", "float32", "float64"]:
        rnd.append(m("random_", {"shape": [5], "dtype": d}, 3, 1000))
        rnd.append(m("random_", {"shape": [5], "dtype": d}, 7, None))
    rnd.append(m("random_", {"shape": [], "dtype": "int64"}))  # DataLoader's base seed
    add("random_", 21, rnd)

    add(
        "randperm",
        3,
        [
            f("randperm", 10),
            f("randperm", 1000),
            f("randperm", 1),
            f("randperm", 0),
            f("randperm", 7, dtype=dt("int32")),
            f("randperm", 9, dtype=dt("float64")),
            f("randperm", 6, dtype=dt("float32")),
        ],
    )
    add("randperm_generator", 3, [f("randperm", 10), f("randperm", 100)], gen="object")

    nm = []
    for d in ["float32", "float64"]:
        for n in [3, 16, 17, 100]:
            nm.append(f("normal", 2.5, 0.7, [n], dtype=dt(d)))
            nm.append(m("normal_", {"shape": [n], "dtype": d}, -1.25, 3.5))
            nm.append(m("uniform_", {"shape": [n], "dtype": d}, -0.3, 1.7))
            nm.append(m("uniform_", {"shape": [n], "dtype": d}, -7.1, 3.3))
            nm.append(m("exponential_", {"shape": [n], "dtype": d}, 1.5))
        nm.append(m("normal_", {"shape": [20, 30], "dtype": d, "transpose": True}, 1.3, 2.7))
        nm.append(m("uniform_", {"shape": [6, 5], "dtype": d, "transpose": True}, 2.0, 5.0))
    nm += [
        f("normal", tens([0.0, 1.0, -2.0], "float32"), tens([1.0, 0.5, 2.0], "float32")),
        f("normal", tens([0.0, 1.0, -2.0], "float64"), 3.0),
        f("normal", 1.5, tens([1.0, 0.5, 2.0, 4.0], "float32")),
        f("normal", tens([[0.0], [10.0]], "float32"), tens([1.0, 2.0, 3.0], "float32")),
        f("normal", tens([0.5] * 20, "float32"), tens([2.0] * 20, "float32")),
    ]
    add("normal_uniform_exponential", 7, nm)

    bn = []
    for d in ["float32", "float64"]:
        p = [i / 16 for i in range(17)] + [0.3] * 20
        bn.append(f("bernoulli", tens(p, d)))
        bn.append(m("bernoulli_", {"shape": [40], "dtype": d}, 0.3))
        bn.append(f("bernoulli", tens(p, d), 0.7))
        bn.append(m("bernoulli_", {"shape": [37], "dtype": d}, tens(p, d)))
    bn.append(m("bernoulli_", {"shape": [10], "dtype": "int64"}, 0.5))
    bn.append(m("bernoulli_", {"shape": [10], "dtype": "bool"}, 0.5))
    bn.append(m("bernoulli_", {"shape": [10], "dtype": "float32"}, tens([0.5] * 10, "float64")))
    add("bernoulli", 13, bn)
    add("bernoulli_generator", 13, [f("bernoulli", tens([0.2, 0.5, 0.9] * 5, "float32"))], gen="object")

    mn = []
    for d in ["float32", "float64"]:
        p1 = tens([0.1, 0.2, 0.3, 0.15, 0.25, 0.0, 1.0], d)
        p2 = tens([[1.0, 2.0, 3.0, 4.0], [4.0, 0.0, 1.0, 0.5], [0.0, 0.0, 1.0, 0.0]], d)
        mn += [
            f("multinomial", p1, 4),
            f("multinomial", p1, 1),
            f("multinomial", p1, 6, False),
            f("multinomial", p1, 20, True),
            f("multinomial", p1, 1, True),
            f("multinomial", p2, 2),
            f("multinomial", p2, 5, replacement=True),
            f("multinomial", p2, 1),
        ]
    # Zero-probability categories tie at q = 0; torch's topk (libstdc++ nth_element/partial_sort)
    # decides their order.
    mn += [
        f("multinomial", tens([0.0] * 50 + [1.0, 2.0, 3.0], "float32"), 10),
        f("multinomial", tens([0.0] * 200 + [1.0, 2.0, 3.0], "float32"), 3),
        f("multinomial", tens([0.0] * 30 + [1.0] + [0.0] * 30, "float64"), 40),
        f("multinomial", tens([[0.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.0]] * 4, "float32"), 6),
    ]
    add("multinomial", 9, mn)
    add(
        "multinomial_generator",
        9,
        [
            f("multinomial", tens([1.0, 2.0, 3.0], "float32"), 10, True),
            f("multinomial", tens([1.0, 2.0, 3.0], "float32"), 3),
        ],
        gen="object",
    )

    lk = [
        f("rand_like", tens([[0.0] * 4] * 3, "float32")),
        f("randn_like", tens([0.0] * 20, "float64")),
        f("randint_like", tens([0.0] * 6, "float32"), 10),
        f("randint_like", tens([0] * 6, "int32"), -3, 3),
        f("rand_like", tens([0.0] * 5, "float32"), dtype=dt("float64")),
    ]
    add("like", 17, lk)
    return cs


def states():
    """Full get_state() bytes of seeded generators, with and without a cached normal sample."""
    out = []
    for seed, steps in [
        (42, []),
        (42, ["randn3"]),
        (0, ["rand5"]),
        (2**64 - 1, []),
        (7, ["randn3", "randn100"]),
    ]:
        g = torch.Generator().manual_seed(seed)
        for s in steps:
            if s == "randn3":
                torch.randn(3, generator=g)
            elif s == "rand5":
                torch.rand(5, generator=g)
            elif s == "randn100":
                torch.randn(100, generator=g)
        st = g.get_state()
        cont = torch.randn(5, generator=g, dtype=torch.float64)
        out.append(
            {"seed": seed, "steps": steps, "state": bytes(st.tolist()).hex(), "next_randn5_f64": encode(cont)}
        )
    return out


def main():
    warnings.simplefilter("ignore")
    data = {"torch_version": torch.__version__, "cases": [], "states": states()}
    for case in cases():
        case = dict(case)
        case["expected"] = run_case(case)
        data["cases"].append(case)
    path = pathlib.Path(__file__).parent / "random.json"
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({len(data['cases'])} cases)")


if __name__ == "__main__":
    main()
