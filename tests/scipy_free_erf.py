"""erf for NumPy arrays without SciPy (math.erf elementwise)."""

import math

import numpy as np


def erf(v):
    return np.vectorize(lambda x: math.erf(x) if not math.isnan(x) else math.nan, otypes=[np.float64])(v)
