# ruff: noqa: BLE001  (the scenarios print whatever exception torch raises)
"""nn.Module system: registration, iteration, state, state_dict, hooks, printing, containers and
the parameter-free activations, checked against strings produced once by real PyTorch.

The ``scenario_*`` functions take the torch-like module as an argument; their printed lines under
real torch are hard-coded in ``EXPECTED`` (regenerate with
``/opt/torchenv/bin/python tests/test_nn_module.py``).  The tests themselves never import torch.
"""

import copy
import subprocess
import sys
from collections import OrderedDict

try:
    import numpy as np
    import pytest
except ImportError:  # only when regenerating EXPECTED under an environment without them

    class _Stub:
        # Stands in for pytest's decorators so the module still defines its scenarios.
        def __getattr__(self, name):
            return self

        def __call__(self, *args, **kwargs):
            return args[0] if len(args) == 1 and callable(args[0]) and not kwargs else self

    np = _Stub()
    pytest = _Stub()


def scenario_model(torch):
    nn = torch.nn
    lines = []

    def p(*args):
        lines.append(" ".join(str(a) for a in args))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Module()
            self.fc.weight = nn.Parameter(torch.zeros(5, 10))
            self.fc.bias = nn.Parameter(torch.zeros(5))
            self.act = nn.ReLU()
            self.seq = nn.Sequential(
                nn.Flatten(),
                nn.LeakyReLU(),
                nn.ELU(alpha=0.5, inplace=True),
                nn.Hardtanh(-2, 3),
                nn.ReLU6(inplace=True),
                nn.SiLU(),
                nn.Sigmoid(),
                nn.Tanh(),
                nn.Identity(),
                nn.Unflatten(1, (2, 5)),
                nn.ReLU(inplace=True),
            )
            self.register_buffer("running", torch.ones(3))
            self.register_buffer("tmp", torch.ones(3), persistent=False)
            self.scale = nn.Parameter(torch.ones(1))
            self.ml = nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.ReLU(), nn.Tanh(), nn.ReLU()])
            self.md = nn.ModuleDict({"b": nn.Tanh(), "a": nn.Sigmoid()})
            self.pl = nn.ParameterList([nn.Parameter(torch.zeros(2, 3)), torch.ones(4)])
            self.pd = nn.ParameterDict(
                {"y": nn.Parameter(torch.zeros(2)), "x": torch.ones(3, dtype=torch.float64)}
            )
            self.none_p = None
            self.register_parameter("nop", None)
            self.b = nn.Buffer(torch.zeros(2))
            self.b2 = nn.Buffer(torch.zeros(2), persistent=False)

        def forward(self, x):
            return x

    m = Net()
    p(repr(m))
    p(list(m.state_dict().keys()))
    p([n for n, _ in m.named_parameters()])
    p([n for n, _ in m.named_buffers()])
    p([n for n, _ in m.named_modules()])
    p([n for n, _ in m.named_children()])
    p(m.state_dict()._metadata)
    sd = m.state_dict()
    sd["extra"] = torch.zeros(1)
    sd["fc.weight"] = torch.zeros(5, 20)
    del sd["fc.bias"]
    sd["fc.foo"] = torch.zeros(1)
    try:
        m.load_state_dict(sd)
    except Exception as e:
        p(type(e).__name__, repr(str(e)))
    sd2 = m.state_dict()
    del sd2["fc.bias"]
    sd2["zz"] = torch.ones(1)
    p(m.load_state_dict(sd2, strict=False))
    p(m.load_state_dict(m.state_dict()))

    class E(nn.Module):
        pass

    try:
        E()(1)
    except Exception as e:
        p(type(e).__name__, e)
    for bad in [
        lambda: setattr(m, "fc", 3),
        lambda: setattr(m, "scale", torch.zeros(1)),
        lambda: setattr(m, "running", 3),
        lambda: m.register_buffer("a.b", None),
        lambda: m.register_parameter("x", torch.zeros(1)),
        lambda: m.add_module("fc2", 3),
        lambda: m.get_submodule("fc.nope"),
        lambda: m.get_submodule("fc.weight"),
        lambda: m.get_parameter("running"),
        lambda: m.get_buffer("scale"),
        lambda: m.nothing,
        lambda: m.to(torch.int64),
        lambda: nn.Sequential(nn.ReLU())[3],
        lambda: nn.Sequential() + 3,
        lambda: nn.ModuleList().extend(3),
        lambda: nn.ParameterList()(1),
        lambda: m.register_buffer("fc", None),
        lambda: m.train(1),
        lambda: nn.Module(3),
        lambda: nn.Module(foo=3),
        lambda: nn.ModuleList([nn.ReLU()]).insert(0, 3),
    ]:
        try:
            bad()
            p("no error")
        except Exception as e:
            p(type(e).__name__, repr(str(e)))
    s = nn.Sequential(OrderedDict([("c1", nn.ReLU()), ("c2", nn.Tanh()), ("c3", nn.Sigmoid())]))
    p(s[1:], s[-1], len(s), s[::2])
    del s[0]
    p(s)
    s.append(nn.ReLU())
    s.insert(1, nn.ELU())
    s.extend([nn.Tanh()])
    p(s)
    p(s.pop(0))
    p(s + s)
    s[0] = nn.Identity()
    p(s)
    ml = nn.ModuleList([nn.ReLU()])
    ml += [nn.Tanh(), nn.Tanh()]
    ml.insert(1, nn.ReLU())
    p(ml, ml[1:], len(ml), ml[-1])
    del ml[0]
    p(ml)
    p(nn.ModuleList(), nn.Sequential(), nn.ModuleDict(), nn.ParameterList(), nn.ParameterDict())
    p(
        nn.Hardtanh(),
        nn.ReLU6(),
        nn.LeakyReLU(0.2, True),
        nn.ELU(),
        nn.SiLU(inplace=True),
        nn.Flatten(0, 2),
        nn.Unflatten(-1, [2, 3]),
    )
    p(m.pd["x"].dtype, list(m.pd.keys()), m.pl[1])
    mm = copy.deepcopy(m)
    p(type(mm.scale).__name__, mm.scale is m.scale, repr(mm.fc))
    p(nn.Parameter(torch.ones(2, 2)) + 1)
    m.double()
    p(m.fc.weight.dtype, m.running.dtype, m.pl[0].dtype)
    m.float()
    p(m.fc.weight.dtype)
    m.to(torch.float64)
    p(m.fc.weight.dtype, type(m.fc.weight).__name__)
    p(m.training, m.eval().training, m.fc.training, m.train().fc.training)

    return lines


def scenario_hooks_state(torch):
    nn = torch.nn
    lines = []

    def p(*args):
        lines.append(" ".join(str(a) for a in args))

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

        def forward(self, x, scale=1.0):
            return x * self.w * scale

    m = M()
    log = []
    h1 = m.register_forward_pre_hook(lambda mod, args: log.append(("pre", len(args))) or (args[0] * 2,))
    h2 = m.register_forward_hook(lambda mod, args, out: log.append(("post", out.tolist())) or out + 1)
    h3 = m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"scale": 10.0}), with_kwargs=True)
    h4 = m.register_forward_hook(
        lambda mod, args, kwargs, out: log.append(("kw", kwargs)), with_kwargs=True, prepend=True
    )
    p(m(torch.ones(3)).tolist(), log)
    h1.remove()
    h2.remove()
    h3.remove()
    h4.remove()
    h4.remove()
    p(m(torch.ones(3)).tolist(), len(m._forward_hooks), len(m._forward_pre_hooks))
    try:
        m.register_forward_pre_hook(lambda mod, args, kwargs: 5, with_kwargs=True)
        m(torch.ones(3))
    except Exception as e:
        p(type(e).__name__, e)
    # zero_grad
    m = M()
    m._forward_pre_hooks.clear()
    m(torch.ones(3)).sum().backward()
    p(m.w.grad.tolist())
    m.zero_grad(set_to_none=False)
    p(m.w.grad.tolist())
    m.zero_grad()
    p(m.w.grad)

    # shared params
    class S(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = M()
            self.b = self.a
            self.c = M()
            self.c.w = self.a.w
            self.register_buffer("buf", torch.zeros(2, dtype=torch.int64))

    p(
        [n for n, _ in S().named_parameters()],
        [n for n, _ in S().named_parameters(remove_duplicate=False)],
        list(S().state_dict().keys()),
    )
    p(
        [n for n, _ in S().named_modules()],
        [n for n, _ in S().named_modules(remove_duplicate=False)],
        [n for n, _ in S().named_children()],
    )
    p(
        [n for n, _ in S().named_parameters(prefix="pre", recurse=False)],
        [n for n, _ in S().named_parameters(prefix="pre")],
    )
    s = S()
    s2 = copy.deepcopy(s)
    p(s2.a.w is s2.c.w, s2.a is s2.b, s2.a.w is s.a.w, s2.buf.dtype)
    s.double()
    p(s.a.w.dtype, s.buf.dtype)
    s.to(torch.zeros(1, dtype=torch.float32))
    p(s.a.w.dtype)
    s.to("cpu", torch.float64)
    p(s.a.w.dtype)
    s.to(dtype=torch.float32)
    p(s.a.w.dtype)
    try:
        s.cuda()
    except Exception as e:
        p(type(e).__name__)
    try:
        s.to("cuda")
    except Exception as e:
        p(type(e).__name__)
    order = []
    s.apply(lambda mod: order.append(type(mod).__name__))
    p(order)
    s.requires_grad_(False)
    p(s.a.w.requires_grad, s.c.w.requires_grad)
    # load_state_dict keeps identity
    m = M()
    w = m.w
    r = m.load_state_dict({"w": torch.tensor([1.0, 2.0, 3.0])})
    p(r, m.w is w, m.w.tolist(), m.w.requires_grad)
    r = m.load_state_dict({"w": torch.tensor([4.0, 5.0, 6.0])}, assign=True)
    p(m.w is w, m.w.tolist(), type(m.w).__name__, m.w.requires_grad)
    sd = m.state_dict()
    p(sd["w"].requires_grad, type(sd["w"]).__name__, m.state_dict(keep_vars=True)["w"] is m.w)

    class Z(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("n", torch.tensor(0))

    z = Z()
    z.load_state_dict({"n": torch.tensor([7])})
    p(z.n.tolist())
    try:
        m.load_state_dict([1])
    except Exception as e:
        p(type(e).__name__, e)
    try:
        m.load_state_dict({"w": 3})
    except Exception as e:
        p(type(e).__name__, e)
    m.foo = 3
    p(m.foo)
    del m.foo
    del m.w
    p(list(m.state_dict().keys()), hasattr(m, "w"))
    m.w = None
    p(m.w, list(m._parameters))
    mm = M()
    mm.x = nn.Buffer(torch.zeros(1), persistent=False)
    mm.y = nn.Buffer(torch.zeros(1))
    p(list(mm.state_dict()), sorted(mm._non_persistent_buffers_set))
    mm.x = torch.ones(1)
    p(list(mm.state_dict()), type(mm._buffers["x"]).__name__)
    mm.x = nn.Parameter(torch.ones(1))
    p(list(mm.state_dict()), list(mm._buffers))
    pp = nn.Parameter(torch.ones(2)) * 2  # noqa: F841
    try:
        mm.register_parameter("q", nn.Parameter(torch.ones(1)).mul(2))
    except Exception as e:
        p(type(e).__name__, e)
    p(mm.get_submodule(""), mm.get_parameter("w").shape, mm.get_buffer("y").shape)
    ml = nn.ModuleList([M(), M()])
    p(ml[0] is next(iter(ml)), [n for n, _ in ml.named_parameters()])
    pl = nn.ParameterList([torch.zeros(1), nn.Parameter(torch.ones(2))])
    pl.append(torch.ones(3))
    p(len(pl), [type(p).__name__ for p in pl], [n for n, _ in pl.named_parameters()], len(pl[1:]))
    pd = nn.ParameterDict()
    pd["a"] = torch.ones(1)
    pd.update([("b", torch.zeros(2))])
    p(list(pd), "a" in pd, pd.pop("a").shape, list(pd.keys()), pd.get("q"), len(pd))
    md = nn.ModuleDict([("x", nn.ReLU()), ("y", nn.Tanh())])
    p(list(md), md["y"], md.pop("x"), list(md.keys()), len(md), "y" in md)
    p(
        nn.Parameter(torch.zeros(2, dtype=torch.float64), requires_grad=False).requires_grad,
        nn.Parameter().shape,
        type(nn.Parameter(torch.zeros(1))).__name__,
        nn.Parameter(torch.zeros(1)).is_leaf,
    )

    return lines


def scenario_activations(torch):
    nn = torch.nn
    lines = []

    def p(*args):
        lines.append(" ".join(str(a) for a in args))

    vals = [-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 7.0, 100.0, -100.0]
    mods = [
        nn.ReLU(),
        nn.ReLU6(),
        nn.LeakyReLU(),
        nn.LeakyReLU(0.2),
        nn.ELU(),
        nn.ELU(0.5),
        nn.SiLU(),
        nn.Sigmoid(),
        nn.Tanh(),
        nn.Hardtanh(),
        nn.Hardtanh(-2.0, 3.0),
    ]
    for m in mods:
        for inplace in [False, True]:
            if inplace and not hasattr(m, "inplace"):
                continue
            if hasattr(m, "inplace"):
                m.inplace = inplace
            x = torch.tensor(vals, dtype=torch.float64, requires_grad=True)
            y = x * 1.0
            try:
                out = m(y)
                out.sum().backward()
                p(
                    repr(m),
                    [round(v, 6) for v in out.tolist()],
                    [round(v, 6) for v in x.grad.tolist()],
                    (out is y),
                )
            except Exception as e:
                p(repr(m), "ERR", type(e).__name__, e)

    return lines


def scenario_extra_state(torch):
    nn = torch.nn
    lines = []

    def p(*args):
        lines.append(" ".join(str(a) for a in args))

    class X(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))
            self.v = 0

        def get_extra_state(self):
            return {"v": self.v}

        def set_extra_state(self, s):
            self.v = s["v"]

    class Y(nn.Module):
        def __init__(self):
            super().__init__()
            self.x = X()

    y = Y()
    y.x.v = 7
    sd = y.state_dict()
    p(list(sd), sd["x._extra_state"])
    z = Y()
    p(z.load_state_dict(sd), z.x.v)
    del sd["x._extra_state"]
    try:
        z.load_state_dict(sd)
    except RuntimeError as e:
        p(e)
    p(nn.Module().load_state_dict({"_extra_state": 1}, strict=False))
    try:
        nn.Module().load_state_dict({"_extra_state": 1})
    except RuntimeError as e:
        p(e)
    return lines


SCENARIOS = {
    "model": scenario_model,
    "hooks_state": scenario_hooks_state,
    "activations": scenario_activations,
    "extra_state": scenario_extra_state,
}

# Printed by real torch 2.x (see the __main__ block); one line of output per string.
# fmt: off
EXPECTED = {
    'model': [
        'Net(\n  (fc): Module()\n  (act): ReLU()\n  (seq): Sequential(\n    (0): Flatten(start_dim=1, end_dim=-1)\n    (1): LeakyReLU(negative_slope=0.01)\n    (2): ELU(alpha=0.5, inplace=True)\n    (3): Hardtanh(min_val=-2, max_val=3)\n    (4): ReLU6(inplace=True)\n    (5): SiLU()\n    (6): Sigmoid()\n    (7): Tanh()\n    (8): Identity()\n    (9): Unflatten(dim=1, unflattened_size=(2, 5))\n    (10): ReLU(inplace=True)\n  )\n  (ml): ModuleList(\n    (0-2): 3 x ReLU()\n    (3): Tanh()\n    (4): ReLU()\n  )\n  (md): ModuleDict(\n    (b): Tanh()\n    (a): Sigmoid()\n  )\n  (pl): ParameterList(\n      (0): Parameter containing: [torch.float32 of size 2x3]\n      (1): Parameter containing: [torch.float32 of size 4]\n  )\n  (pd): ParameterDict(\n      (x): Parameter containing: [torch.DoubleTensor of size 3]\n      (y): Parameter containing: [torch.FloatTensor of size 2]\n  )\n)',
        "['scale', 'running', 'b', 'fc.weight', 'fc.bias', 'pl.0', 'pl.1', 'pd.x', 'pd.y']",
        "['scale', 'fc.weight', 'fc.bias', 'pl.0', 'pl.1', 'pd.x', 'pd.y']",
        "['running', 'tmp', 'b', 'b2']",
        "['', 'fc', 'act', 'seq', 'seq.0', 'seq.1', 'seq.2', 'seq.3', 'seq.4', 'seq.5', 'seq.6', 'seq.7', 'seq.8', 'seq.9', 'seq.10', 'ml', 'ml.0', 'ml.1', 'ml.2', 'ml.3', 'ml.4', 'md', 'md.b', 'md.a', 'pl', 'pd']",
        "['fc', 'act', 'seq', 'ml', 'md', 'pl', 'pd']",
        "OrderedDict([('', {'version': 1}), ('fc', {'version': 1}), ('act', {'version': 1}), ('seq', {'version': 1}), ('seq.0', {'version': 1}), ('seq.1', {'version': 1}), ('seq.2', {'version': 1}), ('seq.3', {'version': 1}), ('seq.4', {'version': 1}), ('seq.5', {'version': 1}), ('seq.6', {'version': 1}), ('seq.7', {'version': 1}), ('seq.8', {'version': 1}), ('seq.9', {'version': 1}), ('seq.10', {'version': 1}), ('ml', {'version': 1}), ('ml.0', {'version': 1}), ('ml.1', {'version': 1}), ('ml.2', {'version': 1}), ('ml.3', {'version': 1}), ('ml.4', {'version': 1}), ('md', {'version': 1}), ('md.b', {'version': 1}), ('md.a', {'version': 1}), ('pl', {'version': 1}), ('pd', {'version': 1})])",
        'RuntimeError \'Error(s) in loading state_dict for Net:\\n\\tMissing key(s) in state_dict: "fc.bias". \\n\\tUnexpected key(s) in state_dict: "extra", "fc.foo". \\n\\tsize mismatch for fc.weight: copying a param with shape torch.Size([5, 20]) from checkpoint, the shape in current model is torch.Size([5, 10]).\'',
        "_IncompatibleKeys(missing_keys=['fc.bias'], unexpected_keys=['zz'])",
        '<All keys matched successfully>',
        'NotImplementedError Module [E] is missing the required "forward" function',
        'TypeError "cannot assign \'int\' as child module \'fc\' (torch.nn.Module or None expected)"',
        'TypeError "cannot assign \'torch.FloatTensor\' as parameter \'scale\' (torch.nn.Parameter or None expected)"',
        'TypeError "cannot assign \'int\' as buffer \'running\' (torch.nn.Buffer, torch.Tensor or None expected)"',
        'KeyError \'\\\'buffer name can\\\\\\\'t contain "."\\\'\'',
        'TypeError "cannot assign \'torch.FloatTensor\' object to parameter \'x\' (torch.nn.Parameter or None required)"',
        "TypeError 'int is not a Module subclass'",
        "AttributeError 'Module has no attribute `nope`'",
        "AttributeError '`weight` is not an nn.Module'",
        "AttributeError '`running` is not an nn.Parameter'",
        "AttributeError '`scale` is not a buffer'",
        'AttributeError "\'Net\' object has no attribute \'nothing\'"',
        "TypeError 'nn.Module.to only accepts floating point or complex dtypes, but got desired dtype=torch.int64'",
        "IndexError 'index 3 is out of range'",
        'ValueError "add operator supports only objects of Sequential class, but <class \'int\'> is given."',
        "TypeError 'ModuleList.extend should be called with an iterable, but got int'",
        "RuntimeError 'ParameterList should not be called.'",
        'KeyError \'"attribute \\\'fc\\\' already exists"\'',
        "ValueError 'training mode is expected to be boolean'",
        "TypeError 'Module.__init__() takes 1 positional argument but 2 were given'",
        'TypeError "Module.__init__() got an unexpected keyword argument \'foo\'"',
        'no error',
        'Sequential(\n  (c2): Tanh()\n  (c3): Sigmoid()\n) Sigmoid() 3 Sequential(\n  (c1): ReLU()\n  (c3): Sigmoid()\n)',
        'Sequential(\n  (0): Tanh()\n  (1): Sigmoid()\n)',
        'Sequential(\n  (0): Tanh()\n  (1): ELU(alpha=1.0)\n  (2): Sigmoid()\n  (3): ReLU()\n  (4): Tanh()\n)',
        'Tanh()',
        'Sequential(\n  (0): ELU(alpha=1.0)\n  (1): Sigmoid()\n  (2): ReLU()\n  (3): Tanh()\n  (4): ELU(alpha=1.0)\n  (5): Sigmoid()\n  (6): ReLU()\n  (7): Tanh()\n)',
        'Sequential(\n  (0): Identity()\n  (1): Sigmoid()\n  (2): ReLU()\n  (3): Tanh()\n)',
        'ModuleList(\n  (0-1): 2 x ReLU()\n  (2-3): 2 x Tanh()\n) ModuleList(\n  (0): ReLU()\n  (1-2): 2 x Tanh()\n) 4 Tanh()',
        'ModuleList(\n  (0): ReLU()\n  (1-2): 2 x Tanh()\n)',
        'ModuleList() Sequential() ModuleDict() ParameterList() ParameterDict()',
        'Hardtanh(min_val=-1.0, max_val=1.0) ReLU6() LeakyReLU(negative_slope=0.2, inplace=True) ELU(alpha=1.0) SiLU(inplace=True) Flatten(start_dim=0, end_dim=2) Unflatten(dim=-1, unflattened_size=[2, 3])',
        "torch.float64 ['x', 'y'] Parameter containing:\ntensor([1., 1., 1., 1.], requires_grad=True)",
        'Parameter False Module()',
        'tensor([[2., 2.],\n        [2., 2.]], grad_fn=<AddBackward0>)',
        'torch.float64 torch.float64 torch.float64',
        'torch.float32',
        'torch.float64 Parameter',
        'True False False True',
    ],
    'hooks_state': [
        "[21.0, 21.0, 21.0] [('pre', 1), ('kw', {'scale': 10.0}), ('post', [20.0, 20.0, 20.0])]",
        '[1.0, 1.0, 1.0] 0 0',
        'RuntimeError forward pre-hook must return None or a tuple of (new_args, new_kwargs), but got 5.',
        '[1.0, 1.0, 1.0]',
        '[0.0, 0.0, 0.0]',
        'None',
        "['a.w'] ['a.w', 'b.w', 'c.w'] ['buf', 'a.w', 'b.w', 'c.w']",
        "['', 'a', 'c'] ['', 'a', 'b', 'c'] ['a', 'c']",
        "[] ['pre.a.w']",
        'True True False torch.int64',
        'torch.float64 torch.int64',
        'torch.float32',
        'torch.float64',
        'torch.float32',
        'RuntimeError',
        'RuntimeError',
        "['M', 'M', 'S']",
        'False False',
        '<All keys matched successfully> True [1.0, 2.0, 3.0] True',
        'False [4.0, 5.0, 6.0] Parameter True',
        'False Tensor True',
        '7',
        "TypeError Expected state_dict to be dict-like, got <class 'list'>.",
        'RuntimeError Error(s) in loading state_dict for M:\n\tWhile copying the parameter named "w", expected torch.Tensor or Tensor-like object from checkpoint but received <class \'int\'>',
        '3',
        '[] False',
        'None []',
        "['w', 'y'] ['x']",
        "['w', 'y'] Tensor",
        "['w', 'x', 'y'] ['y']",
        "TypeError cannot assign 'torch.FloatTensor' object to parameter 'q' (torch.nn.Parameter or None required)",
        'M() torch.Size([3]) torch.Size([1])',
        "True ['0.w', '1.w']",
        "3 ['Parameter', 'Parameter', 'Parameter'] ['0', '1', '2'] 2",
        "['a', 'b'] True torch.Size([1]) ['b'] None 1",
        "['x', 'y'] Tanh() ReLU() ['y'] 1 True",
        'False torch.Size([0]) Parameter True',
    ],
    'activations': [
        'ReLU() [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 2.0, 7.0, 100.0, 0.0] [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0] False',
        'ReLU(inplace=True) [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 2.0, 7.0, 100.0, 0.0] [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0] True',
        'ReLU6() [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 2.0, 6.0, 6.0, 0.0] [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0] False',
        'ReLU6(inplace=True) [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 2.0, 6.0, 6.0, 0.0] [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0] True',
        'LeakyReLU(negative_slope=0.01) [-0.03, -0.01, -0.005, 0.0, 0.5, 1.0, 2.0, 7.0, 100.0, -1.0] [0.01, 0.01, 0.01, 0.01, 1.0, 1.0, 1.0, 1.0, 1.0, 0.01] False',
        'LeakyReLU(negative_slope=0.01, inplace=True) [-0.03, -0.01, -0.005, 0.0, 0.5, 1.0, 2.0, 7.0, 100.0, -1.0] [0.01, 0.01, 0.01, 0.01, 1.0, 1.0, 1.0, 1.0, 1.0, 0.01] True',
        'LeakyReLU(negative_slope=0.2) [-0.6, -0.2, -0.1, 0.0, 0.5, 1.0, 2.0, 7.0, 100.0, -20.0] [0.2, 0.2, 0.2, 0.2, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2] False',
        'LeakyReLU(negative_slope=0.2, inplace=True) [-0.6, -0.2, -0.1, 0.0, 0.5, 1.0, 2.0, 7.0, 100.0, -20.0] [0.2, 0.2, 0.2, 0.2, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2] True',
        'ELU(alpha=1.0) [-0.950213, -0.632121, -0.393469, 0.0, 0.5, 1.0, 2.0, 7.0, 100.0, -1.0] [0.049787, 0.367879, 0.606531, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0] False',
        'ELU(alpha=1.0, inplace=True) [-0.950213, -0.632121, -0.393469, 0.0, 0.5, 1.0, 2.0, 7.0, 100.0, -1.0] [0.049787, 0.367879, 0.606531, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0] True',
        'ELU(alpha=0.5) [-0.475106, -0.31606, -0.196735, 0.0, 0.5, 1.0, 2.0, 7.0, 100.0, -0.5] [0.024894, 0.18394, 0.303265, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0] False',
        'ELU(alpha=0.5, inplace=True) [-0.475106, -0.31606, -0.196735, 0.0, 0.5, 1.0, 2.0, 7.0, 100.0, -0.5] [0.024894, 0.18394, 0.303265, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0] True',
        'SiLU() [-0.142278, -0.268941, -0.18877, 0.0, 0.31123, 0.731059, 1.761594, 6.993623, 100.0, -0.0] [-0.088104, 0.072329, 0.260039, 0.5, 0.739961, 0.927671, 1.090784, 1.00546, 1.0, -0.0] False',
        'SiLU(inplace=True) [-0.142278, -0.268941, -0.18877, 0.0, 0.31123, 0.731059, 1.761594, 6.993623, 100.0, -0.0] [-0.088104, 0.072329, 0.260039, 0.5, 0.739961, 0.927671, 1.090784, 1.00546, 1.0, -0.0] True',
        'Sigmoid() [0.047426, 0.268941, 0.377541, 0.5, 0.622459, 0.731059, 0.880797, 0.999089, 1.0, 0.0] [0.045177, 0.196612, 0.235004, 0.25, 0.235004, 0.196612, 0.104994, 0.00091, 0.0, 0.0] False',
        'Tanh() [-0.995055, -0.761594, -0.462117, 0.0, 0.462117, 0.761594, 0.964028, 0.999998, 1.0, -1.0] [0.009866, 0.419974, 0.786448, 1.0, 0.786448, 0.419974, 0.070651, 3e-06, 0.0, 0.0] False',
        'Hardtanh(min_val=-1.0, max_val=1.0) [-1.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0, -1.0] [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0] False',
        'Hardtanh(min_val=-1.0, max_val=1.0, inplace=True) [-1.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0, -1.0] [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0] True',
        'Hardtanh(min_val=-2.0, max_val=3.0) [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 3.0, -2.0] [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0] False',
        'Hardtanh(min_val=-2.0, max_val=3.0, inplace=True) [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 3.0, -2.0] [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0] True',
    ],
    'extra_state': [
        "['x.w', 'x._extra_state'] {'v': 7}",
        '<All keys matched successfully> 7',
        'Error(s) in loading state_dict for Y:\n\tMissing key(s) in state_dict: "x._extra_state". ',
        "_IncompatibleKeys(missing_keys=[], unexpected_keys=['_extra_state'])",
        'Error(s) in loading state_dict for Module:\n\tUnexpected key(s) in state_dict: "_extra_state". ',
    ],
}
# fmt: on


# ---------------------------------------------------------------------------------------------
# Tests (ferrotorch only)


@pytest.fixture(scope="module")
def torch():
    import ferrotorch

    return ferrotorch


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_matches_torch(torch, name):
    got = SCENARIOS[name](torch)
    want = EXPECTED[name]
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"line {i}:\n got: {g!r}\nwant: {w!r}"
    assert len(got) == len(want)


def _numeric_grad(fn, x, eps=1e-6):
    base = x.detach().numpy().copy()
    grad = np.zeros_like(base)
    flat = grad.reshape(-1)
    for i in range(base.size):
        for sign in (1, -1):
            b = base.copy().reshape(-1)
            b[i] += sign * eps
            val = float(fn(_tensor(b.reshape(base.shape))).sum().item())
            flat[i] += sign * val / (2 * eps)
    return grad


def _tensor(a, requires_grad=False):
    import ferrotorch

    return ferrotorch.tensor(np.ascontiguousarray(a), dtype=ferrotorch.float64, requires_grad=requires_grad)


ACTIVATIONS = [
    ("ReLU", {}, lambda x: np.maximum(x, 0)),
    ("ReLU6", {}, lambda x: np.clip(x, 0, 6)),
    ("LeakyReLU", {"negative_slope": 0.2}, lambda x: np.where(x > 0, x, 0.2 * x)),
    ("ELU", {"alpha": 0.7}, lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0)))),
    ("SiLU", {}, lambda x: x / (1 + np.exp(-x))),
    ("Sigmoid", {}, lambda x: 1 / (1 + np.exp(-x))),
    ("Tanh", {}, np.tanh),
    ("Hardtanh", {"min_val": -0.5, "max_val": 2.0}, lambda x: np.clip(x, -0.5, 2.0)),
    ("Identity", {}, lambda x: x),
]


def _away_from_kinks(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-4, 8, size=shape)
    # Keep finite differences off the kinks at 0, -0.5, 2 and 6.
    for k in (0.0, -0.5, 2.0, 6.0):
        x = np.where(np.abs(x - k) < 1e-3, x + 0.01, x)
    return x


@pytest.mark.parametrize("name,kwargs,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
@pytest.mark.parametrize("shape", [(), (0,), (1, 0, 3), (5, 7), (3, 4, 5)])
def test_activation_forward_backward(torch, name, kwargs, ref, shape):
    m = getattr(torch.nn, name)(**kwargs)
    xa = _away_from_kinks(shape, 0)
    x = _tensor(xa, requires_grad=True)
    y = m(x)
    np.testing.assert_allclose(y.detach().numpy(), ref(xa), rtol=1e-12, atol=1e-12)
    if x.numel() == 0 or name == "Identity":
        return
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _numeric_grad(m, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kwargs,ref", ACTIVATIONS[:-1], ids=[a[0] for a in ACTIVATIONS[:-1]])
def test_activation_inplace_noncontiguous_and_nan(torch, name, kwargs, ref):
    cls = getattr(torch.nn, name)
    xa = _away_from_kinks((6, 5), 1)
    xa[1, 2] = np.nan
    # Non-contiguous: a transposed view.
    x = _tensor(xa).t()
    want = ref(xa.T)
    np.testing.assert_allclose(cls(**kwargs)(x).numpy(), want, rtol=1e-12, atol=1e-12, equal_nan=True)
    # float32 keeps its dtype.
    x32 = torch.tensor(xa.astype(np.float32))
    y32 = cls(**kwargs)(x32)
    assert y32.dtype == torch.float32
    np.testing.assert_allclose(y32.numpy(), ref(xa.astype(np.float32)), rtol=1e-5, atol=1e-6, equal_nan=True)
    if "inplace" not in cls.__init__.__code__.co_varnames:
        return
    # inplace=True writes into the input and returns it; the gradient still flows.
    leaf = _tensor(_away_from_kinks((4, 3), 2), requires_grad=True)
    y = leaf * 1.0
    out = cls(inplace=True, **kwargs)(y)
    assert out is y
    np.testing.assert_allclose(out.detach().numpy(), ref(leaf.detach().numpy()), rtol=1e-12, atol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), _numeric_grad(cls(**kwargs), leaf), rtol=1e-5, atol=1e-6)
    # In place on a leaf that requires grad is an error, as in torch.
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        cls(inplace=True, **kwargs)(_tensor(np.ones(3), requires_grad=True))


def test_elu_large_inputs_have_finite_gradient(torch):
    x = _tensor(np.array([-1000.0, -1.0, 0.5, 1000.0]), requires_grad=True)
    torch.nn.ELU()(x).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_flatten_unflatten_and_sequential_forward(torch):
    seq = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.ReLU(), torch.nn.Unflatten(1, (3, 4)))
    x = torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2) - 10
    y = seq(x)
    assert tuple(y.shape) == (2, 3, 4)
    np.testing.assert_array_equal(y.numpy(), np.maximum(x.numpy().reshape(2, 3, 4), 0))
    assert tuple(torch.nn.Flatten(0, 2)(x).shape) == (12, 2)
    with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints"):
        torch.nn.Unflatten(1, 5)
    with pytest.raises(TypeError, match="found element of type float at pos 1"):
        torch.nn.Unflatten(1, (2, 2.0))


def test_parameter_basics(torch):
    nn = torch.nn
    base = torch.zeros(2, 3)
    p = nn.Parameter(base)
    assert isinstance(p, torch.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert p.data_ptr() == base.data_ptr()  # an alias, like torch
    assert (
        repr(p) == "Parameter containing:\ntensor([[0., 0., 0.],\n        [0., 0., 0.]], requires_grad=True)"
    )
    assert repr(nn.Parameter()) == "Parameter containing:\ntensor([], requires_grad=True)"
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad and q.data_ptr() != p.data_ptr()
    # A Parameter made from a non-leaf is a fresh leaf.
    r = nn.Parameter(torch.ones(2, requires_grad=True) * 2)
    assert r.is_leaf and r.grad_fn is None and r.requires_grad
    b = nn.Buffer(torch.ones(2), persistent=False)
    assert type(b) is torch.Tensor and isinstance(b, nn.Buffer) and b.persistent is False
    assert not isinstance(torch.ones(2), nn.Buffer) and not isinstance(p, nn.Buffer)


def _small_net(torch):
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.arange(6, dtype=torch.float32).reshape(2, 3))
            self.register_buffer("count", torch.zeros((), dtype=torch.int64))
            self.act = nn.Tanh()

        def forward(self, x):
            return self.act(x.matmul(self.w.t()))

    return Net()


def test_load_state_dict_copies_into_existing_parameters(torch):
    m = _small_net(torch)
    w = m.w
    held = list(m.parameters())  # what an optimizer keeps
    sd = m.state_dict()
    assert list(sd) == ["w", "count"]
    assert not sd["w"].requires_grad and sd["w"].data_ptr() == w.data_ptr()  # detached alias
    new = OrderedDict(w=torch.ones(2, 3), count=torch.tensor(5))
    res = m.load_state_dict(new)
    assert repr(res) == "<All keys matched successfully>"
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert m.w is w and held[0] is w and w.requires_grad
    np.testing.assert_array_equal(held[0].detach().numpy(), np.ones((2, 3)))
    assert m.count.item() == 5 and m.count.dtype == torch.int64
    m(torch.ones(4, 3)).sum().backward()
    assert w.grad is not None and tuple(w.grad.shape) == (2, 3)


def test_module_without_init_and_attribute_errors(torch):
    nn = torch.nn

    class Bad(nn.Module):
        def __init__(self):
            self.lin = nn.ReLU()

    with pytest.raises(AttributeError, match=r"cannot assign module before Module.__init__\(\) call"):
        Bad()

    class BadP(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(torch.zeros(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before Module.__init__\(\) call"):
        BadP()
    m = _small_net(torch)
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nope'"):
        _ = m.nope
    with pytest.raises(
        NotImplementedError, match='Module \\[ModuleList\\] is missing the required "forward" function'
    ):
        nn.ModuleList()(1)


def test_dir_lists_registered_names(torch):
    m = _small_net(torch)
    d = dir(m)
    assert d == sorted(d)
    for name in ("w", "count", "act", "forward", "state_dict", "training"):
        assert name in d
    s = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Tanh())
    assert "0" not in dir(s) and "1" not in dir(s)


def test_removable_handle_context_manager(torch):
    m = _small_net(torch)
    calls = []
    with m.register_forward_hook(lambda mod, args, out: calls.append(1)):
        m(torch.ones(1, 3))
    m(torch.ones(1, 3))
    assert calls == [1] and len(m._forward_hooks) == 0


def test_forward_hook_always_call_runs_when_forward_raises(torch):
    nn = torch.nn

    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m = Boom()
    seen = []
    m.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError, match="boom"):
        m(1)
    assert seen == [None]


def test_to_keeps_parameter_identity_and_grads(torch):
    m = _small_net(torch)
    w = m.w
    m(torch.ones(1, 3)).sum().backward()
    m.double()
    assert m.w is w and type(m.w).__name__ == "Parameter"
    assert w.dtype == torch.float64 and w.grad.dtype == torch.float64 and w.requires_grad
    assert m.count.dtype == torch.int64  # integer buffers are left alone
    assert m.to(torch.float32) is m and w.dtype == torch.float32
    assert m.cpu() is m and m.type(torch.float64) is m and w.dtype == torch.float64
    with pytest.raises(RuntimeError, match="Torch not compiled with CUDA enabled"):
        m.cuda()
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point"):
        m.to(torch.int32)


def test_sequential_indexing_edge_cases(torch):
    nn = torch.nn
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    s = nn.Sequential(a, b, c)
    assert s[0] is a and s[-1] is c and s[-3] is a
    with pytest.raises(IndexError, match="index -4 is out of range"):
        s[-4]
    assert list(s[::-1]) == [c, b, a] and type(s[1:]) is nn.Sequential
    assert list(iter(s)) == [a, b, c] and len(s + s) == 6
    s[1] = nn.ELU()
    assert type(s[1]).__name__ == "ELU"
    del s[0:2]
    assert list(s._modules) == ["0"] and s[0] is c
    ml = nn.ModuleList([a, b])
    ml += nn.ModuleList([c])
    assert list(ml) == [a, b, c] and ml[-1] is c and type(ml[:2]) is nn.ModuleList
    assert (ml + [a])[3] is a and ml.pop(0) is a and list(ml._modules) == ["0", "1"]


def test_import_is_light():
    code = "import sys, ferrotorch; import ferrotorch.nn; print('torch' in sys.modules, 'inspect' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == "False"


def test_register_module_and_backward_hook_stub(torch):
    nn = torch.nn
    m = nn.Module()
    relu = nn.ReLU()
    m.register_module("r", relu)
    assert m.r is relu and m.get_submodule("r") is relu and list(m.children()) == [relu]
    with pytest.raises(KeyError, match="module name can"):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(NotImplementedError, match="register_hook"):
        m.register_full_backward_hook(lambda *a: None)


if __name__ == "__main__":
    # Regenerates EXPECTED with real torch (run with /opt/torchenv/bin/python).
    import torch as _torch

    print("{")
    for _name, _fn in SCENARIOS.items():
        print(f"    {_name!r}: [")
        for _line in _fn(_torch):
            print(f"        {_line!r},")
        print("    ],")
    print("}")
