"""torch.utils: the data-loading toolkit (``torch.utils.data``)."""

from . import data  # noqa: F401
