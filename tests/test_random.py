"""Random numbers: after the same seed every stream equals PyTorch's CPU generator bit for bit.

The golden file (tests/golden/random.json, written by make_random_golden.py with real PyTorch) holds
small programs and their exact outputs; each is replayed here with ferrotorch. The rest checks
properties, generator objects, state round trips and torch's error messages.
"""

import json
import pathlib
import pickle

import ferrotorch as torch
import pytest

GOLD = json.loads((pathlib.Path(__file__).parent / "golden" / "random.json").read_text())
DT = {
    "float32": torch.float32,
    "float64": torch.float64,
    "int64": torch.int64,
    "int32": torch.int32,
    "uint8": torch.uint8,
    "bool": torch.bool,
}


def decode(a):
    if isinstance(a, dict):
        if "tensor" in a:
            return torch.tensor(a["tensor"], dtype=DT[a["dtype"]])
        return DT[a["dtype"]]
    return a


def encode(t):
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
    return base if step["method"].endswith("_") else r


def describe(step):
    what = step.get("fn") or step["method"]
    return f"{what}{tuple(step.get('args', []))}{step.get('kwargs', {})}"


@pytest.mark.parametrize("case", GOLD["cases"], ids=[c["name"] for c in GOLD["cases"]])
def test_streams_match_torch_bit_for_bit(case):
    if case["gen"] == "default":
        torch.manual_seed(case["seed"])
        gen = None
    else:
        gen = torch.Generator().manual_seed(case["seed"])
    for i, (step, want) in enumerate(zip(case["steps"], case["expected"])):
        got = encode(run_step(step, gen))
        assert got["dtype"] == want["dtype"], (i, describe(step))
        assert got["shape"] == want["shape"], (i, describe(step))
        if got["values"] != want["values"]:
            bad = [j for j, (a, b) in enumerate(zip(got["values"], want["values"])) if a != b]
            pytest.fail(
                f"step {i} {describe(step)}: {len(bad)} of {len(want['values'])} values differ, first at "
                f"{bad[0]}: got {got['values'][bad[0]]}, torch {want['values'][bad[0]]}"
            )


@pytest.mark.parametrize(
    "st", GOLD["states"], ids=[f"{s['seed']}-{'-'.join(s['steps'])}" for s in GOLD["states"]]
)
def test_get_state_bytes_match_torch(st):
    g = torch.Generator().manual_seed(st["seed"])
    for s in st["steps"]:
        {
            "randn3": lambda: torch.randn(3, generator=g),
            "rand5": lambda: torch.rand(5, generator=g),
            "randn100": lambda: torch.randn(100, generator=g),
        }[s]()
    state = g.get_state()
    assert state.dtype == torch.uint8 and tuple(state.shape) == (5056,)
    assert bytes(state.tolist()).hex() == st["state"]
    assert encode(torch.randn(5, generator=g, dtype=torch.float64)) == st["next_randn5_f64"]


@pytest.mark.parametrize(
    "st", GOLD["states"], ids=[f"{s['seed']}-{'-'.join(s['steps'])}" for s in GOLD["states"]]
)
def test_torch_state_loads_and_continues(st):
    """A state saved by real PyTorch restores the engine and the cached normal sample."""
    g = torch.Generator()
    g.set_state(torch.tensor(list(bytes.fromhex(st["state"])), dtype=torch.uint8))
    assert g.initial_seed() == st["seed"]
    assert encode(torch.randn(5, generator=g, dtype=torch.float64)) == st["next_randn5_f64"]
    torch.set_rng_state(torch.tensor(list(bytes.fromhex(st["state"])), dtype=torch.uint8))
    assert encode(torch.randn(5, dtype=torch.float64)) == st["next_randn5_f64"]


# ---- seeding and generator objects ----


def test_manual_seed_returns_default_generator_and_sets_initial_seed():
    g = torch.manual_seed(1234)
    assert g is torch.default_generator
    assert isinstance(g, torch.Generator)
    assert torch.initial_seed() == 1234
    assert torch.manual_seed(2**64 - 1).initial_seed() == 2**64 - 1
    assert torch.manual_seed(-1).initial_seed() == 2**64 - 1
    assert torch.manual_seed(3.7).initial_seed() == 3
    assert torch.manual_seed("5").initial_seed() == 5


def test_same_seed_same_stream_and_generators_are_independent():
    torch.manual_seed(3)
    a = torch.randn(50).tolist()
    g = torch.Generator().manual_seed(3)
    torch.manual_seed(3)
    b_default = torch.rand(4).tolist()
    c = torch.randn(50, generator=g).tolist()
    assert a == c
    torch.manual_seed(3)
    torch.randn(50, generator=torch.Generator().manual_seed(99))  # must not touch the default generator
    assert torch.rand(4).tolist() == b_default


def test_fresh_generator_default_seed_and_device():
    g = torch.Generator()
    assert g.initial_seed() == 67280421310721
    assert str(g.device) == "cpu"
    assert torch.Generator(device="cpu").initial_seed() == 67280421310721
    assert g.manual_seed(5) is g


def test_seed_is_nondeterministic_and_becomes_initial_seed():
    g = torch.Generator()
    s1, s2 = g.seed(), g.seed()
    assert s1 != s2 and g.initial_seed() == s2
    s = torch.seed()
    assert torch.initial_seed() == s and 0 <= s < 2**64


def test_state_round_trip_restores_stream_and_cached_normal():
    g = torch.Generator().manual_seed(77)
    torch.randn(3, generator=g)  # leaves a cached Box-Muller sample
    st = g.get_state()
    a = torch.randn(7, generator=g).tolist() + torch.rand(3, generator=g).tolist()
    g.set_state(st)
    b = torch.randn(7, generator=g).tolist() + torch.rand(3, generator=g).tolist()
    assert a == b
    torch.manual_seed(5)
    saved = torch.get_rng_state()
    x = torch.randn(20).tolist()
    torch.set_rng_state(saved)
    assert torch.randn(20).tolist() == x


def test_get_state_is_a_copy():
    g = torch.Generator().manual_seed(1)
    st = g.get_state()
    before = st.tolist()
    torch.rand(10, generator=g)
    assert st.tolist() == before


def test_generator_pickles():
    g = torch.Generator().manual_seed(5)
    torch.randn(3, generator=g)
    h = pickle.loads(pickle.dumps(g))
    assert h.initial_seed() == 5
    assert torch.randn(4, generator=h).tolist() == torch.randn(4, generator=g).tolist()


# ---- properties ----


def test_ranges_dtypes_and_shapes():
    torch.manual_seed(0)
    r = torch.rand(1000)
    assert r.dtype == torch.float32 and tuple(r.shape) == (1000,)
    assert 0.0 <= r.min().item() and r.max().item() < 1.0
    assert torch.rand(2, 3, dtype=torch.float64).dtype == torch.float64
    assert tuple(torch.rand((2, 3)).shape) == (2, 3) and tuple(torch.rand([4]).shape) == (4,)
    assert tuple(torch.randn(torch.Size([2, 5])).shape) == (2, 5)
    assert tuple(torch.rand(size=(3,)).shape) == (3,)
    assert tuple(torch.rand(()).shape) == ()
    i = torch.randint(-3, 4, (500,))
    assert i.dtype == torch.int64 and -3 <= i.min().item() and i.max().item() < 4
    assert set(torch.randint(0, 2, (200,), dtype=torch.bool).tolist()) == {False, True}
    assert torch.randint(10, (3,), dtype=torch.uint8).dtype == torch.uint8
    p = torch.randperm(50)
    assert p.dtype == torch.int64 and sorted(p.tolist()) == list(range(50))
    b = torch.bernoulli(torch.full((100,), 0.5))
    assert set(b.tolist()) <= {0.0, 1.0}
    e = torch.empty(100).exponential_()
    assert e.min().item() > 0
    mu = torch.multinomial(torch.tensor([0.0, 1.0, 0.0]), 5, replacement=True)
    assert mu.tolist() == [1] * 5
    wo = torch.multinomial(torch.tensor([1.0, 1.0, 1.0, 1.0]), 4)
    assert sorted(wo.tolist()) == [0, 1, 2, 3]


def test_like_factories_keep_shape_and_dtype():
    x = torch.zeros(2, 3, dtype=torch.float64)
    assert torch.rand_like(x).dtype == torch.float64 and tuple(torch.randn_like(x).shape) == (2, 3)
    assert torch.randint_like(torch.zeros(4, dtype=torch.int32), 5).dtype == torch.int32
    assert torch.randint_like(x, low=2, high=4).min().item() >= 2


def test_requires_grad_and_out():
    t = torch.rand(3, requires_grad=True)
    assert t.requires_grad and t.is_leaf
    out = torch.empty(3, dtype=torch.float64)
    r = torch.rand(3, out=out)
    assert r is out and out.dtype == torch.float64
    torch.manual_seed(4)
    a = torch.randn(5).tolist()
    torch.manual_seed(4)
    o = torch.empty(0)
    torch.randn(5, out=o)
    assert o.tolist() == a


def test_inplace_samplers_return_self_and_accept_keywords():
    x = torch.zeros(5)
    assert x.uniform_(2, 3) is x and 2 <= x.min().item() and x.max().item() < 3
    assert x.normal_(mean=1, std=0) is x and x.tolist() == [1.0] * 5
    assert x.uniform_(to=0.5).max().item() < 0.5
    assert x.uniform_(**{"from": 4, "to": 5}).min().item() >= 4
    assert x.random_(to=3).max().item() < 3
    assert x.random_(**{"from": 5, "to": 7}).min().item() >= 5
    assert x.bernoulli_() is x and x.exponential_(lambd=2) is x
    assert set(x.bernoulli_(p=torch.tensor(1.0)).tolist()) == {1.0}


def test_inplace_on_leaf_requiring_grad_is_refused_but_fine_under_no_grad():
    w = torch.zeros(3, requires_grad=True)
    with pytest.raises(
        RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"
    ):
        w.uniform_()
    with torch.no_grad():
        w.normal_(0, 0.02)
    assert w.requires_grad


# ---- torch's errors ----


@pytest.mark.parametrize(
    "fn,exc,msg",
    [
        (
            lambda: torch.randint(5, 5, (3,)),
            RuntimeError,
            "random_ expects 'from' to be less than 'to', but got from=5 >= to=5",
        ),
        (
            lambda: torch.randint(0, 300, (3,), dtype=torch.uint8),
            RuntimeError,
            "to - 1 is out of bounds for unsigned char",
        ),
        (
            lambda: torch.randint(-1, 3, (3,), dtype=torch.uint8),
            RuntimeError,
            "from is out of bounds for unsigned char",
        ),
        (
            lambda: torch.randint(0, 3, (3,), dtype=torch.bool),
            RuntimeError,
            "to - 1 is out of bounds for bool",
        ),
        (
            lambda: torch.randint(0, 2**40, (3,), dtype=torch.int32),
            RuntimeError,
            "to - 1 is out of bounds for int",
        ),
        (
            lambda: torch.randint(3.5, (3,)),
            TypeError,
            "randint(): argument 'high' (position 1) must be int, not float",
        ),
        (
            lambda: torch.randint(10, 3),
            TypeError,
            "randint(): argument 'size' (position 2) must be tuple of ints, not int",
        ),
        (
            lambda: torch.rand(3, dtype=torch.int64),
            NotImplementedError,
            "\"check_uniform_bounds\" not implemented for 'Long'",
        ),
        (
            lambda: torch.randn(3, dtype=torch.int64),
            NotImplementedError,
            "\"normal_kernel_cpu\" not implemented for 'Long'",
        ),
        (
            lambda: torch.empty(3).uniform_(1, 0),
            RuntimeError,
            "uniform_ expects to return a [from, to) range, but found from=1 > to=0",
        ),
        (lambda: torch.empty(3).uniform_(0, 1e40), RuntimeError, "to is out of bounds for float"),
        (lambda: torch.empty(3).normal_(0, -1), RuntimeError, "normal expects std >= 0.0, but found std -1"),
        (
            lambda: torch.empty(3).normal_(0, -1.5e-7),
            RuntimeError,
            "normal expects std >= 0.0, but found std -1.5e-07",
        ),
        (
            lambda: torch.normal(torch.zeros(3), -torch.ones(3)),
            RuntimeError,
            "normal expects all elements of std >= 0.0",
        ),
        (
            lambda: torch.empty(3).bernoulli_(1.5),
            RuntimeError,
            "bernoulli_ expects p to be in [0, 1], but got p=1.5",
        ),
        (
            lambda: torch.bernoulli(torch.tensor([0.5, 1.5])),
            RuntimeError,
            "Expected p_in >= 0 && p_in <= 1 to be true",
        ),
        (
            lambda: torch.bernoulli(torch.tensor([1, 0])),
            NotImplementedError,
            "\"bernoulli_tensor_cpu_p_\" not implemented for 'Long'",
        ),
        (
            lambda: torch.empty(3).exponential_(0),
            RuntimeError,
            "exponential_ expects lambda > 0.0, but found lambda=0",
        ),
        (
            lambda: torch.empty(3, dtype=torch.long).exponential_(),
            RuntimeError,
            "continuous probability distribution. dtype must be a floating point but you specified Long",
        ),
        (
            lambda: torch.randperm(2**24 + 2, dtype=torch.float32),
            RuntimeError,
            "n cannot be greater than 2^24+1 for Float type.",
        ),
        (
            lambda: torch.randperm(10, dtype=torch.bool),
            NotImplementedError,
            "\"randperm\" not implemented for 'Bool'",
        ),
        (
            lambda: torch.multinomial(torch.tensor([1.0, 2.0]), 3),
            RuntimeError,
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement",
        ),
        (
            lambda: torch.multinomial(torch.tensor([1.0, 2.0]), 0),
            RuntimeError,
            "cannot sample n_sample <= 0 samples",
        ),
        (
            lambda: torch.multinomial(torch.tensor([1, 2]), 1),
            RuntimeError,
            "multinomial only supports floating-point dtypes for input, got: Long",
        ),
        (
            lambda: torch.multinomial(torch.tensor([-1.0, 2.0]), 1),
            RuntimeError,
            "probability tensor contains either `inf`, `nan` or element < 0",
        ),
        (
            lambda: torch.multinomial(torch.tensor([0.0, 0.0]), 1),
            RuntimeError,
            "invalid multinomial distribution (sum of probabilities <= 0)",
        ),
        (
            lambda: torch.multinomial(torch.tensor([0.0, 0.0]), 2, True),
            RuntimeError,
            "invalid multinomial distribution (sum of probabilities <= 0)",
        ),
        (lambda: torch.multinomial(torch.tensor(1.0), 1), RuntimeError, "prob_dist must be 1 or 2 dim"),
        (
            lambda: torch.set_rng_state(torch.zeros(10, dtype=torch.uint8)),
            RuntimeError,
            "Expected a CPUGeneratorImplState of size 5056 but found the input RNG state size to be 10",
        ),
        (lambda: torch.set_rng_state(torch.zeros(5056)), TypeError, "RNG state must be a torch.ByteTensor"),
        (
            lambda: torch.set_rng_state(torch.zeros(5056, dtype=torch.uint8)),
            RuntimeError,
            "Invalid mt19937 state",
        ),
        (lambda: torch.Generator().set_state([1, 2]), TypeError, "expected a torch.ByteTensor, but got list"),
        (
            lambda: torch.Generator().manual_seed(3.7),
            RuntimeError,
            "manual_seed expected a long, but got float",
        ),
        (lambda: torch.manual_seed(2**64), ValueError, "Overflow when unpacking long long"),
    ],
)
def test_errors_match_torch(fn, exc, msg):
    with pytest.raises(exc) as info:
        fn()
    assert msg in str(info.value)


def test_failed_call_leaves_generator_untouched():
    g = torch.Generator().manual_seed(8)
    st = g.get_state().tolist()
    with pytest.raises(RuntimeError):
        torch.randint(5, 5, (3,), generator=g)
    with pytest.raises(RuntimeError):
        torch.bernoulli(torch.tensor([0.5, 1.5]), generator=g)
    assert g.get_state().tolist() == st
