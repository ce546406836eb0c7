"""Hypothesis property tests: broadcasting, views and in-place writes agree with NumPy."""

import ferrotorch as torch
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

SETTINGS = settings(max_examples=60, deadline=None)
floats = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@SETTINGS
@given(
    hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
    st.data(),
    st.sampled_from(["add", "sub", "mul", "maximum", "minimum", "gt", "eq"]),
)
def test_broadcasting_binary_ops(shapes, data, op):
    (sa, sb), expected_shape = shapes.input_shapes, shapes.result_shape
    a = data.draw(hnp.arrays(np.float32, sa, elements=floats))
    b = data.draw(hnp.arrays(np.float32, sb, elements=floats))
    got = getattr(torch, op)(torch.from_numpy(a), torch.from_numpy(b))
    ref = {
        "add": np.add,
        "sub": np.subtract,
        "mul": np.multiply,
        "maximum": np.maximum,
        "minimum": np.minimum,
        "gt": np.greater,
        "eq": np.equal,
    }[op](a, b)
    assert tuple(got.shape) == expected_shape
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-6)


@st.composite
def view_chain(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    ops = draw(
        st.lists(
            st.sampled_from(
                ["t", "permute", "unsqueeze", "squeeze", "flatten", "reshape", "narrow", "expand"]
            ),
            max_size=5,
        )
    )
    return shape, ops, draw(st.randoms(use_true_random=False))


@SETTINGS
@given(view_chain())
def test_view_chains_match_numpy_and_share_memory(case):
    shape, ops, rnd = case
    base = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    t = torch.from_numpy(base.copy())
    root = t
    a = base.copy()
    for op in ops:
        nd = a.ndim
        if op == "t" and nd == 2:
            t, a = t.t(), a.T
        elif op == "permute" and nd >= 1:
            perm = list(range(nd))
            rnd.shuffle(perm)
            t, a = t.permute(*perm), a.transpose(perm)
        elif op == "unsqueeze":
            d = rnd.randint(-nd - 1, nd)
            t, a = t.unsqueeze(d), np.expand_dims(a, d if d >= 0 else d + nd + 1)
        elif op == "squeeze":
            t, a = t.squeeze(), a.squeeze()
        elif op == "flatten":
            t, a = t.flatten(), a.reshape(-1)
        elif op == "reshape":
            t, a = t.reshape(-1, 1), a.reshape(-1, 1)
        elif op == "narrow" and nd >= 1 and a.shape[0] > 1:
            t, a = t.narrow(0, 1, a.shape[0] - 1), a[1:]
        elif op == "expand" and nd >= 1 and a.shape[-1] == 1:
            t, a = t.expand(*a.shape[:-1], 3), np.broadcast_to(a, a.shape[:-1] + (3,))
        assert tuple(t.shape) == a.shape
        np.testing.assert_array_equal(np.asarray(t), a)
    # writes through a (non-expanded) view reach the root; reshapes that had to copy do not
    if 0 not in t.stride() and t.numel() > 0:
        shares = np.shares_memory(np.asarray(t), root.numpy())
        t.add_(1000)
        assert (root.numpy().max() >= 1000) == shares


@SETTINGS
@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=st.floats(-10, 10)),
    st.sampled_from(["exp", "tanh", "abs", "sigmoid", "square"]),
)
def test_unary_on_transposed_views(a, op):
    t = torch.from_numpy(a).permute(*reversed(range(a.ndim)))
    ref = {
        "exp": np.exp,
        "tanh": np.tanh,
        "abs": np.abs,
        "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
        "square": np.square,
    }[op](a.transpose())
    np.testing.assert_allclose(getattr(t, op)().numpy(), ref, rtol=1e-12)
