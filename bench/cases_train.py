"""The three tutorials' training loops, eagerly in both libraries, and through `ferrotorch.fit` (issue 7)
against PyTorch's eager loop on the same data.

Each eager loop is written once and run by both libraries; data and models are built outside the timing.
"""

from __future__ import annotations

import warnings

import numpy as np
from harness import Case
from models import convnet, linear_regression, mlp

MLP_EPOCHS = 100
LINREG_EPOCHS = 200
CONVNET_BATCH = 64
FIT_CONVNET_IMAGES = 1280


def _is_ferrotorch(lib):
    return lib.__name__ == "ferrotorch"


def _checked_fit(run):
    """Call `run` (a ferrotorch.fit call) once, untimed; if fit warns that it fell back to the eager loop,
    the row says so, since it then measures the eager loop."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
    reasons = sorted({str(w.message).splitlines()[0] for w in caught})
    return run, ("ferrotorch.fit warned: " + " | ".join(reasons)) if reasons else ""


# --- tabular MLP: 13 -> 64 -> 32 -> 3, 142 rows, full batch, Adam(lr=0.01) -------------------------


def _mlp_setup(lib):
    rng = np.random.default_rng(0)
    X = lib.tensor(rng.standard_normal((142, 13)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 3, 142))
    lib.manual_seed(0)
    model = mlp(lib)
    return model, X, y, lib.nn.CrossEntropyLoss(), lib.optim.Adam(model.parameters(), lr=0.01)


def _mlp_eager(model, X, y, criterion, optimizer):
    def train():
        losses = []
        for _ in range(MLP_EPOCHS):
            optimizer.zero_grad()
            loss = criterion(model(X), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    return train


def make_mlp_eager(lib):
    return _mlp_eager(*_mlp_setup(lib))


def make_mlp_fit(lib):
    model, X, y, criterion, optimizer = _mlp_setup(lib)
    if not _is_ferrotorch(lib):
        return _mlp_eager(model, X, y, criterion, optimizer)
    return _checked_fit(
        lambda: lib.fit(
            model, (X, y), criterion, optimizer, epochs=MLP_EPOCHS, batch_size=None, progress=False
        )
    )


# --- linear regression from scratch: weights * x + bias, L1Loss, SGD(lr=0.01), 40 points -------------


def _linreg_setup(lib):
    X = lib.arange(0, 1, 0.02).unsqueeze(dim=1)[:40]
    y = 0.7 * X + 0.3
    lib.manual_seed(42)
    model = linear_regression(lib)
    return model, X, y, lib.nn.L1Loss(), lib.optim.SGD(model.parameters(), lr=0.01)


def _linreg_eager(model, X, y, loss_fn, optimizer):
    def train():
        for _ in range(LINREG_EPOCHS):
            model.train()
            y_pred = model(X)
            loss = loss_fn(y_pred, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return train


def make_linreg_eager(lib):
    return _linreg_eager(*_linreg_setup(lib))


def make_linreg_fit(lib):
    model, X, y, loss_fn, optimizer = _linreg_setup(lib)
    if not _is_ferrotorch(lib):
        return _linreg_eager(model, X, y, loss_fn, optimizer)
    return _checked_fit(
        lambda: lib.fit(model, (X, y), loss_fn, optimizer, epochs=LINREG_EPOCHS, progress=False)
    )


# --- CIFAR ConvNet (the demo's Net), batch 64, Adam(lr=1e-3), random CIFAR-shaped data -----------------


def _convnet_setup(lib, images):
    rng = np.random.default_rng(0)
    X = lib.tensor(rng.standard_normal((images, 3, 32, 32)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, images))
    lib.manual_seed(0)
    model = convnet(lib)
    return model, X, y, lib.nn.CrossEntropyLoss(), lib.optim.Adam(model.parameters(), lr=1e-3)


def _convnet_steps(model, batches, criterion, optimizer):
    """The demo's train() without its accuracy bookkeeping: model.train(), then per batch zero_grad,
    forward, loss, backward, step, loss.item()."""
    model.train()
    for inputs, labels in batches:
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        loss.item()


def make_convnet_eager(lib):
    """One training step per call, cycling over 4 pre-made batches."""
    model, X, y, criterion, optimizer = _convnet_setup(lib, 4 * CONVNET_BATCH)
    batches = [(X[i : i + CONVNET_BATCH], y[i : i + CONVNET_BATCH]) for i in range(0, len(X), CONVNET_BATCH)]
    state = {"i": 0}

    def step():
        _convnet_steps(model, [batches[state["i"] % len(batches)]], criterion, optimizer)
        state["i"] += 1

    return step


def make_convnet_fit(lib):
    model, X, y, criterion, optimizer = _convnet_setup(lib, FIT_CONVNET_IMAGES)
    if _is_ferrotorch(lib):
        return _checked_fit(
            lambda: lib.fit(
                model, (X, y), criterion, optimizer, batch_size=CONVNET_BATCH, epochs=1, progress=False
            )
        )

    def epoch():  # the same batches, in order, sliced inside the loop as a DataLoader-free eager loop would
        _convnet_steps(
            model,
            ((X[i : i + CONVNET_BATCH], y[i : i + CONVNET_BATCH]) for i in range(0, len(X), CONVNET_BATCH)),
            criterion,
            optimizer,
        )

    return epoch


def _needs_fit(ctx):
    return None if hasattr(ctx.libs["ferrotorch"], "fit") else "ferrotorch.fit is not available yet"


CASES = [
    Case("mlp_eager", f"tabular MLP eager loop, {MLP_EPOCHS} epochs", 0.4, make_mlp_eager, number=1),
    Case(
        "linreg_eager",
        f"linear regression eager loop, {LINREG_EPOCHS} epochs",
        0.15,
        make_linreg_eager,
        number=2,
        quick_number=1,
    ),
    Case(
        "convnet_eager",
        "CIFAR ConvNet eager training step, batch 64",
        1.0,
        make_convnet_eager,
        number=3,
        quick_number=1,
        warmup=4,
        work=CONVNET_BATCH,
        rate_unit="images/s",
    ),
    Case(
        "mlp_fit",
        f"tabular MLP ferrotorch.fit vs eager, {MLP_EPOCHS} epochs",
        0.2,
        make_mlp_fit,
        number=1,
        requires=_needs_fit,
    ),
    Case(
        "linreg_fit",
        f"linear regression ferrotorch.fit vs eager, {LINREG_EPOCHS} epochs",
        0.02,
        make_linreg_fit,
        number=2,
        quick_number=1,
        requires=_needs_fit,
    ),
    Case(
        "convnet_fit",
        f"CIFAR ConvNet ferrotorch.fit vs eager, {FIT_CONVNET_IMAGES} images",
        0.8,
        make_convnet_fit,
        number=1,
        work=FIT_CONVNET_IMAGES,
        rate_unit="images/s",
        requires=_needs_fit,
    ),
]
