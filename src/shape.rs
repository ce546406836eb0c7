//! Shape, stride and broadcast arithmetic, with torch's error messages.

use crate::error::{Error, Result};
use smallvec::SmallVec;

pub type Dims = SmallVec<[usize; 6]>;
pub type Strides = SmallVec<[isize; 6]>;

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides, in elements.
pub fn contiguous_strides(shape: &[usize]) -> Strides {
    if shape.len() <= 6 {
        // built in a stack array (no out-of-line from_elem call: every new tensor comes here)
        let mut buf = [0isize; 6];
        let mut acc: isize = 1;
        for i in (0..shape.len()).rev() {
            buf[i] = acc;
            acc *= shape[i].max(1) as isize;
        }
        return SmallVec::from_buf_and_len(buf, shape.len());
    }
    let mut strides: Strides = SmallVec::from_elem(0, shape.len());
    let mut acc: isize = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc *= shape[i].max(1) as isize;
    }
    strides
}

/// Whether (shape, strides) is row-major contiguous (size-1 dims may have any stride, as in torch).
pub fn is_contiguous(shape: &[usize], strides: &[isize]) -> bool {
    let mut expected: isize = 1;
    for i in (0..shape.len()).rev() {
        if shape[i] == 0 {
            return true;
        }
        if shape[i] != 1 {
            if strides[i] != expected {
                return false;
            }
            expected *= shape[i] as isize;
        }
    }
    true
}

/// Wraps a possibly negative dim, raising torch's IndexError text when out of range.
pub fn normalize_dim(dim: i64, ndim: usize) -> Result<usize> {
    // torch treats a 0-d tensor as having one wrappable dim.
    let n = ndim.max(1) as i64;
    if dim < -n || dim >= n {
        return Err(Error::index(format!(
            "Dimension out of range (expected to be in range of [{}, {}], but got {})",
            -n,
            n - 1,
            dim
        )));
    }
    Ok(if dim < 0 {
        (dim + n) as usize
    } else {
        dim as usize
    })
}

/// Like `normalize_dim` for an op that inserts a dim (unsqueeze, stack): range is ndim + 1.
pub fn normalize_dim_insert(dim: i64, ndim: usize) -> Result<usize> {
    normalize_dim(dim, ndim + 1)
}

/// Broadcast two shapes with torch's message on failure.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Dims> {
    let n = a.len().max(b.len());
    let mut out: Dims = SmallVec::from_elem(0, n);
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::runtime(format!(
                "The size of tensor a ({da}) must match the size of tensor b ({db}) at non-singleton dimension {i}"
            )));
        };
    }
    Ok(out)
}

/// Strides that read a tensor of (shape, strides) as if it had the broadcast shape `to`.
pub fn broadcast_strides(shape: &[usize], strides: &[isize], to: &[usize]) -> Strides {
    let lead = to.len() - shape.len();
    let mut out: Strides = SmallVec::from_elem(0, to.len());
    for i in 0..shape.len() {
        out[lead + i] = if shape[i] == 1 && to[lead + i] != 1 {
            0
        } else {
            strides[i]
        };
    }
    out
}

/// Resolves one `-1` in a requested shape, with torch's errors.
pub fn infer_size(requested: &[i64], numel: usize) -> Result<Dims> {
    let mut infer = None;
    let mut known: usize = 1;
    let mut out: Dims = SmallVec::with_capacity(requested.len());
    for (i, &d) in requested.iter().enumerate() {
        if d == -1 {
            if infer.is_some() {
                return Err(Error::runtime("only one dimension can be inferred"));
            }
            infer = Some(i);
            out.push(1);
        } else if d < -1 {
            return Err(Error::runtime(format!("invalid shape dimension {d}")));
        } else {
            known = known
                .checked_mul(d as usize)
                .ok_or_else(|| Error::runtime("shape is too large"))?;
            out.push(d as usize);
        }
    }
    // The message is built only on failure: reshapes sit on hot paths (gradient reshapes).
    let invalid = || {
        let dims: Vec<String> = requested.iter().map(|d| d.to_string()).collect();
        Error::runtime(format!(
            "shape '[{}]' is invalid for input of size {numel}",
            dims.join(", ")
        ))
    };
    match infer {
        Some(i) => {
            if known == 0 || !numel.is_multiple_of(known) {
                return Err(invalid());
            }
            out[i] = numel / known;
        }
        None => {
            if known != numel {
                return Err(invalid());
            }
        }
    }
    Ok(out)
}

/// Strides for viewing (old shape, old strides) as `new_shape` without a copy, if possible (torch's computeStride).
pub fn view_strides(
    old_shape: &[usize],
    old_strides: &[isize],
    new_shape: &[usize],
) -> Option<Strides> {
    let numel = numel(old_shape);
    let mut new_strides: Strides = SmallVec::from_elem(0, new_shape.len());
    if numel == 0 {
        if old_shape == new_shape {
            return Some(old_strides.iter().copied().collect());
        }
        return Some(contiguous_strides(new_shape));
    }
    if old_shape.is_empty() {
        return Some(SmallVec::from_elem(1, new_shape.len()));
    }
    let mut view_d = new_shape.len() as isize - 1;
    let mut chunk_base_stride = *old_strides.last().unwrap();
    let mut tensor_numel: usize = 1;
    let mut view_numel: usize = 1;
    for tensor_d in (0..old_shape.len()).rev() {
        tensor_numel *= old_shape[tensor_d];
        if tensor_d == 0
            || (old_shape[tensor_d - 1] != 1
                && old_strides[tensor_d - 1] != tensor_numel as isize * chunk_base_stride)
        {
            while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1) {
                new_strides[view_d as usize] = view_numel as isize * chunk_base_stride;
                view_numel *= new_shape[view_d as usize];
                view_d -= 1;
            }
            if view_numel != tensor_numel {
                return None;
            }
            if tensor_d > 0 {
                chunk_base_stride = old_strides[tensor_d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    if view_d != -1 {
        return None;
    }
    Some(new_strides)
}

/// "[2, 3]" as torch prints sizes in messages.
pub fn fmt_shape(shape: &[usize]) -> String {
    format!(
        "[{}]",
        shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn broadcast() {
        assert_eq!(
            broadcast_shapes(&[2, 1, 3], &[4, 1]).unwrap().as_slice(),
            &[2, 4, 3]
        );
        let e = broadcast_shapes(&[4, 16], &[4, 3]).unwrap_err();
        assert!(e
            .msg
            .contains("(16) must match the size of tensor b (3) at non-singleton dimension 1"));
    }
    #[test]
    fn dims() {
        assert_eq!(normalize_dim(-1, 2).unwrap(), 1);
        let e = normalize_dim(2, 2).unwrap_err();
        assert_eq!(
            e.msg,
            "Dimension out of range (expected to be in range of [-2, 1], but got 2)"
        );
        assert_eq!(normalize_dim(0, 0).unwrap(), 0);
    }
    #[test]
    fn strides() {
        assert_eq!(contiguous_strides(&[2, 3, 4]).as_slice(), &[12, 4, 1]);
        assert!(is_contiguous(&[2, 1, 3], &[3, 99, 1]));
        assert!(!is_contiguous(&[2, 3], &[1, 2]));
    }
    #[test]
    fn view() {
        // transposed (3,2) view of a (2,3) buffer cannot flatten
        assert!(view_strides(&[3, 2], &[1, 3], &[6]).is_none());
        assert_eq!(
            view_strides(&[2, 3], &[3, 1], &[3, 2]).unwrap().as_slice(),
            &[2, 1]
        );
        assert_eq!(
            view_strides(&[4, 3], &[6, 2], &[2, 2, 3])
                .unwrap()
                .as_slice(),
            &[12, 6, 2]
        );
    }
    #[test]
    fn infer() {
        assert_eq!(infer_size(&[-1, 3], 6).unwrap().as_slice(), &[2, 3]);
        assert!(infer_size(&[-1, 4], 6)
            .unwrap_err()
            .msg
            .contains("shape '[-1, 4]' is invalid for input of size 6"));
    }
}
