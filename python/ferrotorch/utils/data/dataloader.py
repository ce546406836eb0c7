"""DataLoader: torch's signature and iteration order; workers are threads; whole batches come from Rust
when the dataset offers a fast plan (TensorDataset, vision datasets with standard transforms)."""

from __future__ import annotations

import collections
import contextlib
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as _FutTimeout

import ferrotorch as torch

from ._collate import CollateShapeError, default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

_worker_local = threading.local()


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker thread."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id = id
        self.num_workers = num_workers
        self.seed = seed
        self.dataset = dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, dataset={self.dataset!r})"


def get_worker_info():
    """The current worker thread's WorkerInfo, or None on the main thread (as in torch)."""
    return getattr(_worker_local, "info", None)


class DataLoader:
    """Combines a dataset and a sampler and iterates over batches, exactly as ``torch.utils.data.DataLoader``.

    ``num_workers > 0`` loads batches on that many threads (works in notebooks on every OS; results
    come back in order). ``pin_memory`` is accepted (there is no accelerator).
    """

    __initialized = False

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=None,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory_device="",
        in_order=True,
    ):
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None."
            )
        elif num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = 1
            if shuffle not in {False, None}:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified sampler option, but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified "
                    f"batch_sampler option, but got batch_sampler={batch_sampler}"
                )
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = 0

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")

        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None:  # noqa: SIM102
            if drop_last:
                raise ValueError(
                    "batch_size=None option disables auto-batching and is mutually exclusive with drop_last"
                )

        if sampler is None and self._dataset_kind == 0:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)

        if batch_size is not None and batch_sampler is None and self._dataset_kind == 0:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif batch_size is not None and self._dataset_kind == 1:  # noqa: SIM102
            # validate like torch's BatchSampler would
            if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
                raise ValueError(
                    f"batch_size should be a positive integer value, but got batch_size={batch_size}"
                )

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator

        self._default_collate = collate_fn is None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._IterableDataset_len_called = None
        self.__initialized = True

    def __setattr__(self, attr, val):
        if self.__initialized and attr in (
            "batch_size",
            "batch_sampler",
            "sampler",
            "drop_last",
            "dataset",
            "persistent_workers",
        ):
            raise ValueError(
                f"{attr} attribute should not be set after {self.__class__.__name__} is initialized"
            )
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self):
        return self.batch_size is not None or self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._dataset_kind == 1:
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                if self.drop_last:
                    return length // self.batch_size
                return -(-length // self.batch_size)  # noqa: PLE0303
            return length
        return len(self._index_sampler)

    def __iter__(self):
        return _DataLoaderIter(self)

    def _fit_index_batches(self):
        """One pass's index batches, drawing from the RNG exactly as ``iter(self)`` does (for ``fit``)."""
        sampler_iter = iter(self._index_sampler)
        int(torch.empty((), dtype=torch.int64).random_(generator=self.generator).item())
        return [list(b) for b in sampler_iter]

    def check_worker_number_rationality(self):  # torch API; threads need no check
        return None


class _DataLoaderIter:
    """One pass over the loader. Consumes the RNG exactly like torch's single-process iterator."""

    def __init__(self, loader):
        self._loader = loader
        self._dataset = loader.dataset
        if loader.pin_memory:
            warnings.warn(
                "'pin_memory' argument is set as true but no accelerator is found, "
                "then device pinned memory won't be used.",
                stacklevel=3,
            )
        # torch creates the (lazy) sampler iterator, then draws the base seed from loader.generator.
        self._sampler_iter = iter(loader._index_sampler) if loader._dataset_kind == 0 else None
        self._base_seed = int(torch.empty((), dtype=torch.int64).random_(generator=loader.generator).item())
        self._num_yielded = 0
        self._fast = None
        if loader._dataset_kind == 0 and loader._auto_collation and loader._default_collate:
            plan = getattr(self._dataset, "_ferro_fast_plan", None)
            self._fast = plan() if callable(plan) else None
        self._executor = None
        self._pending = collections.deque()
        if loader._dataset_kind == 1:
            self._iter_source = self._iterable_batches()
        elif loader.num_workers > 0:
            self._start_workers()

    # ----- fetching -----
    def _fetch(self, index):
        loader = self._loader
        if not loader._auto_collation:
            return loader.collate_fn(self._dataset[index])
        if self._fast is not None:
            return self._fast(index)
        getitems = getattr(self._dataset, "__getitems__", None)
        data = getitems(index) if callable(getitems) else [self._dataset[i] for i in index]
        return self._collate(data, index)

    def _collate(self, data, index):
        try:
            return self._loader.collate_fn(data)
        except CollateShapeError as e:
            a, b = e.entries
            raise RuntimeError(
                f"default_collate: {e} — batch entry {a} is dataset sample {index[a]} and entry {b} is dataset "
                f"sample {index[b]}; every sample must have the same shape (or pass a collate_fn that pads)"
            ) from None

    def _iterable_batches(self):
        loader = self._loader
        it = iter(self._dataset)
        if loader.batch_size is None:
            for x in it:
                yield loader.collate_fn(x)
            return
        while True:
            batch = []
            for x in it:
                batch.append(x)
                if len(batch) == loader.batch_size:
                    break
            if not batch or (loader.drop_last and len(batch) < loader.batch_size):
                return
            yield self._collate(batch, list(range(len(batch))))

    # ----- thread workers -----
    def _start_workers(self):
        loader = self._loader
        counter = iter(range(loader.num_workers))
        lock = threading.Lock()

        def init():
            with lock:
                wid = next(counter)
            _worker_local.info = WorkerInfo(wid, loader.num_workers, self._base_seed + wid, self._dataset)
            if loader.worker_init_fn is not None:
                loader.worker_init_fn(wid)

        self._executor = ThreadPoolExecutor(
            max_workers=loader.num_workers, thread_name_prefix="ferrotorch-loader", initializer=init
        )
        self._window = max(1, loader.num_workers * (loader.prefetch_factor or 2))
        self._exhausted = False
        self._fill()

    def _fill(self):
        while not self._exhausted and len(self._pending) < self._window:
            try:
                index = next(self._sampler_iter)
            except StopIteration:
                self._exhausted = True
                break
            self._pending.append(self._executor.submit(self._fetch, index))

    def _shutdown(self):
        if self._executor is not None:
            for f in self._pending:
                f.cancel()
            self._pending.clear()
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def __del__(self):
        with contextlib.suppress(Exception):
            self._shutdown()

    # ----- protocol -----
    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    def __next__(self):
        loader = self._loader
        if loader._dataset_kind == 1:
            data = next(self._iter_source)
        elif self._executor is not None:
            if not self._pending:
                self._shutdown()
                raise StopIteration
            fut = self._pending.popleft()
            try:
                data = fut.result(timeout=loader.timeout if loader.timeout > 0 else None)
            except _FutTimeout:
                self._shutdown()
                raise RuntimeError(f"DataLoader timed out after {loader.timeout} seconds") from None
            except BaseException:
                self._shutdown()
                raise
            self._fill()
        else:
            index = next(self._sampler_iter)
            data = self._fetch(index)
        self._num_yielded += 1
        return data
