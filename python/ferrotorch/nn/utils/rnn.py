"""``torch.nn.utils.rnn.pad_sequence``. Packed sequences need the recurrent layers, which ferrotorch does
not have yet."""

from __future__ import annotations

from ... import _C


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stacks variable-length ``(L_i, *)`` tensors into ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``),
    padded with ``padding_value`` on ``padding_side`` to the longest length ``T``."""
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = longest - s.shape[0]
        if missing:
            pad = _C.full((missing, *s.shape[1:]), padding_value, dtype=s.dtype)
            s = _C.cat([s, pad] if padding_side == "right" else [pad, s])
        padded.append(s)
    return _C.stack(padded, 0 if batch_first else 1)
