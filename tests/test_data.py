"""ferrotorch.utils.data: samplers, splits and loader order against torch (golden), collate rules, thread
workers, the fast path and the error table."""

import collections
import json
import os
import threading
import time
import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "data_golden.json")) as _f:
    GOLD = json.load(_f)


def test_samplers_match_torch():
    torch.manual_seed(0)
    assert list(RandomSampler(range(10))) == GOLD["random_sampler_global"]
    assert list(RandomSampler(range(10))) == GOLD["random_sampler_global_2"]
    g = torch.Generator().manual_seed(1)
    assert list(RandomSampler(range(7), generator=g)) == GOLD["random_sampler_gen"]
    g = torch.Generator().manual_seed(2)
    assert (
        list(RandomSampler(range(5), replacement=True, num_samples=40, generator=g))
        == GOLD["random_sampler_repl"]
    )
    g = torch.Generator().manual_seed(3)
    assert list(RandomSampler(range(4), num_samples=10, generator=g)) == GOLD["random_sampler_ns"]
    g = torch.Generator().manual_seed(4)
    assert list(SubsetRandomSampler([10, 20, 30, 40, 50], generator=g)) == GOLD["subset_random"]
    g = torch.Generator().manual_seed(5)
    assert list(WeightedRandomSampler([0.1, 0.9, 0.4, 0.7], 12, generator=g)) == GOLD["weighted"]
    g = torch.Generator().manual_seed(5)
    assert (
        list(WeightedRandomSampler([0.1, 0.9, 0.4, 0.7], 4, replacement=False, generator=g))
        == GOLD["weighted_norepl"]
    )
    assert list(BatchSampler(range(10), 3, False)) == GOLD["batch_sampler"]
    assert list(BatchSampler(range(10), 3, True)) == GOLD["batch_sampler_drop"]
    assert len(BatchSampler(range(10), 3, False)) == 4 and len(BatchSampler(range(10), 3, True)) == 3
    assert (
        list(SequentialSampler(range(4))) == [0, 1, 2, 3] and len(RandomSampler(range(4), num_samples=9)) == 9
    )


def test_sampler_errors():
    with pytest.raises(
        ValueError, match="num_samples should be a positive integer value, but got num_samples=0"
    ):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean value, but got replacement=1"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(
        ValueError, match=r"weights should be a 1d sequence but given weights have shape \(2, 1\)"
    ):
        WeightedRandomSampler([[1.0], [2.0]], 2)
    with pytest.raises(ValueError, match="drop_last should be a boolean value, but got drop_last=1"):
        BatchSampler(range(3), 2, 1)


def test_random_split_matches_torch():
    s = random_split(range(10), [3, 7], generator=torch.Generator().manual_seed(42))
    assert [x.indices for x in s] == GOLD["split_lengths"]
    assert [list(x) for x in s] == GOLD["split_lengths"]
    s = random_split(range(30), [0.3, 0.3, 0.4], generator=torch.Generator().manual_seed(42))
    assert [x.indices for x in s] == GOLD["split_fracs"]
    torch.manual_seed(7)
    assert [x.indices for x in random_split(range(9), [4, 5])] == GOLD["split_default"]
    assert [
        len(x) for x in random_split(range(11), [0.5, 0.5], generator=torch.Generator().manual_seed(0))
    ] == GOLD["split_fracs_rem"]
    with pytest.raises(
        ValueError, match="Sum of input lengths does not equal the length of the input dataset!"
    ):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        random_split(range(10), [1.5, -0.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(1), [0.9, 0.1])


def test_loader_order_matches_torch():
    ds = TensorDataset(torch.arange(20), torch.arange(20) * 10)
    torch.manual_seed(0)
    dl = DataLoader(ds, batch_size=6, shuffle=True)
    assert [[b[0].tolist() for b in dl] for _ in range(2)] == GOLD["loader_shuffle_epochs"]
    assert torch.rand(3).tolist() == GOLD["loader_shuffle_after"]
    g = torch.Generator().manual_seed(11)
    dl = DataLoader(ds, batch_size=7, shuffle=True, generator=g, drop_last=True)
    assert [b[0].tolist() for b in dl] == GOLD["loader_generator"] and len(dl) == 2
    assert torch.empty((), dtype=torch.int64).random_(generator=g).item() == GOLD["loader_generator_after"]
    torch.manual_seed(0)
    seq = [b[0].tolist() for b in DataLoader(ds, batch_size=8)]
    assert [seq, torch.rand(2).tolist()] == GOLD["loader_seq_after"]


def _info():
    w = get_worker_info()
    return (-1, 0) if w is None else (w.id, w.num_workers)


class _PySquares(Dataset):
    def __init__(self, n=23, delay=0.0):
        self.n, self.delay = n, delay

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if self.delay:
            time.sleep(self.delay)
        return {"x": np.full((2,), i, np.float32), "y": i * i, "name": f"s{i}", "info": _info()}


def test_tensor_dataset_fast_path_equals_per_sample_path():
    x = torch.randn(37, 3, 4)
    y = torch.arange(37)
    z = torch.randn(37).double()

    class Slow(TensorDataset):
        def __getitem__(self, i):
            return tuple(t[i] for t in self.tensors)

    fast, slow = TensorDataset(x, y, z), Slow(x, y, z)
    assert fast._ferro_fast_plan() is not None and slow._ferro_fast_plan() is None
    for kw in ({"batch_size": 5}, {"batch_size": 8, "drop_last": True}, {"batch_size": 6, "shuffle": True}):
        torch.manual_seed(1)
        a = list(DataLoader(fast, **kw))
        torch.manual_seed(1)
        b = list(DataLoader(slow, **kw))
        assert len(a) == len(b) == len(DataLoader(fast, **kw))
        for ba, bb in zip(a, b):
            assert isinstance(ba, list) and len(ba) == 3
            for ta, tb in zip(ba, bb):
                assert ta.dtype == tb.dtype and ta.shape == tb.shape
                assert torch.equal(ta, tb)
    # non-contiguous storage and NumPy arrays
    xt = torch.randn(4, 10).t()
    b = next(iter(DataLoader(TensorDataset(xt), batch_size=3)))[0]
    assert torch.equal(b, torch.stack([xt[i] for i in range(3)]))
    arr = np.arange(12, dtype=np.int32).reshape(6, 2)
    ds = TensorDataset(arr, np.arange(6.0))
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.dtype == torch.int32 and xb.tolist() == arr[:4].tolist() and yb.dtype == torch.float64
    assert len(ds) == 6 and ds[1][0].tolist() == [2, 3]
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(torch.zeros(3), torch.zeros(4))


def test_default_collate_rules():
    assert default_collate([1, 2]).dtype == torch.int64
    assert default_collate([1.0, 2.0]).dtype == torch.float64
    assert default_collate([True, False]).dtype == torch.bool
    assert default_collate([np.float64(1), np.float64(2)]).dtype == torch.float64
    assert default_collate([np.int32(1)]).dtype == torch.int32
    assert default_collate([np.array([1, 2], dtype=np.int32)] * 2).dtype == torch.int32
    assert default_collate(["a", "b"]) == ["a", "b"]
    P = collections.namedtuple("P", "x y")
    out = default_collate([P(1, 2.0), P(3, 4.0)])
    assert isinstance(out, P) and out.x.tolist() == [1, 3] and out.y.dtype == torch.float64
    out = default_collate([{"a": 1, "b": "s"}, {"a": 2, "b": "t"}])
    assert out["a"].tolist() == [1, 2] and out["b"] == ["s", "t"]
    out = default_collate([(1, (2, 3)), (4, (5, 6))])
    assert isinstance(out, list) and out[0].tolist() == [1, 4] and out[1][1].tolist() == [3, 6]
    t = default_collate([torch.ones(2, 3), torch.zeros(2, 3)])
    assert tuple(t.shape) == (2, 2, 3)
    with pytest.raises(
        TypeError,
        match=r"default_collate: batch must contain tensors, numpy arrays, numbers, "
        r"dicts or lists; found <class 'object'>",
    ):
        default_collate([object()])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(
        RuntimeError,
        match=r"stack expects each tensor to be equal size, but got \[3\] at entry 0 "
        r"and \[4\] at entry 1",
    ):
        default_collate([torch.zeros(3), torch.zeros(4)])


def test_default_convert_rules():
    out = default_convert((np.array([1, 2]), 3, "a"))
    assert isinstance(out, list) and out[0].tolist() == [1, 2] and out[1] == 3 and out[2] == "a"
    assert default_convert(np.float64(2)).dtype == torch.float64
    assert default_convert({"k": np.zeros(2, np.float32)})["k"].dtype == torch.float32
    dl = DataLoader(TensorDataset(torch.arange(3)), batch_size=None)
    assert [b[0].item() for b in dl] == [0, 1, 2] and len(dl) == 3


def test_collate_error_names_samples():
    class Ragged(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return torch.zeros(3 if i != 4 else 5)

    with pytest.raises(RuntimeError) as e:
        list(DataLoader(Ragged(), batch_size=3))
    msg = str(e.value)
    assert "but got [3] at entry 0 and [5] at entry 1" in msg
    assert "dataset sample 3" in msg and "dataset sample 4" in msg


def test_python_dataset_dicts_and_thread_workers():
    ds = _PySquares()
    ref = list(DataLoader(ds, batch_size=4))
    assert (
        len(ref) == 6 and ref[0]["y"].tolist() == [0, 1, 4, 9] and ref[0]["name"] == ["s0", "s1", "s2", "s3"]
    )
    assert ref[0]["x"].dtype == torch.float32 and ref[0]["info"][0].tolist() == [-1] * 4
    seen = []
    lock = threading.Lock()

    def init(wid):
        with lock:
            seen.append((wid, threading.current_thread().name))

    dl = DataLoader(
        ds, batch_size=4, num_workers=2, worker_init_fn=init, persistent_workers=True, prefetch_factor=3
    )
    for _ in range(2):
        got = list(dl)
        assert [b["y"].tolist() for b in got] == [b["y"].tolist() for b in ref]
        ids = [i for b in got for i in b["info"][0].tolist()]
        nws = [i for b in got for i in b["info"][1].tolist()]
        assert set(ids) <= {0, 1} and set(nws) == {2}
    assert sorted({w for w, _ in seen}) == [0, 1]
    assert get_worker_info() is None


def test_timeout_and_worker_errors():
    dl = DataLoader(_PySquares(4, delay=0.5), batch_size=2, num_workers=1, timeout=0.05)
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.05 seconds"):
        next(iter(dl))

    class Boom(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            raise KeyError(f"bad {i}")

    with pytest.raises(KeyError, match="bad 0"):
        list(DataLoader(Boom(), batch_size=2, num_workers=2))


def test_iterable_dataset():
    class Stream(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    dl = DataLoader(Stream(10), batch_size=4)
    assert [b.tolist() for b in dl] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and len(dl) == 3
    dl = DataLoader(Stream(10), batch_size=4, drop_last=True)
    assert [b.tolist() for b in dl] == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(dl) == 2
    assert [int(x) for x in DataLoader(Stream(3), batch_size=None)] == [0, 1, 2]
    with pytest.raises(
        ValueError,
        match="DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle=True",
    ):
        DataLoader(Stream(3), shuffle=True)
    assert list(ChainDataset([Stream(2), Stream(3)])) == [0, 1, 0, 1, 2]


def test_loader_error_table():
    with pytest.raises(
        ValueError, match="batch_size should be a positive integer value, but got batch_size=0"
    ):
        DataLoader(range(3), batch_size=0)
    with pytest.raises(ValueError, match="^sampler option is mutually exclusive with shuffle$"):
        DataLoader(range(3), shuffle=True, sampler=[0, 1])
    with pytest.raises(
        ValueError,
        match="batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last",
    ):
        DataLoader(range(3), batch_size=2, batch_sampler=[[0, 1]])
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(range(3), num_workers=-1)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(range(3), timeout=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified in multiprocessing"):
        DataLoader(range(3), prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(range(3), persistent_workers=True)
    with pytest.raises(
        ValueError,
        match="batch_size=None option disables auto-batching and is mutually exclusive with drop_last",
    ):
        DataLoader(range(3), batch_size=None, drop_last=True)
    dl = DataLoader(range(3))
    with pytest.raises(
        ValueError, match="batch_size attribute should not be set after DataLoader is initialized"
    ):
        dl.batch_size = 4
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no accelerator is found"):
        list(DataLoader(range(3), pin_memory=True))


def test_loader_misc_api():
    ds = list(range(10))
    dl = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 4, False))
    assert [b.tolist() for b in dl] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert dl.dataset is ds and dl.batch_size is None and len(dl) == 3
    dl = DataLoader(ds, batch_size=3, sampler=[9, 0, 5, 1], collate_fn=lambda b: b)
    assert list(dl) == [[9, 0, 5], [1]]
    it = iter(DataLoader(ds, batch_size=4))
    assert len(it) == 3 and iter(it) is it
    # sized iterable: a tqdm-style consumer sees the right total
    dl = DataLoader(ds, batch_size=3)
    assert len(dl) == 4 and sum(1 for _ in dl) == 4


def test_datasets_compose():
    a = TensorDataset(torch.arange(3))
    b = TensorDataset(torch.arange(10, 14))
    c = a + b
    assert isinstance(c, ConcatDataset) and len(c) == 7 and c[3][0].item() == 10 and c[-1][0].item() == 13
    assert c.cumulative_sizes == [3, 7]
    s = Subset(b, [3, 1])
    assert len(s) == 2 and s[0][0].item() == 13
    assert next(iter(DataLoader(s, batch_size=2)))[0].tolist() == [13, 11]
    sd = StackDataset(a, TensorDataset(torch.arange(3) * 2))
    assert sd[2] == ((torch.tensor(2),), (torch.tensor(4),)) or sd[2][1][0].item() == 4
    sd = StackDataset(x=a, y=a)
    assert set(sd[0]) == {"x", "y"}
    with pytest.raises(NotImplementedError):
        Dataset()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(DataLoader(c, batch_size=2))) == 4
