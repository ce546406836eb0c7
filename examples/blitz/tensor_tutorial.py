"""The steps of PyTorch's "60 Minute Blitz: Tensors" tutorial, written for ferrotorch."""

# %%
import ferrotorch as torch
import numpy as np

# %% Making tensors: from Python lists, from NumPy arrays, from other tensors
values = [[1, 2], [3, 4]]
from_list = torch.tensor(values)

array = np.array(values)
from_array = torch.from_numpy(array)

like_ones = torch.ones_like(from_list)  # keeps from_list's shape and dtype
print(f"ones_like:\n {like_ones} \n")

like_random = torch.rand_like(from_list, dtype=torch.float)  # same shape, dtype overridden
print(f"rand_like:\n {like_random} \n")

# %% From a shape tuple
dims = (
    2,
    3,
)
uniform = torch.rand(dims)
all_ones = torch.ones(dims)
all_zeros = torch.zeros(dims)

print(f"rand:\n {uniform} \n")
print(f"ones:\n {all_ones} \n")
print(f"zeros:\n {all_zeros}")

# %% What a tensor knows about itself
t = torch.rand(3, 4)

print(f"shape: {t.shape}")
print(f"dtype: {t.dtype}")
print(f"device: {t.device}")

# %% Moving to an accelerator, when there is one
if torch.cuda.is_available():
    t = t.to("cuda")
    print(f"device after the move: {t.device}")

# %% Indexing and slicing the NumPy way
t = torch.ones(4, 4)
t[:, 1] = 0
print(t)

# %% Joining along a dimension
side_by_side = torch.cat([t, t, t], dim=1)
print(side_by_side)

# %% Products: element by element, and matrix
print(f"t.mul(t):\n {t.mul(t)} \n")
print(f"t * t:\n {t * t}")

print(f"t.matmul(t.T):\n {t.matmul(t.T)} \n")
print(f"t @ t.T:\n {t @ t.T}")

# %% In-place operations end in an underscore
print(t, "\n")
t.add_(5)
print(t)

# %% NumPy bridge: a tensor and its array share memory
ones_t = torch.ones(5)
print(f"tensor: {ones_t}")
as_array = ones_t.numpy()
print(f"array: {as_array}")

ones_t.add_(1)  # the array sees the change
print(f"tensor: {ones_t}")
print(f"array: {as_array}")

# %% ... and the other way round
ones_a = np.ones(5)
shared = torch.from_numpy(ones_a)

np.add(ones_a, 1, out=ones_a)  # the tensor sees the change
print(f"tensor: {shared}")
print(f"array: {ones_a}")
