"""The steps of PyTorch's "Learn the Basics: Tensors" tutorial, written for ferrotorch."""

# %%
import ferrotorch as torch
import numpy as np

# %% Making tensors: from Python lists, from NumPy arrays, from other tensors, from a shape
grid = [[5, 0], [2, 7]]
from_list = torch.tensor(grid)
from_numpy = torch.from_numpy(np.array(grid))
print(f"from a list:\n{from_list}\nfrom NumPy:\n{from_numpy}\n")

same_shape_ones = torch.ones_like(from_list)  # shape and dtype of from_list
print(f"ones_like:\n{same_shape_ones}\n")
uniform = torch.rand_like(from_list, dtype=torch.float)  # same shape, float dtype
print(f"rand_like as float:\n{uniform}\n")

size = (3, 2)
for maker in (torch.rand, torch.ones, torch.zeros):
    print(f"{maker.__name__}{size}:\n{maker(size)}\n")

# %% What a tensor knows about itself
m = torch.rand(2, 5)
print("shape:", m.shape)
print("dtype:", m.dtype)
print("device:", m.device)

# %% Operations
if torch.accelerator.is_available():  # nothing happens on a CPU-only machine
    m = m.to(torch.accelerator.current_accelerator())

# indexing and slicing work as in NumPy
board = torch.ones(3, 5)
print("row 0:", board[0])
print("column 0:", board[:, 0])
print("last column:", board[..., -1])
board[:, 2] = 0
print(board)

# joining along an existing dimension
print(torch.cat([board, board], dim=1))
print(torch.cat([board, board], dim=0).shape)

# matrix product, three ways
gram = board @ board.T
gram2 = board.matmul(board.T)
gram3 = torch.empty_like(gram)
torch.matmul(board, board.T, out=gram3)
print(gram)
print(torch.equal(gram, gram2), torch.equal(gram, gram3))

# elementwise product, three ways
sq = board * board
sq2 = board.mul(board)
sq3 = torch.rand_like(board)
torch.mul(board, board, out=sq3)
print(torch.equal(sq, sq2), torch.equal(sq, sq3))

# a one-element tensor turns into a Python number with item()
total = board.sum()
number = total.item()
print(total, number, type(number))

# methods ending in an underscore change the tensor itself
board.mul_(3)
print(board)
board.sub_(1)
print(board)

# %% Tensors and NumPy arrays can share memory
ones = torch.ones(4)
view = ones.numpy()
ones.add_(2)  # seen through the array too
print("tensor:", ones)
print("array: ", view)

arr = np.zeros(4)
shared = torch.from_numpy(arr)
np.add(arr, 0.5, out=arr)  # seen through the tensor too
print("tensor:", shared)
print("array: ", arr)
