"""``ferrotorch.fit``: the tutorials' training loop, captured once and replayed in Rust.

The first batch of each input shape runs eagerly while ``_C`` records every op of ``model(x)`` and
``loss_fn(out, y)`` into a program. Later batches replay that program in Rust — batch gathering,
forward, loss, backward, optimizer step, accuracy — with the GIL released. The numbers are the
eager loop's: the same kernels run in the same order, and random draws (dropout, shuffling) come
from the same generators in the same order. What cannot be replayed falls back to the eager loop
with a warning saying why.
"""

from __future__ import annotations

import time
import warnings

from . import _C
from .autograd.grad_mode import no_grad

__all__ = ["fit", "History", "compile"]


class History(dict):
    """What ``fit`` recorded: plain-float lists keyed ``loss``, ``batch_loss``, each metric,
    ``val_loss``, ``val_<metric>`` and ``epoch_seconds``."""

    def plot(self, path=None, keys=None):
        """Draws the per-epoch curves with matplotlib; saves to ``path`` when given. Returns the figure."""
        import matplotlib.pyplot as plt

        keys = keys or [k for k in self if k not in ("batch_loss", "epoch_seconds") and self[k]]
        fig, ax = plt.subplots()
        for k in keys:
            ax.plot(range(1, len(self[k]) + 1), self[k], label=k)
        ax.set_xlabel("epoch")
        ax.legend()
        if path is not None:
            fig.savefig(path)
        return fig


def compile(model=None, **kwargs):  # noqa: A001 - torch's name
    """``torch.compile`` stand-in: returns the model unchanged so tutorial scripts run.

    ferrotorch compiles training loops in :func:`ferrotorch.fit`, which captures the model's
    forward pass once and replays it in Rust."""
    if model is None:
        return lambda m: m
    return model


class _Unreplayable(Exception):
    pass


def _as_tensor(a):
    if isinstance(a, _C.Tensor):
        return a
    from . import as_tensor

    return as_tensor(a)


def _tensor_pair(dataset):
    """(X, y, index map) when the dataset's samples are rows of two ferrotorch tensors."""
    from .utils.data import Subset, TensorDataset

    if isinstance(dataset, Subset) and type(dataset).__getitem__ is Subset.__getitem__:
        inner = _tensor_pair(dataset.dataset)
        if inner is None:
            return None
        x, y, m = inner
        idx = list(dataset.indices)
        return x, y, (lambda b: m([idx[i] for i in b])) if m else (lambda b: [idx[i] for i in b])
    if type(dataset) is TensorDataset and len(dataset.tensors) == 2:
        x, y = dataset.tensors
        if not x.requires_grad and not y.requires_grad and x.ndim > 0 and y.ndim > 0:
            return x, y, None
    return None


class _Source:
    """Where the batches come from: rows of two tensors (gathered in Rust) or any iterable."""

    def __init__(self, data, batch_size, shuffle, generator, what):
        self.loader = None
        self.x = self.y = None
        self.index_map = None
        if type(data) in (tuple, list) and len(data) == 2:
            # an (X, y) pair; full-batch training never needs torch.utils.data (nor NumPy)
            self.x, self.y = _as_tensor(data[0]), _as_tensor(data[1])
            if len(self.x) != len(self.y):
                raise ValueError(
                    f"fit: {what} X and y have different lengths ({len(self.x)} and {len(self.y)})"
                )
            if batch_size is not None:
                from .utils.data import DataLoader, TensorDataset

                self.loader = DataLoader(
                    TensorDataset(self.x, self.y), batch_size=batch_size, shuffle=shuffle, generator=generator
                )
            return
        from .utils.data import DataLoader, Dataset

        if isinstance(data, Dataset):
            data = DataLoader(data, batch_size=batch_size or len(data), shuffle=shuffle, generator=generator)
        if not isinstance(data, DataLoader):
            if hasattr(data, "__iter__"):
                self.loader = data
                return
            raise TypeError(
                f"fit: {what} must be a DataLoader, a Dataset or an (X, y) pair, got {type(data).__name__}"
            )
        self.loader = data
        pair = None
        if (
            data._dataset_kind == 0
            and data._auto_collation
            and data._default_collate
            and data.batch_sampler is not None
        ):
            pair = _tensor_pair(data.dataset)
        if pair is not None:
            self.x, self.y, self.index_map = pair

    @property
    def tensor_backed(self):
        return self.x is not None

    def epoch_batches(self):
        """Index batches of one epoch (None: x and y are the single batch), drawn like iter(loader)."""
        if self.loader is None:
            return None
        batches = self.loader._fit_index_batches()
        if self.index_map is not None:
            batches = [self.index_map(b) for b in batches]
        return batches

    def gather(self, batch):
        if batch is None:
            return self.x, self.y
        return tuple(_C._data_gather([self.x, self.y], batch))

    def __len__(self):
        return 1 if self.loader is None else len(self.loader)


def _unpack(batch):
    if isinstance(batch, dict) or not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError("fit: each batch must be an (input, target) pair")
    return batch[0], batch[1]


def _metric_value(v):
    return float(v.item()) if isinstance(v, _C.Tensor) else float(v)


class _Metrics:
    def __init__(self, metrics):
        if isinstance(metrics, str) or callable(metrics):
            metrics = (metrics,)
        self.accuracy = False
        self.fns = []
        for m in metrics:
            if m == "accuracy":
                self.accuracy = True
            elif callable(m):
                self.fns.append((getattr(m, "__name__", type(m).__name__), m))
            else:
                raise ValueError(f'fit: unknown metric {m!r} (use "accuracy" or a callable (output, target))')
        self.names = (["accuracy"] if self.accuracy else []) + [n for n, _ in self.fns]


class _Epoch:
    """Running sums of one epoch (train or validation)."""

    def __init__(self, metrics):
        self.metrics = metrics
        self.loss = self.correct = 0.0
        self.count = 0
        self.batch_losses = []
        self.sums = [0.0] * len(metrics.fns)

    def add(self, loss, correct, count, output=None, target=None):
        self.loss += loss * count
        self.correct += correct
        self.count += count
        self.batch_losses.append(loss)
        if self.metrics.fns:
            for i, (_, fn) in enumerate(self.metrics.fns):
                self.sums[i] += _metric_value(fn(output, target)) * count

    def logs(self, prefix=""):
        n = max(self.count, 1)
        out = {prefix + "loss": self.loss / n}
        if self.metrics.accuracy:
            out[prefix + "accuracy"] = self.correct / n
        for (name, _), s in zip(self.metrics.fns, self.sums):
            out[prefix + name] = s / n
        return out


def _shape_key(x, y):
    return (tuple(x.shape), x.dtype, tuple(y.shape), y.dtype)


class _Trainer:
    def __init__(self, model, loss_fn, optimizer, metrics):
        self.model, self.loss_fn, self.optimizer, self.metrics = model, loss_fn, optimizer, metrics
        self.programs = {}  # shape key -> train program
        self.eval_programs = {}
        self.steps = {}  # shape key -> _C._TrainStep (rebuilt when the optimizer plan is)
        self.groups = None
        self.python_step = False
        self.fallback = None  # reason, once replay is off
        self.zero = [p for g in optimizer.param_groups for p in g["params"]]

    @property
    def rust_loop(self):
        """Whether several batches can run in one Rust call (nothing Python happens per batch)."""
        return self.fallback is None and not self.metrics.fns and not self.python_step

    def refuse(self, why):
        if self.fallback is None:
            self.fallback = why
            warnings.warn(
                f"ferrotorch.fit: running the eager loop instead of the replayed one: {why}",
                RuntimeWarning,
                stacklevel=4,
            )

    def new_plan(self):
        """Re-reads the optimizer's hyper-parameters (a scheduler or callback may have changed them)."""
        groups = getattr(self.optimizer, "_fit_groups", None)
        self.groups = groups() if callable(groups) else None
        self.python_step = self.groups is None
        self.steps = {
            k: _C._TrainStep(p, self.zero, self.groups, self.metrics.accuracy)
            for k, p in self.programs.items()
        }

    # ----- one training batch -----
    def forward(self, x, y, capture, backward=False):
        """``model(x)`` and ``loss_fn(out, y)``, recorded into a program when ``capture``.
        ``backward``: the caller records ``loss.backward()`` next with ``_C._capture_backward``.

        Returns (out, loss, program, reason): program is None with the reason when it can't replay."""
        if capture:
            try:
                _C._capture_begin([x, y])
            except RuntimeError as e:  # another thread is capturing: this batch runs eagerly
                capture = False
                self.refuse(str(e))
        if not capture:
            out = self.model(x)
            return out, self.loss_fn(out, y), None, None
        try:
            out = self.model(x)
            loss = self.loss_fn(out, y)
        except BaseException:
            _C._capture_abort()
            raise
        if not isinstance(out, _C.Tensor):
            _C._capture_abort()
            return out, loss, None, f"the model returned {type(out).__name__}, not a tensor"
        if not isinstance(loss, _C.Tensor) or loss.numel() != 1:
            _C._capture_abort()
            return out, loss, None, "the loss is not a single-element tensor"
        prog, why = _C._capture_finish([out, loss], backward)
        return out, loss, prog, why

    def eager_batch(self, x, y, ep, capture):
        model, opt = self.model, self.optimizer
        model.train()
        opt.zero_grad()
        out, loss, prog, why = self.forward(x, y, capture, backward=True)
        if prog is not None:
            # loss.backward(), also recorded so replay runs it as plain ops (or, when it cannot
            # be recorded, builds the autograd graph each step)
            _C._capture_backward(prog, loss)
        else:
            loss.backward()
        opt.step()
        if capture:
            if prog is None:
                self.refuse(why)
            else:
                key = _shape_key(x, y)
                self.programs[key] = prog
                if self.groups is None and not self.python_step:
                    self.new_plan()
                else:
                    self.steps[key] = _C._TrainStep(prog, self.zero, self.groups, self.metrics.accuracy)
        count = y.shape[0] if y.ndim else 1
        if not self.metrics.accuracy and not self.metrics.fns:
            ep.add(loss.item(), 0.0, count)
            return
        with no_grad():
            correct = _C._count_correct(out, y) if self.metrics.accuracy else 0.0
            detached = out.detach() if isinstance(out, _C.Tensor) else out
            ep.add(loss.item(), correct, count, detached, y)

    def batch(self, x, y, ep):
        if self.fallback is not None:
            return self.eager_batch(x, y, ep, capture=False)
        step = self.steps.get(_shape_key(x, y))
        if step is None:
            return self.eager_batch(x, y, ep, capture=True)
        (loss, correct, count), out = step.batch(x, y, not self.python_step)
        if self.python_step:
            self.optimizer.step()
        ep.add(loss, correct, count, out, y)

    def run_tensor_batches(self, src, batches, ep, bar):
        """Batches of a tensor-backed source: runs of same-shape batches go to Rust in one call."""
        if batches is None:
            x, y = src.x, src.y
            if self.rust_loop and _shape_key(x, y) in self.steps:
                for loss, correct, count in self.steps[_shape_key(x, y)].run(x, y, None, 1):
                    ep.add(loss, correct, count)
            else:
                self.batch(x, y, ep)
            _bar_update(bar, 1, ep)
            return
        i, n = 0, len(batches)
        chunk = 1
        while i < n:
            size = len(batches[i])
            key = (size,) + tuple(src.x.shape[1:]), src.x.dtype, (size,) + tuple(src.y.shape[1:]), src.y.dtype
            step = self.steps.get(key) if self.rust_loop else None
            if step is None:
                x, y = src.gather(batches[i])
                self.batch(x, y, ep)
                i += 1
                _bar_update(bar, 1, ep)
                continue
            j = i
            while j < n and j - i < chunk and len(batches[j]) == size:
                j += 1
            t0 = time.perf_counter()
            for loss, correct, count in step.run(src.x, src.y, batches[i:j], 1):
                ep.add(loss, correct, count)
            dt = time.perf_counter() - t0
            if bar is not None:
                # about ten progress updates a second
                chunk = max(1, min(256, int((j - i) * 0.1 / max(dt, 1e-6))))
            else:
                chunk = n
            _bar_update(bar, j - i, ep)
            i = j

    # ----- validation -----
    def evaluate(self, src, ep):
        model = self.model
        model.eval()
        batches = src.epoch_batches() if src.tensor_backed else None
        items = (
            (src.gather(b) for b in (batches if batches is not None else [None]))
            if src.tensor_backed
            else (_unpack(b) for b in src.loader)
        )
        with no_grad():
            for x, y in items:
                key = _shape_key(x, y)
                prog = self.eval_programs.get(key) if self.fallback is None else None
                if prog is not None and not self.metrics.fns:
                    for loss, correct, count in prog.evaluate(x, y, None, self.metrics.accuracy):
                        ep.add(loss, correct, count)
                    continue
                if prog is not None:
                    out, loss = prog.run([x, y])
                else:
                    capture = self.fallback is None and key not in self.eval_programs
                    out, loss, prog, why = self.forward(x, y, capture)
                    if capture:
                        if prog is None:
                            self.refuse(why)
                        else:
                            self.eval_programs[key] = prog
                correct = _C._count_correct(out, y) if self.metrics.accuracy else 0.0
                ep.add(loss.item(), correct, y.shape[0] if y.ndim else 1, out, y)


def _bar_update(bar, n, ep):
    if bar is not None:
        bar.update(n)
        if ep.batch_losses:
            bar.set_postfix(loss=f"{ep.batch_losses[-1]:.4f}", refresh=False)


def _make_bar(progress, total, epoch, epochs):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=f"epoch {epoch + 1}/{epochs}", leave=epoch + 1 == epochs)


def _callback_stops(cb, epoch, logs):
    fn = getattr(cb, "on_epoch_end", None)
    if fn is None and callable(cb):
        fn = cb
    if fn is None:
        raise TypeError(f"fit: callback {cb!r} has no on_epoch_end(epoch, logs)")
    return fn(epoch, logs) is True or getattr(cb, "stop_training", False) is True


def _step_scheduler(scheduler, logs):
    if scheduler is None:
        return
    from .optim.lr_scheduler import ReduceLROnPlateau

    if isinstance(scheduler, ReduceLROnPlateau):
        scheduler.step(logs.get("val_loss", logs["loss"]))
    else:
        scheduler.step()


def fit(
    model,
    train,
    loss_fn,
    optimizer,
    *,
    epochs=1,
    batch_size=None,
    shuffle=False,
    val=None,
    metrics=(),
    scheduler=None,
    progress=True,
    callbacks=(),
    generator=None,
):
    """Trains ``model`` as the eager loop would, with the loop itself running in Rust.

    Per batch: ``model.train()``, ``optimizer.zero_grad()``, ``loss = loss_fn(model(x), y)``,
    ``loss.backward()``, ``optimizer.step()``; after each epoch the validation pass (``model.eval()``,
    ``no_grad()``), ``scheduler.step()`` and the callbacks' ``on_epoch_end(epoch, logs)`` (returning
    True stops training).

    Args:
        train, val: a ``DataLoader``, a ``Dataset``, or an ``(X, y)`` pair of tensors or NumPy arrays.
            For a pair, ``batch_size=None`` trains on the whole pair as one batch; otherwise batches
            come from ``DataLoader(TensorDataset(X, y), batch_size, shuffle=shuffle, generator=generator)``.
        metrics: ``"accuracy"`` (argmax of the outputs, or a single logit thresholded at 0) and
            callables ``(output, target) -> number``.
        progress: a ``tqdm.auto`` bar per epoch (when tqdm is installed).

    Returns:
        History: ``loss`` (sample-weighted mean per epoch), ``batch_loss``, the metrics, ``val_loss``,
        ``val_<metric>`` and ``epoch_seconds``. Ctrl-C stops after the current batch and returns the
        history so far; the model keeps what it learned.
    """
    if epochs < 0:
        raise ValueError(f"fit: epochs must be non-negative, got {epochs}")
    if batch_size is not None and batch_size <= 0:
        raise ValueError(
            f"fit: batch_size should be a positive integer value, but got batch_size={batch_size}"
        )
    if isinstance(callbacks, (list, tuple)):
        callbacks = tuple(callbacks)
    else:
        callbacks = (callbacks,)
    metrics = _Metrics(metrics)
    src = _Source(train, batch_size, shuffle, generator, "train")
    val_src = _Source(val, batch_size, False, None, "val") if val is not None else None
    tr = _Trainer(model, loss_fn, optimizer, metrics)
    history = History(loss=[], batch_loss=[])
    for name in metrics.names:
        history[name] = []
    if val_src is not None:
        history["val_loss"] = []
        for name in metrics.names:
            history["val_" + name] = []
    history["epoch_seconds"] = []

    # Epochs with nothing to do in Python between them run in one Rust call.
    per_epoch_python = progress or callbacks or scheduler is not None or val_src is not None or metrics.fns
    epoch = 0
    try:
        while epoch < epochs:
            if tr.groups is not None and (scheduler is not None or callbacks):
                tr.new_plan()
            if (
                not per_epoch_python
                and src.tensor_backed
                and src.loader is None
                and tr.rust_loop
                and epoch > 0
            ):
                epoch = _run_full_batch_epochs(tr, src, history, epoch, epochs)
                continue
            t0 = time.perf_counter()
            ep = _Epoch(metrics)
            batches = src.epoch_batches() if src.tensor_backed else None
            bar = _make_bar(progress, len(batches) if batches is not None else len(src), epoch, epochs)
            try:
                if src.tensor_backed:
                    tr.run_tensor_batches(src, batches, ep, bar)
                else:
                    for b in src.loader:
                        x, y = _unpack(b)
                        tr.batch(x, y, ep)
                        _bar_update(bar, 1, ep)
            finally:
                if bar is not None:
                    bar.close()
            logs = ep.logs()
            if val_src is not None:
                vep = _Epoch(metrics)
                tr.evaluate(val_src, vep)
                logs.update(vep.logs("val_"))
            seconds = time.perf_counter() - t0
            _record(history, logs, ep.batch_losses, seconds)
            _step_scheduler(scheduler, logs)
            epoch += 1
            stop = False
            for cb in callbacks:
                stop = _callback_stops(cb, epoch - 1, dict(logs)) or stop
            if stop:
                break
    except KeyboardInterrupt:
        warnings.warn(
            f"ferrotorch.fit: interrupted during epoch {epoch + 1}; returning the history so far",
            RuntimeWarning,
            stacklevel=2,
        )
    return history


def _record(history, logs, batch_losses, seconds):
    for k, v in logs.items():
        history[k].append(float(v))
    history["batch_loss"].extend(float(v) for v in batch_losses)
    history["epoch_seconds"].append(seconds)


def _run_full_batch_epochs(tr, src, history, epoch, epochs):
    """Full-batch epochs in Rust, a chunk of about 0.1 s per call so Ctrl-C is seen."""
    step = tr.steps.get(_shape_key(src.x, src.y))
    if step is None:  # the shape's capture failed; the eager path handles it
        ep = _Epoch(tr.metrics)
        t0 = time.perf_counter()
        tr.batch(src.x, src.y, ep)
        _record(history, ep.logs(), ep.batch_losses, time.perf_counter() - t0)
        return epoch + 1
    # The first chunk is sized by the captured epoch, which took longer than a replayed one will.
    last = history["epoch_seconds"][-1] if history["epoch_seconds"] else 1.0
    chunk = max(1, min(100000, int(0.1 / max(last, 1e-7))))
    while epoch < epochs:
        n = min(chunk, epochs - epoch)
        t0 = time.perf_counter()
        losses, accuracies = step.run_full(src.x, src.y, n)
        dt = time.perf_counter() - t0
        # one batch per epoch: the epoch's loss is the batch's (bulk appends keep Python out of the way)
        history["loss"].extend(losses)
        history["batch_loss"].extend(losses)
        if accuracies is not None:
            history["accuracy"].extend(accuracies)
        history["epoch_seconds"].extend([dt / n] * n)
        epoch += n
        chunk = max(1, min(100000, int(n * 0.1 / max(dt, 1e-7))))
    return epoch
