"""Golden values for nn.RNN / nn.LSTM / nn.GRU and their cells, from real PyTorch.

The cases are written once against a ``torch``-like module: this script runs them with real torch
and writes ``rnn_golden.json``; ``tests/test_rnn.py`` imports the same cases and runs them with
ferrotorch. Each forward case: ``manual_seed`` then construct the module (parameters from the default
initialisation), inputs from NumPy, forward, then backward of a weighted sum of every output;
recorded are the parameters, outputs and the gradients of all parameters, the input and h0/c0.
Run: /opt/torchenv/bin/python tests/golden/make_rnn_golden.py
"""

from __future__ import annotations

import json
import os

import numpy as np

# name: (class, args, kwargs, input shape, dtype, hidden given, training)
FORWARD = {
    "rnn_tanh": ("RNN", (4, 3), {}, (5, 2, 4), "float32", False, False),
    "rnn_relu_h0": ("RNN", (4, 3, 1, "relu"), {}, (5, 2, 4), "float32", True, False),
    "rnn_2l_bidir": (
        "RNN",
        (4, 3),
        {"num_layers": 2, "bidirectional": True},
        (6, 3, 4),
        "float32",
        True,
        False,
    ),
    "rnn_batch_first_nobias": (
        "RNN",
        (4, 5),
        {"batch_first": True, "bias": False},
        (3, 4, 4),
        "float32",
        False,
        False,
    ),
    "rnn_unbatched": ("RNN", (4, 3), {"num_layers": 2}, (5, 4), "float32", True, False),
    "rnn_f64_bidir": (
        "RNN",
        (3, 4, 2),
        {"nonlinearity": "relu", "bidirectional": True},
        (4, 2, 3),
        "float64",
        True,
        False,
    ),
    "lstm": ("LSTM", (4, 3), {}, (5, 2, 4), "float32", False, False),
    "lstm_h0": ("LSTM", (4, 3), {}, (5, 2, 4), "float32", True, False),
    "lstm_2l_bidir_bf": (
        "LSTM",
        (4, 3),
        {"num_layers": 2, "bidirectional": True, "batch_first": True},
        (2, 6, 4),
        "float32",
        True,
        False,
    ),
    "lstm_nobias": ("LSTM", (4, 6), {"bias": False}, (4, 3, 4), "float32", False, False),
    "lstm_unbatched": ("LSTM", (4, 3), {"bidirectional": True}, (5, 4), "float32", True, False),
    "lstm_unbatched_bf": ("LSTM", (4, 3), {"batch_first": True}, (5, 4), "float32", False, False),
    "lstm_f64_2l_bidir": ("LSTM", (3, 4, 2), {"bidirectional": True}, (5, 2, 3), "float64", True, False),
    "lstm_f64_bf": ("LSTM", (3, 2), {"batch_first": True}, (2, 4, 3), "float64", False, False),
    "gru": ("GRU", (4, 3), {}, (5, 2, 4), "float32", False, False),
    "gru_2l_bidir_h0": (
        "GRU",
        (4, 3),
        {"num_layers": 2, "bidirectional": True},
        (6, 3, 4),
        "float32",
        True,
        False,
    ),
    "gru_bf_nobias": ("GRU", (4, 5), {"batch_first": True, "bias": False}, (2, 3, 4), "float32", True, False),
    "gru_unbatched": ("GRU", (4, 3), {}, (5, 4), "float32", True, False),
    "gru_f64_2l_bidir": (
        "GRU",
        (3, 4, 2),
        {"bidirectional": True, "batch_first": True},
        (2, 5, 3),
        "float64",
        True,
        False,
    ),
    # dropout between layers in training mode: the masks come from the generator after the init draws
    "rnn_dropout_train": (
        "RNN",
        (4, 3),
        {"num_layers": 3, "dropout": 0.5},
        (5, 2, 4),
        "float32",
        False,
        True,
    ),
    "gru_dropout_train": (
        "GRU",
        (4, 3),
        {"num_layers": 2, "dropout": 0.3, "bidirectional": True},
        (5, 2, 4),
        "float32",
        False,
        True,
    ),
    "lstm_dropout_train": (
        "LSTM",
        (4, 3),
        {"num_layers": 2, "dropout": 0.4},
        (5, 2, 4),
        "float32",
        False,
        True,
    ),
    "lstm_dropout_train_f64": (
        "LSTM",
        (4, 3),
        {"num_layers": 2, "dropout": 0.4},
        (5, 2, 4),
        "float64",
        False,
        True,
    ),
    "gru_dropout_eval": (
        "GRU",
        (4, 3),
        {"num_layers": 2, "dropout": 0.5},
        (5, 2, 4),
        "float32",
        False,
        False,
    ),
    # cells: input (N, I) or (I,)
    "rnncell": ("RNNCell", (4, 3), {}, (2, 4), "float32", True, False),
    "rnncell_relu_nobias": (
        "RNNCell",
        (4, 3),
        {"bias": False, "nonlinearity": "relu"},
        (3, 4),
        "float32",
        True,
        False,
    ),
    "rnncell_unbatched": ("RNNCell", (4, 3), {}, (4,), "float32", False, False),
    "lstmcell": ("LSTMCell", (4, 3), {}, (2, 4), "float32", True, False),
    "lstmcell_nohx": ("LSTMCell", (4, 3), {}, (2, 4), "float32", False, False),
    "lstmcell_unbatched_nobias": ("LSTMCell", (4, 3), {"bias": False}, (4,), "float32", True, False),
    "grucell": ("GRUCell", (4, 3), {}, (2, 4), "float32", True, False),
    "grucell_unbatched": ("GRUCell", (4, 3), {}, (4,), "float32", True, False),
    "grucell_f64": ("GRUCell", (3, 5), {}, (4, 3), "float64", True, False),
}

CELLS = ("RNNCell", "LSTMCell", "GRUCell")


def _rand(seed, shape, lo=-1.5, hi=1.5):
    return np.random.RandomState(seed).uniform(lo, hi, size=shape)


def hidden_shapes(cls, args, kwargs, shape):
    """Shapes of h0 (and c0) for the given input shape."""
    hidden = args[1]
    if cls in CELLS:
        return [shape[:-1] + (hidden,)] * (2 if cls == "LSTMCell" else 1)
    num_layers = args[2] if len(args) > 2 else kwargs.get("num_layers", 1)
    dirs = 2 if kwargs.get("bidirectional", False) else 1
    if len(shape) == 2:
        hs = (num_layers * dirs, hidden)
    else:
        batch = shape[0] if kwargs.get("batch_first", False) else shape[1]
        hs = (num_layers * dirs, batch, hidden)
    return [hs] * (2 if cls == "LSTM" else 1)


def run_forward(torch, name):
    """Construct after manual_seed, forward, backward of a weighted sum; everything as lists."""
    cls, args, kwargs, shape, dtype, with_h0, training = FORWARD[name]
    seed = sorted(FORWARD).index(name)
    dt = getattr(torch, dtype)
    torch.manual_seed(seed)
    m = getattr(torch.nn, cls)(*args, **kwargs)
    if dtype == "float64":
        m = m.double()
    m.train(training)
    x = torch.tensor(_rand(seed, shape), dtype=dt, requires_grad=True)
    hid = None
    hs = []
    if with_h0:
        hs = [
            torch.tensor(_rand(seed + 50 + k, s), dtype=dt, requires_grad=True)
            for k, s in enumerate(hidden_shapes(cls, args, kwargs, shape))
        ]
        hid = tuple(hs) if len(hs) == 2 else hs[0]
    res = m(x, hid)
    if cls in CELLS:
        outs = list(res) if isinstance(res, tuple) else [res]
    else:
        out, h = res
        outs = [out] + (list(h) if isinstance(h, tuple) else [h])
    loss = 0
    for k, o in enumerate(outs):
        w = torch.tensor(_rand(seed + 100 + k, tuple(o.shape), 0.5, 1.5), dtype=dt)
        loss = loss + (o * w).sum()
    loss.backward()
    named = list(m.named_parameters())
    return {
        "param_names": [n for n, _ in named],
        "params": [p.detach().numpy().tolist() for _, p in named],
        "outs": [o.detach().numpy().tolist() for o in outs],
        "out_shapes": [list(o.shape) for o in outs],
        "param_grads": [p.grad.numpy().tolist() for _, p in named],
        "input_grad": x.grad.numpy().tolist(),
        "hidden_grads": [h.grad.numpy().tolist() for h in hs],
    }


# printed forms and state_dict keys, evaluated with `nn` bound to torch.nn / ferrotorch.nn
REPR_EXPRS = [
    "nn.RNN(10, 20)",
    "nn.RNN(10, 20, 2)",
    "nn.RNN(10, 20, 2, 'relu', False, True, 0.5, True)",
    "nn.RNN(10, 20, nonlinearity='relu')",
    "nn.LSTM(10, 20, num_layers=2, batch_first=True)",
    "nn.LSTM(10, 20, bias=False, bidirectional=True)",
    "nn.LSTM(3, 4, 3, True, False, 0.25)",
    "nn.GRU(5, 6, num_layers=2, dropout=0.1, bidirectional=True)",
    "nn.GRU(5, 6, dropout=1)",
    "nn.GRU(5, 6, batch_first=True)",
    "nn.RNNCell(4, 3)",
    "nn.RNNCell(4, 3, bias=False, nonlinearity='relu')",
    "nn.RNNCell(4, 3, nonlinearity='tanh')",
    "nn.LSTMCell(4, 3)",
    "nn.LSTMCell(4, 3, bias=False)",
    "nn.GRUCell(4, 3)",
    "nn.Sequential(nn.Embedding(10, 4), nn.LSTM(4, 8, batch_first=True))",
]

# statements that raise; recorded: exception class name and message
ERROR_EXPRS = [
    "nn.RNN(4, 3)(torch.zeros(5, 2, 6))",
    "nn.RNN(4, 3)(torch.zeros(5))",
    "nn.RNN(4, 3)(torch.zeros(1, 5, 2, 4))",
    "nn.RNN(4, 3)(torch.zeros(5, 2, 4), torch.zeros(1, 3, 3))",
    "nn.RNN(4, 3)(torch.zeros(5, 2, 4), torch.zeros(2, 3))",
    "nn.RNN(4, 3)(torch.zeros(5, 4), torch.zeros(1, 1, 3))",
    "nn.RNN(4, 3, num_layers=2)(torch.zeros(5, 2, 4), torch.zeros(1, 2, 3))",
    "nn.RNN(4, 3)(torch.zeros(5, 2, 4, dtype=torch.float64))",
    "nn.GRU(4, 3)(torch.zeros(5))",
    "nn.GRU(4, 3, bidirectional=True)(torch.zeros(5, 2, 4), torch.zeros(1, 2, 3))",
    "nn.GRU(4, 3, batch_first=True)(torch.zeros(2, 5, 4), torch.zeros(1, 5, 3))",
    "nn.GRU(4, 3)(torch.zeros(5, 4), torch.zeros(1, 1, 3))",
    "nn.LSTM(4, 3)(torch.zeros(5))",
    "nn.LSTM(4, 3)(torch.zeros(5, 2, 3))",
    "nn.LSTM(4, 3)(torch.zeros(5, 2, 4), (torch.zeros(1, 3, 3), torch.zeros(1, 2, 3)))",
    "nn.LSTM(4, 3)(torch.zeros(5, 2, 4), (torch.zeros(1, 2, 3), torch.zeros(2, 2, 3)))",
    "nn.LSTM(4, 3)(torch.zeros(5, 2, 4), (torch.zeros(2, 3), torch.zeros(1, 2, 3)))",
    "nn.LSTM(4, 3)(torch.zeros(5, 4), (torch.zeros(1, 3), torch.zeros(1, 1, 3)))",
    "nn.LSTM(4, 3)(torch.zeros(5, 2, 4, dtype=torch.float64))",
    "nn.RNN(4, 3, nonlinearity='sigmoid')",
    "nn.RNN(4, 3, dropout=1.5)",
    "nn.LSTM(4, 3, dropout=True)",
    "nn.GRU(4, 3, proj_size=1)",
    "nn.RNN(4, 3, proj_size=1)",
    "nn.LSTM(0, 3)",
    "nn.LSTM(4, 0)",
    "nn.LSTM(4, 3, num_layers=0)",
    "nn.GRU(4.0, 3)",
    "nn.GRU(4, 3.0)",
    "nn.RNN(4, 3, bias=1)",
    "nn.RNN(4, 3, batch_first=None)",
    "nn.LSTM(4, 3, proj_size=-1)",
    "nn.LSTM(4, 3, proj_size=3)",
    "nn.RNNCell(4, 3)(torch.zeros(2, 5))",
    "nn.RNNCell(4, 3)(torch.zeros(2, 4), torch.zeros(3, 3))",
    "nn.RNNCell(4, 3)(torch.zeros(2, 4), torch.zeros(2, 4))",
    "nn.RNNCell(4, 3)(torch.zeros(2, 2, 4))",
    "nn.RNNCell(4, 3)(torch.zeros(2, 4), torch.zeros(1, 2, 3))",
    "nn.RNNCell(4, 3, nonlinearity='gelu')(torch.zeros(2, 4))",
    "nn.GRUCell(4, 3)(torch.zeros(3))",
    "nn.GRUCell(4, 3)(torch.zeros(2, 4), torch.zeros(2, 5))",
    "nn.GRUCell(4, 3)(torch.zeros(4), torch.zeros(3, 3, 3))",
    "nn.LSTMCell(4, 3)(torch.zeros(2, 4), (torch.zeros(2, 3), torch.zeros(3, 3)))",
    "nn.LSTMCell(4, 3)(torch.zeros(2, 4), (torch.zeros(2, 3), torch.zeros(2, 4)))",
    "nn.LSTMCell(4, 3)(torch.zeros(2, 4), (torch.zeros(1, 2, 3), torch.zeros(2, 3)))",
    "nn.LSTMCell(4, 3)(torch.zeros(2, 4), (torch.zeros(2, 3), torch.zeros(1, 2, 3)))",
    "nn.LSTMCell(4, 3)(torch.zeros(2, 2, 4))",
]


def run_error(torch, expr):
    try:
        eval(expr, {"nn": torch.nn, "torch": torch})
    except Exception as e:  # noqa: BLE001 - the class and text are what is recorded
        return [type(e).__name__, str(e)]
    return None


def main():
    import warnings

    import torch

    torch.set_default_dtype(torch.float32)
    out = {"forward": {name: run_forward(torch, name) for name in FORWARD}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["reprs"] = [repr(eval(e, {"nn": torch.nn, "torch": torch})) for e in REPR_EXPRS]
        out["state_keys"] = [
            list(eval(e, {"nn": torch.nn, "torch": torch}).state_dict().keys()) for e in REPR_EXPRS
        ]
        out["errors"] = [run_error(torch, e) for e in ERROR_EXPRS]
    assert all(e is not None for e in out["errors"]), "every error expression must raise"
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rnn_golden.json")
    with open(path, "w") as fh:
        json.dump(out, fh)
    print(
        f"wrote {len(out['forward'])} forward cases, {len(REPR_EXPRS)} reprs, {len(ERROR_EXPRS)} errors to {path}"
    )


if __name__ == "__main__":
    main()
