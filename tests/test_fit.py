"""ferrotorch.fit against the eager loop it replaces: same losses, same parameters, same RNG use."""

import contextlib
import math
import warnings

import ferrotorch as torch
import ferrotorch.nn as nn
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch import _C
from ferrotorch.utils.data import DataLoader, TensorDataset


def close(a, b, rel=1e-5):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert math.isclose(u, v, rel_tol=rel, abs_tol=1e-7), (a, b)


def same_params(m1, m2):
    for (n1, p1), (n2, p2) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert n1 == n2
        np.testing.assert_allclose(p1.numpy(), p2.numpy(), rtol=1e-5, atol=1e-6, err_msg=n1)


@contextlib.contextmanager
def replayed():
    """Turns fit's fallback warning into an error: these tests must run the replayed loop."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="ferrotorch.fit")
        yield


def mlp(dropout=0.0):
    layers = [nn.Linear(13, 64), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 3)]
    return nn.Sequential(*layers)


def eager_epochs(model, loss_fn, opt, batches, epochs, scheduler=None):
    """The tutorials' loop; `batches()` yields one epoch's (x, y) pairs. Returns per-epoch mean losses."""
    out = []
    for _ in range(epochs):
        total, n = 0.0, 0
        for x, y in batches():
            model.train()
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            n += len(y)
        out.append(total / n)
        if scheduler is not None:
            scheduler.step()
    return out


@pytest.fixture
def wine_like():
    torch.manual_seed(7)
    return torch.randn(142, 13), torch.randint(0, 3, (142,))


def test_full_batch_mlp_with_dropout_matches_eager(wine_like):
    X, y = wine_like
    torch.manual_seed(0)
    m1 = mlp(0.2)
    opt1 = torch.optim.Adam(m1.parameters(), lr=0.01)
    ref = eager_epochs(m1, nn.CrossEntropyLoss(), opt1, lambda: [(X, y)], 30)
    after_eager = torch.rand(3)
    torch.manual_seed(0)
    m2 = mlp(0.2)
    opt2 = torch.optim.Adam(m2.parameters(), lr=0.01)
    with replayed():
        h = torch.fit(m2, (X, y), nn.CrossEntropyLoss(), opt2, epochs=30, progress=False, metrics="accuracy")
    close(h["loss"], ref)
    assert h["batch_loss"] == h["loss"]
    same_params(m1, m2)
    # the generator advanced exactly as in the eager loop (dropout masks)
    assert torch.equal(torch.rand(3), after_eager)
    assert len(h["accuracy"]) == 30 and 0 <= h["accuracy"][-1] <= 1
    assert len(h["epoch_seconds"]) == 30
    # the optimizer's own state advanced with the replayed steps
    assert int(opt2.state[m2[0].weight]["step"]) == 30


def test_shuffled_minibatches_with_partial_last_batch(wine_like):
    X, y = wine_like
    torch.manual_seed(1)
    m1 = mlp()
    opt1 = torch.optim.SGD(m1.parameters(), lr=0.05, momentum=0.9)
    g1 = torch.Generator().manual_seed(3)
    loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, generator=g1)
    ref = eager_epochs(m1, nn.CrossEntropyLoss(), opt1, lambda: loader, 4)
    torch.manual_seed(1)
    m2 = mlp()
    opt2 = torch.optim.SGD(m2.parameters(), lr=0.05, momentum=0.9)
    g2 = torch.Generator().manual_seed(3)
    with replayed():
        h = torch.fit(
            m2,
            (X, y),
            nn.CrossEntropyLoss(),
            opt2,
            epochs=4,
            batch_size=32,
            shuffle=True,
            generator=g2,
            progress=False,
        )
    close(h["loss"], ref)
    assert len(h["batch_loss"]) == 4 * 5  # 142 rows: four batches of 32 and one of 14
    same_params(m1, m2)


def test_dataloader_over_subset_matches_eager(wine_like):
    X, y = wine_like
    from ferrotorch.utils.data import Subset

    ds = Subset(TensorDataset(X, y), list(range(100, 10, -1)))
    torch.manual_seed(2)
    m1 = mlp()
    opt1 = torch.optim.RMSprop(m1.parameters(), lr=0.01, momentum=0.5, centered=True)
    ref = eager_epochs(
        m1, nn.CrossEntropyLoss(), opt1, lambda: DataLoader(ds, batch_size=16, shuffle=True), 3
    )
    torch.manual_seed(2)
    m2 = mlp()
    opt2 = torch.optim.RMSprop(m2.parameters(), lr=0.01, momentum=0.5, centered=True)
    with replayed():
        h = torch.fit(
            m2,
            DataLoader(ds, batch_size=16, shuffle=True),
            nn.CrossEntropyLoss(),
            opt2,
            epochs=3,
            progress=False,
        )
    close(h["loss"], ref)
    same_params(m1, m2)


class SmallConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2, 2)
        self.gap = nn.AvgPool2d(4)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = F.relu(self.bn2(self.conv2(x)), inplace=True)
        x = torch.flatten(self.gap(self.pool(x)), 1)
        return self.fc(self.drop(x))


def init_weights(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)


def test_convnet_with_batchnorm_dropout_validation_and_accuracy():
    torch.manual_seed(5)
    X, y = torch.randn(40, 3, 16, 16), torch.randint(0, 5, (40,))
    Xv, yv = torch.randn(12, 3, 16, 16), torch.randint(0, 5, (12,))
    torch.manual_seed(9)
    m1 = SmallConvNet()
    m1.apply(init_weights)
    opt1 = torch.optim.Adam(m1.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss()
    ref_loss, ref_val, ref_acc = [], [], []
    for _ in range(3):
        ref_loss += eager_epochs(m1, crit, opt1, lambda: DataLoader(TensorDataset(X, y), batch_size=16), 1)
        m1.eval()
        with torch.no_grad():
            total, correct = 0.0, 0
            for xb, yb in DataLoader(TensorDataset(Xv, yv), batch_size=16):
                out = m1(xb)
                total += crit(out, yb).item() * len(yb)
                correct += (torch.argmax(F.softmax(out, dim=1), dim=1) == yb).sum().item()
            ref_val.append(total / len(yv))
            ref_acc.append(correct / len(yv))
    torch.manual_seed(9)
    m2 = SmallConvNet()
    m2.apply(init_weights)
    opt2 = torch.optim.Adam(m2.parameters(), lr=1e-3)
    with replayed():
        h = torch.fit(
            m2,
            (X, y),
            crit,
            opt2,
            epochs=3,
            batch_size=16,
            val=(Xv, yv),
            metrics=["accuracy"],
            progress=False,
        )
    close(h["loss"], ref_loss)
    close(h["val_loss"], ref_val)
    assert h["val_accuracy"] == ref_acc
    same_params(m1, m2)  # includes BatchNorm's running statistics and num_batches_tracked
    assert int(m2.bn1.num_batches_tracked) == 9


class LinearRegressionModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(1, dtype=torch.float), requires_grad=True)
        self.bias = nn.Parameter(torch.randn(1, dtype=torch.float), requires_grad=True)

    def forward(self, x):
        return self.weights * x + self.bias


def test_linear_regression_from_scratch_and_history():
    X = torch.arange(0, 1, 0.02).unsqueeze(dim=1)
    y = 0.7 * X + 0.3
    torch.manual_seed(42)
    m1 = LinearRegressionModel()
    opt1 = torch.optim.SGD(m1.parameters(), lr=0.01)
    ref = eager_epochs(m1, nn.L1Loss(), opt1, lambda: [(X[:40], y[:40])], 200)
    torch.manual_seed(42)
    m2 = LinearRegressionModel()
    opt2 = torch.optim.SGD(m2.parameters(), lr=0.01)
    with replayed():
        h = torch.fit(m2, (X[:40], y[:40]), nn.L1Loss(), opt2, epochs=200, progress=False)
    close(h["loss"], ref)
    assert list(m2.state_dict()) == ["weights", "bias"]
    assert torch.equal(m1.weights, m2.weights) and torch.equal(m1.bias, m2.bias)
    assert isinstance(h, torch.History) and isinstance(h, dict)
    assert set(h) == {"loss", "batch_loss", "epoch_seconds"}
    assert all(type(v) is float for v in h["loss"])


def test_numpy_pair_and_python_metric(wine_like):
    X, y = wine_like
    Xn, yn = X.numpy(), y.numpy()

    def error_rate(output, target):
        return (output.argmax(1) != target).float().mean()

    torch.manual_seed(3)
    m = mlp()
    opt = torch.optim.Adagrad(m.parameters(), lr=0.05)
    with replayed():
        h = torch.fit(
            m,
            (Xn, yn),
            nn.CrossEntropyLoss(),
            opt,
            epochs=5,
            batch_size=64,
            metrics=["accuracy", error_rate],
            val=(Xn[:20], yn[:20]),
            progress=False,
        )
    for a, e in zip(h["accuracy"], h["error_rate"]):
        assert math.isclose(a + e, 1.0, rel_tol=1e-6)
    assert set(h) >= {"val_loss", "val_accuracy", "val_error_rate"}


def test_scheduler_steps_per_epoch(wine_like):
    X, y = wine_like
    torch.manual_seed(4)
    m1 = mlp()
    opt1 = torch.optim.AdamW(m1.parameters(), lr=0.02)
    s1 = torch.optim.lr_scheduler.StepLR(opt1, step_size=2, gamma=0.5)
    ref = eager_epochs(m1, nn.CrossEntropyLoss(), opt1, lambda: [(X, y)], 6, scheduler=s1)
    torch.manual_seed(4)
    m2 = mlp()
    opt2 = torch.optim.AdamW(m2.parameters(), lr=0.02)
    s2 = torch.optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    with replayed():
        h = torch.fit(m2, (X, y), nn.CrossEntropyLoss(), opt2, epochs=6, scheduler=s2, progress=False)
    close(h["loss"], ref)
    same_params(m1, m2)
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.02 * 0.5**3)


class MyOptimizer(torch.optim.SGD):
    """A user's optimizer with its own step(): fit must call it."""

    calls = 0

    def step(self, closure=None):
        MyOptimizer.calls += 1
        return super().step(closure)


def test_python_optimizer_step_is_called(wine_like):
    X, y = wine_like
    torch.manual_seed(6)
    m1 = mlp()
    ref = eager_epochs(
        m1, nn.CrossEntropyLoss(), torch.optim.SGD(m1.parameters(), lr=0.1), lambda: [(X, y)], 5
    )
    torch.manual_seed(6)
    m2 = mlp()
    MyOptimizer.calls = 0
    with replayed():
        h = torch.fit(
            m2, (X, y), nn.CrossEntropyLoss(), MyOptimizer(m2.parameters(), lr=0.1), epochs=5, progress=False
        )
    assert MyOptimizer.calls == 5
    close(h["loss"], ref)
    same_params(m1, m2)


class ReadsItem(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(13, 3)

    def forward(self, x):
        out = self.fc(x)
        if out.sum().item() > 1e9:  # a Python branch on tensor values
            out = out * 0
        return out


def test_unreplayable_forward_warns_and_matches_eager(wine_like):
    X, y = wine_like
    torch.manual_seed(8)
    m1 = ReadsItem()
    ref = eager_epochs(
        m1, nn.CrossEntropyLoss(), torch.optim.SGD(m1.parameters(), lr=0.1), lambda: [(X, y)], 4
    )
    torch.manual_seed(8)
    m2 = ReadsItem()
    with pytest.warns(RuntimeWarning, match=r"\.item\(\)"):
        h = torch.fit(
            m2,
            (X, y),
            nn.CrossEntropyLoss(),
            torch.optim.SGD(m2.parameters(), lr=0.1),
            epochs=4,
            progress=False,
        )
    close(h["loss"], ref)
    same_params(m1, m2)


def test_callback_stops_training_and_gets_logs(wine_like):
    X, y = wine_like
    seen = []

    class Stopper:
        def on_epoch_end(self, epoch, logs):
            seen.append((epoch, sorted(logs)))
            return epoch == 2

    m = mlp()
    h = torch.fit(
        m,
        (X, y),
        nn.CrossEntropyLoss(),
        torch.optim.SGD(m.parameters(), lr=0.1),
        epochs=10,
        metrics="accuracy",
        callbacks=[Stopper()],
        progress=False,
    )
    assert len(h["loss"]) == 3
    assert seen == [(e, ["accuracy", "loss"]) for e in range(3)]


def test_keyboard_interrupt_returns_history_so_far(wine_like):
    X, y = wine_like
    calls = []

    def interrupting(output, target):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return 0.0

    m = mlp()
    before = m[0].weight.detach().clone()
    with pytest.warns(RuntimeWarning, match="interrupted"):
        h = torch.fit(
            m,
            (X, y),
            nn.CrossEntropyLoss(),
            torch.optim.SGD(m.parameters(), lr=0.1),
            epochs=3,
            batch_size=50,
            metrics=[interrupting],
            progress=False,
        )
    assert len(h["loss"]) == 2  # epochs 1-2 finished, epoch 3 was interrupted
    assert not torch.equal(before, m[0].weight)


def test_errors_in_replay_are_the_eager_errors(wine_like):
    X, y = wine_like
    y = y.clone()
    y[100] = 7  # out of range, in the second batch
    m = mlp()
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        torch.fit(
            m,
            (X, y),
            nn.CrossEntropyLoss(),
            torch.optim.SGD(m.parameters(), lr=0.1),
            batch_size=64,
            progress=False,
        )


def test_bad_arguments():
    m = mlp()
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="different lengths"):
        torch.fit(m, (torch.randn(4, 13), torch.zeros(3, dtype=torch.int64)), nn.CrossEntropyLoss(), opt)
    with pytest.raises(ValueError, match="unknown metric"):
        torch.fit(
            m,
            (torch.randn(4, 13), torch.zeros(4, dtype=torch.int64)),
            nn.CrossEntropyLoss(),
            opt,
            metrics=["f1"],
        )
    with pytest.raises(TypeError, match="DataLoader, a Dataset or an"):
        torch.fit(m, 5, nn.CrossEntropyLoss(), opt)


def test_compile_returns_the_model():
    m = mlp()
    assert torch.compile(m) is m
    assert torch.compile(mode="reduce-overhead")(m) is m


def test_progress_bar_runs(wine_like, capsys):
    pytest.importorskip("tqdm")
    X, y = wine_like
    m = mlp()
    h = torch.fit(
        m,
        (X, y),
        nn.CrossEntropyLoss(),
        torch.optim.SGD(m.parameters(), lr=0.1),
        epochs=2,
        batch_size=32,
        progress=True,
    )
    assert len(h["loss"]) == 2


def test_history_plot(wine_like, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X, y = wine_like
    m = mlp()
    h = torch.fit(
        m, (X, y), nn.CrossEntropyLoss(), torch.optim.SGD(m.parameters(), lr=0.1), epochs=3, progress=False
    )
    h.plot(tmp_path / "loss.png")
    assert (tmp_path / "loss.png").stat().st_size > 0


# ----- the capture mechanism itself -----


def test_program_replays_forward_on_new_inputs():
    torch.manual_seed(0)
    m = SmallConvNet().eval()
    x1, x2 = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    y = torch.zeros(2, dtype=torch.int64)
    _C._capture_begin([x1, y])
    out = m(x1)
    prog, why = _C._capture_finish([out])
    assert why is None, why
    names = prog.op_names()
    assert "conv2d" in names and "batch_norm" in names and "max_pool2d" in names
    (again,) = prog.run([x2, y])
    assert torch.equal(again, m(x2))


def test_capture_refuses_untraced_in_place_writes():
    w = torch.randn(3)
    x = torch.randn(3)
    _C._capture_begin([x])
    a = x * w
    a.numpy()[0] = 5.0  # written behind the program's back, then a read of the values
    prog, why = _C._capture_finish([a + 1])
    assert prog is None and "numpy" in why


def test_capture_refuses_tensors_from_unrecorded_ops():
    x = torch.randn(3, 4)
    _C._capture_begin([x])
    idx = x.argsort(dim=1)  # sorting has no replay form yet
    prog, why = _C._capture_finish([x.gather(1, idx)])
    assert prog is None and "cannot replay" in why


def test_capture_is_exclusive_and_aborts_cleanly():
    x = torch.randn(2)
    _C._capture_begin([x])
    with pytest.raises(RuntimeError, match="already in progress"):
        _C._capture_begin([x])
    _C._capture_abort()
    _C._capture_begin([x])
    prog, why = _C._capture_finish([x * 2])
    assert why is None and prog.op_names() == ["binary"]


class Rows(torch.utils.data.Dataset):
    """A Python dataset (no Rust fast path): fit iterates its DataLoader and replays each batch."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def test_python_dataset_loader_matches_eager():
    torch.manual_seed(11)
    X, y = torch.randn(40, 3, 16, 16), torch.randint(0, 5, (40,))
    ds, val = Rows(X, y), Rows(X[:10], y[:10])
    torch.manual_seed(12)
    m1 = SmallConvNet()
    opt1 = torch.optim.SGD(m1.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    ref = []
    for _ in range(2):
        ref += eager_epochs(
            m1, nn.CrossEntropyLoss(), opt1, lambda: DataLoader(ds, batch_size=16, shuffle=True), 1
        )
        m1.eval()
        with torch.no_grad():  # iterating the validation loader draws its base seed, as in torch
            for xb, _ in DataLoader(val, batch_size=4):
                m1(xb)
    torch.manual_seed(12)
    m2 = SmallConvNet()
    opt2 = torch.optim.SGD(m2.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    with replayed():
        h = torch.fit(
            m2,
            DataLoader(ds, batch_size=16, shuffle=True),
            nn.CrossEntropyLoss(),
            opt2,
            epochs=2,
            val=DataLoader(val, batch_size=4),
            metrics="accuracy",
            progress=False,
        )
    close(h["loss"], ref)
    same_params(m1, m2)
    assert len(h["val_loss"]) == 2 and 0 <= h["val_accuracy"][-1] <= 1


class NoGradInside(nn.Module):
    """A forward with a no_grad() block: replay must keep that part out of the graph."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(13, 3)

    def forward(self, x):
        with torch.no_grad():
            scale = self.fc.weight.abs().mean() + 1.0
        return self.fc(x) / scale


def test_no_grad_block_inside_forward(wine_like):
    X, y = wine_like
    torch.manual_seed(13)
    m1 = NoGradInside()
    ref = eager_epochs(
        m1, nn.CrossEntropyLoss(), torch.optim.SGD(m1.parameters(), lr=0.5), lambda: [(X, y)], 6
    )
    torch.manual_seed(13)
    m2 = NoGradInside()
    with replayed():
        h = torch.fit(
            m2,
            (X, y),
            nn.CrossEntropyLoss(),
            torch.optim.SGD(m2.parameters(), lr=0.5),
            epochs=6,
            progress=False,
        )
    close(h["loss"], ref)
    same_params(m1, m2)


def test_inference_mode_inside_forward_is_refused():
    x = torch.randn(3)
    w = torch.randn(3, requires_grad=True)
    _C._capture_begin([x])
    with torch.inference_mode():
        a = x * 2
    prog, why = _C._capture_finish([a * w])
    assert prog is None and "inference_mode" in why


def _loss_cases():
    yf = lambda: torch.randn(32, 4)  # noqa: E731
    yc = lambda: torch.randint(0, 4, (32,))  # noqa: E731
    yb = lambda: torch.randint(0, 2, (32, 4)).float()  # noqa: E731
    lin = lambda: nn.Linear(8, 4)  # noqa: E731
    return {
        "mse": (lin, nn.MSELoss, yf),
        "l1": (lin, nn.L1Loss, yf),
        "smooth_l1": (lin, nn.SmoothL1Loss, yf),
        "huber": (lin, lambda: nn.HuberLoss(delta=0.5), yf),
        "bce": (lambda: nn.Sequential(nn.Linear(8, 4), nn.Sigmoid()), nn.BCELoss, yb),
        "bce_logits": (lin, lambda: nn.BCEWithLogitsLoss(pos_weight=torch.full((4,), 2.0)), yb),
        "ce_smoothing": (lin, lambda: nn.CrossEntropyLoss(label_smoothing=0.1), yc),
        "ce_weight": (lin, lambda: nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5, 1.0])), yc),
        "nll": (lambda: nn.Sequential(nn.Linear(8, 4), nn.LogSoftmax(dim=1)), nn.NLLLoss, yc),
        "kl_div": (
            lambda: nn.Sequential(nn.Linear(8, 4), nn.LogSoftmax(dim=1)),
            lambda: nn.KLDivLoss(reduction="batchmean"),
            lambda: torch.rand(32, 4).softmax(1),
        ),
        "layers": (
            lambda: nn.Sequential(
                nn.Linear(8, 16),
                nn.LayerNorm(16),
                nn.GELU(),
                nn.Linear(16, 16),
                nn.SiLU(),
                nn.LeakyReLU(),
                nn.Tanh(),
                nn.ELU(),
                nn.Mish(),
                nn.Softplus(),
                nn.Hardtanh(),
                nn.Linear(16, 4),
                nn.Softmax(dim=1),
            ),
            nn.MSELoss,
            yf,
        ),
        "conv1d_groupnorm": (
            lambda: nn.Sequential(
                nn.Unflatten(1, (1, 8)),
                nn.Conv1d(1, 3, 3, padding=1),
                nn.GroupNorm(1, 3),
                nn.ReLU6(),
                nn.Flatten(),
                nn.Linear(24, 4),
            ),
            nn.CrossEntropyLoss,
            yc,
        ),
        "embedding": (
            lambda: nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(32, 4)),
            nn.CrossEntropyLoss,
            yc,
        ),
    }


@pytest.mark.parametrize("case", list(_loss_cases()))
def test_losses_and_layers_replay_like_eager(case):
    make_model, make_loss, make_y = _loss_cases()[case]
    torch.manual_seed(21)
    x = torch.randint(0, 10, (32, 8)) if case == "embedding" else torch.randn(32, 8)
    y = make_y()
    runs = []
    for use_fit in (False, True):
        torch.manual_seed(22)
        m, loss_fn = make_model(), make_loss()
        opt = torch.optim.Adam(m.parameters(), lr=0.01)
        if use_fit:
            with replayed():
                runs.append(
                    torch.fit(m, (x, y), loss_fn, opt, epochs=3, batch_size=16, progress=False)["loss"]
                )
        else:
            runs.append(
                eager_epochs(m, loss_fn, opt, lambda: DataLoader(TensorDataset(x, y), batch_size=16), 3)
            )
    close(runs[1], runs[0])


def test_replayed_checks_raise_the_eager_errors():
    m = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(8, 2))
    x = torch.randint(0, 10, (8, 2))
    x[6, 1] = 12  # out of range, in the second batch only
    with pytest.raises(IndexError, match="index out of range in self"):
        torch.fit(
            m,
            (x, torch.zeros(8, dtype=torch.int64)),
            nn.CrossEntropyLoss(),
            torch.optim.SGD(m.parameters(), lr=0.1),
            batch_size=4,
            progress=False,
        )


class ReturnsTuple(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(13, 3)

    def forward(self, x):
        out = self.fc(x)
        return out, out.detach()


def test_model_returning_a_tuple_runs_eagerly(wine_like):
    X, y = wine_like
    m = ReturnsTuple()

    def loss_fn(outputs, target):
        return F.cross_entropy(outputs[0], target)

    with pytest.warns(RuntimeWarning, match="returned tuple"):
        h = torch.fit(
            m, (X, y), loss_fn, torch.optim.SGD(m.parameters(), lr=0.1), epochs=2, val=(X, y), progress=False
        )
    assert len(h["val_loss"]) == 2


def test_a_capture_already_running_makes_fit_run_eagerly(wine_like):
    X, y = wine_like
    m = mlp()
    _C._capture_begin([X])  # as if another thread were capturing
    try:
        with pytest.warns(RuntimeWarning, match="already in progress"):
            h = torch.fit(
                m,
                (X, y),
                nn.CrossEntropyLoss(),
                torch.optim.SGD(m.parameters(), lr=0.1),
                epochs=2,
                progress=False,
            )
    finally:
        _C._capture_abort()
    assert len(h["loss"]) == 2


# ----- the recorded backward: replay runs forward and backward as plain ops, bit for bit -----


def captured_step(model, loss_fn, x, y):
    """Captures one training step of `model` by hand as fit does; returns (program, why the backward
    was not recorded or None)."""
    _C._capture_begin([x, y])
    out = model(x)
    loss = loss_fn(out, y)
    prog, why = _C._capture_finish([out, loss], True)
    assert why is None, why
    return prog, _C._capture_backward(prog, loss)


def recorded_backward(model, loss_fn, x, y):
    """(the recorded backward's op names, why none was recorded)."""
    prog, reason = captured_step(model, loss_fn, x, y)
    return prog.backward_op_names(), reason


def test_linear_regression_backward_is_recorded_and_replays_bitwise():
    X = torch.arange(0, 1, 0.02).unsqueeze(dim=1)[:40]
    y = 0.7 * X + 0.3
    torch.manual_seed(42)
    names, why = recorded_backward(LinearRegressionModel(), nn.L1Loss(), X, y)
    assert why is None
    # sign and g·sign(x) for |x|, the two parameter gradients with their broadcast sums; the gradients
    # nothing needs (x's, y's) are dropped and the mean's constant 1/N gradient is computed once
    assert names == ["unary", "binary", "sum_to", "binary", "sum_to"]
    torch.manual_seed(42)
    m1 = LinearRegressionModel()
    opt1 = torch.optim.SGD(m1.parameters(), lr=0.01)
    ref = eager_epochs(m1, nn.L1Loss(), opt1, lambda: [(X, y)], 50)
    torch.manual_seed(42)
    m2 = LinearRegressionModel()
    opt2 = torch.optim.SGD(m2.parameters(), lr=0.01)
    with replayed():
        h = torch.fit(m2, (X, y), nn.L1Loss(), opt2, epochs=50, progress=False)
    assert h["loss"] == ref
    assert torch.equal(m1.weights, m2.weights) and torch.equal(m1.bias, m2.bias)
    assert torch.equal(m1.weights.grad, m2.weights.grad) and torch.equal(m1.bias.grad, m2.bias.grad)


def mse_net(dropout):
    return nn.Sequential(
        nn.Linear(13, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 8), nn.Sigmoid(), nn.Linear(8, 2)
    )


def test_recorded_backward_with_dropout_shuffled_minibatches_is_bitwise_eager(wine_like):
    X, _ = wine_like
    Y = torch.randn(142, 2)
    torch.manual_seed(3)
    names, why = recorded_backward(mse_net(0.0), nn.MSELoss(), X[:8], Y[:8])
    assert why is None and "binary" in names and "mm" in names
    torch.manual_seed(5)
    m1 = mse_net(0.3)
    opt1 = torch.optim.Adam(m1.parameters(), lr=0.01)
    loader = DataLoader(
        TensorDataset(X, Y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(1)
    )
    ref = eager_epochs(m1, nn.MSELoss(), opt1, lambda: loader, 4)
    after_eager = torch.rand(3)
    torch.manual_seed(5)
    m2 = mse_net(0.3)
    opt2 = torch.optim.Adam(m2.parameters(), lr=0.01)
    with replayed():
        h = torch.fit(
            m2,
            (X, Y),
            nn.MSELoss(),
            opt2,
            epochs=4,
            batch_size=32,
            shuffle=True,
            generator=torch.Generator().manual_seed(1),
            progress=False,
        )
    assert h["loss"] == ref
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2) and torch.equal(p1.grad, p2.grad)
    assert torch.equal(torch.rand(3), after_eager)  # the dropout masks drew the same numbers


class SharedWeight(nn.Module):
    """A parameter used twice (its gradient arrives twice and is summed into .grad) and a tensor that
    requires grad without being a parameter (not zeroed by the optimizer: its .grad grows each step)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(13, 3))
        self.b = nn.Parameter(torch.randn(3))
        self.extra = torch.randn(3, requires_grad=True)

    def forward(self, x):
        return self.b.addmm(x, self.w).tanh() * self.w.sum(0) + self.w.mean(0) + self.extra * 2


def test_recorded_backward_sums_gradients_like_the_engine(wine_like):
    X, y = wine_like
    names, why = recorded_backward(SharedWeight(), nn.MSELoss(), X, torch.randn(142, 3))
    assert why is None, why
    Y = torch.randn(142, 3)
    torch.manual_seed(8)
    m1 = SharedWeight()
    opt1 = torch.optim.SGD(m1.parameters(), lr=0.01, momentum=0.5)
    ref = eager_epochs(m1, nn.MSELoss(), opt1, lambda: [(X, Y)], 5)
    torch.manual_seed(8)
    m2 = SharedWeight()
    opt2 = torch.optim.SGD(m2.parameters(), lr=0.01, momentum=0.5)
    with replayed():
        h = torch.fit(m2, (X, Y), nn.MSELoss(), opt2, epochs=5, progress=False)
    assert h["loss"] == ref
    assert torch.equal(m1.w, m2.w) and torch.equal(m1.w.grad, m2.w.grad)
    assert torch.equal(m1.extra.grad, m2.extra.grad)


def test_losses_without_a_recorded_backward_say_why(wine_like):
    X, y = wine_like
    names, why = recorded_backward(mlp(), nn.CrossEntropyLoss(), X, y)
    assert names is None and "NllLossBackward0" in why


def test_requires_grad_or_hooks_changed_by_a_callback_replay_with_the_graph(wine_like):
    X, _ = wine_like
    Y = torch.randn(142, 2)
    calls = []

    def change(m, epoch):
        if epoch == 1:
            m[0].weight.requires_grad_(False)  # freeze the first layer
        if epoch == 2:
            m[3].weight.register_hook(lambda g: calls.append(1) or g * 0.5)

    torch.manual_seed(9)
    m1 = mse_net(0.0)
    opt1 = torch.optim.Adam(m1.parameters(), lr=0.01)
    ref = []
    for epoch in range(5):
        ref += eager_epochs(m1, nn.MSELoss(), opt1, lambda: [(X, Y)], 1)
        change(m1, epoch)
    n_eager = len(calls)
    torch.manual_seed(9)
    m2 = mse_net(0.0)
    opt2 = torch.optim.Adam(m2.parameters(), lr=0.01)
    with replayed():
        h = torch.fit(
            m2,
            (X, Y),
            nn.MSELoss(),
            opt2,
            epochs=5,
            progress=False,
            callbacks=[lambda epoch, logs: change(m2, epoch)],
        )
    assert h["loss"] == ref
    assert len(calls) == 2 * n_eager == 4
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2)
    assert m2[0].weight.grad is None


class UsesOldGraph(nn.Module):
    """Forward reads a tensor computed (with history) before training: eager code fails on the second
    backward, which walks the freed graph of `scale` again."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(13, 2)
        self.scale = self.fc.bias * 2

    def forward(self, x):
        return self.fc(x) * self.scale


def test_a_tensor_with_history_in_forward_fails_as_eager_code_does(wine_like):
    X, _ = wine_like
    Y = torch.randn(142, 2)
    m = UsesOldGraph()
    with pytest.raises(RuntimeError, match="second time"):
        eager_epochs(m, nn.MSELoss(), torch.optim.SGD(m.parameters(), lr=0.1), lambda: [(X, Y)], 2)
    m = UsesOldGraph()
    names, why = recorded_backward(m, nn.MSELoss(), X, Y)
    assert names is None and "outside the captured forward" in why
    m = UsesOldGraph()
    with pytest.raises(RuntimeError, match="second time"):
        torch.fit(m, (X, Y), nn.MSELoss(), torch.optim.SGD(m.parameters(), lr=0.1), epochs=2, progress=False)


def test_backward_recording_pairs_with_its_own_capture():
    x, w = torch.randn(4, 3), torch.randn(3, requires_grad=True)
    y = torch.randn(4)
    _C._capture_begin([x, y])
    out = (x * w.exp()).sum(1)
    first, last = out.sum(), ((out - y) ** 2).sum()
    prog, why = _C._capture_finish([first, last], True)
    assert "not run on the program's loss" in _C._capture_backward(prog, first)
    assert prog.backward_op_names() is None
    assert w.grad is not None  # the backward itself ran, as first.backward() would
    _C._capture_begin([x, y])
    out = (x * w).sum(1)
    prog1, _ = _C._capture_finish([out, (out - y).abs().mean()], True)
    _C._capture_begin([x, y])  # a new capture drops the kept recorder of the first
    out = (x * w).sum(1)
    loss = (out - y).abs().mean()
    prog2, _ = _C._capture_finish([out, loss], True)
    assert "not kept" in _C._capture_backward(prog1, loss)
    fresh = ((x * w).sum(1) - y).abs().mean()
    assert "not kept" in _C._capture_backward(prog2, fresh)  # the mismatched call consumed the recorder
    _C._capture_begin([x, y])
    out = (x * w).sum(1)
    loss = (out - y).abs().mean()
    prog3, _ = _C._capture_finish([out, loss], True)
    assert _C._capture_backward(prog3, loss) is None and prog3.backward_op_names()
