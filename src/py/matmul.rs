//! Matrix-product methods and `torch.einsum` for Python; large products run with the GIL released.

use super::tensor::PyTensor;
use crate::error::Result;
use crate::ops::matmul as mm_ops;
use crate::tensor::Tensor;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

/// Above this many multiply-adds the GIL is released (~40 ns, worth it past a few µs of work).
const DETACH_MIN_MACS: usize = 1 << 16;

fn macs(a: &Tensor, b: &Tensor) -> usize {
    // a rough product size: every element of a meets one row/column of b
    a.numel()
        .saturating_mul(b.shape().last().copied().unwrap_or(1).max(1))
}

/// Runs `f(a, b)` with the GIL released when the product is large.
fn run(
    py: Python<'_>,
    a: &Tensor,
    b: &Tensor,
    f: fn(&Tensor, &Tensor) -> Result<Tensor>,
) -> PyResult<Tensor> {
    if macs(a, b) >= DETACH_MIN_MACS {
        let (a, b) = (a.clone(), b.clone());
        Ok(py.detach(move || f(&a, &b))?)
    } else {
        Ok(f(a, b)?)
    }
}

fn other_tensor(o: &Bound<'_, PyAny>, op: &str, arg: &str) -> PyResult<Tensor> {
    match o.cast::<PyTensor>() {
        Ok(t) => Ok(t.borrow().t.clone()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{op}(): argument '{arg}' (position 1) must be Tensor, not {}",
            o.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))),
    }
}

/// Writes `r` into `out=` when given (an empty out is resized, as torch does).
pub(crate) fn finish_out(
    py: Python<'_>,
    r: Tensor,
    out: Option<&Bound<'_, PyTensor>>,
) -> PyResult<Py<PyAny>> {
    match out {
        None => Ok(Bound::new(py, PyTensor::new(r))?.into_any().unbind()),
        Some(o) => {
            {
                let mut ob = o.borrow_mut();
                if ob.t.shape() != r.shape() {
                    if ob.t.numel() != 0 {
                        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                            "out tensor has shape {}, expected {}",
                            crate::shape::fmt_shape(ob.t.shape()),
                            crate::shape::fmt_shape(r.shape())
                        )));
                    }
                    ob.t = Tensor::zeros(r.shape(), ob.t.dtype());
                }
                crate::ops::copy::copy_(&ob.t, &r)?;
            }
            Ok(o.clone().into_any().unbind())
        }
    }
}

#[pymethods]
impl PyTensor {
    #[pyo3(signature = (other, *, out=None))]
    fn matmul(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        let b = other_tensor(other, "matmul", "other")?;
        finish_out(py, run(py, &self.t, &b, mm_ops::matmul)?, out)
    }
    fn __matmul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let Ok(b) = other.cast::<PyTensor>() else {
            return Ok(py.NotImplemented());
        };
        let b = b.borrow().t.clone();
        finish_out(py, run(py, &self.t, &b, mm_ops::matmul)?, None)
    }
    fn __rmatmul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let Ok(a) = other.cast::<PyTensor>() else {
            return Ok(py.NotImplemented());
        };
        let a = a.borrow().t.clone();
        finish_out(py, run(py, &a, &self.t, mm_ops::matmul)?, None)
    }
    #[pyo3(signature = (mat2, *, out=None))]
    fn mm(
        &self,
        py: Python<'_>,
        mat2: &Bound<'_, PyAny>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        let b = other_tensor(mat2, "mm", "mat2")?;
        finish_out(py, run(py, &self.t, &b, mm_ops::mm)?, out)
    }
    #[pyo3(signature = (mat2, *, out=None))]
    fn bmm(
        &self,
        py: Python<'_>,
        mat2: &Bound<'_, PyAny>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        let b = other_tensor(mat2, "bmm", "mat2")?;
        finish_out(py, run(py, &self.t, &b, mm_ops::bmm)?, out)
    }
    #[pyo3(signature = (tensor, *, out=None))]
    fn dot(
        &self,
        py: Python<'_>,
        tensor: &Bound<'_, PyAny>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        let b = other_tensor(tensor, "dot", "tensor")?;
        finish_out(py, mm_ops::dot(&self.t, &b)?, out)
    }
    #[pyo3(signature = (other, *, out=None))]
    fn inner(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        let b = other_tensor(other, "inner", "other")?;
        let r = if self.t.ndim() == 0 || b.ndim() == 0 {
            crate::ops::elementwise::mul(&self.t, &b)?
        } else {
            // move b's last dim to the front, flatten the rest: (k, prod(b.shape[:-1]))
            let mut perm: Vec<i64> = vec![b.ndim() as i64 - 1];
            perm.extend(0..b.ndim() as i64 - 1);
            let bt = crate::ops::movement::permute(&b, &perm)?;
            let bs: Vec<usize> = bt.shape().to_vec();
            let k = bs[0];
            let b2 = crate::ops::movement::reshape_usize(&bt, &[k, bs[1..].iter().product()])?;
            let r = mm_ops::matmul(&self.t, &b2)?;
            let mut shape: Vec<usize> = self.t.shape()[..self.t.ndim() - 1].to_vec();
            shape.extend_from_slice(&bs[1..]);
            crate::ops::movement::reshape_usize(&r, &shape)?
        };
        finish_out(py, r, out)
    }
    #[pyo3(signature = (vec, *, out=None))]
    fn mv(
        &self,
        py: Python<'_>,
        vec: &Bound<'_, PyAny>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        let b = other_tensor(vec, "mv", "vec")?;
        finish_out(py, run(py, &self.t, &b, mm_ops::mv)?, out)
    }
    #[pyo3(signature = (vec2, *, out=None))]
    fn outer(
        &self,
        py: Python<'_>,
        vec2: &Bound<'_, PyAny>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        let b = other_tensor(vec2, "outer", "vec2")?;
        finish_out(py, mm_ops::outer(&self.t, &b)?, out)
    }
    #[pyo3(signature = (vec2, *, out=None))]
    fn ger(
        &self,
        py: Python<'_>,
        vec2: &Bound<'_, PyAny>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        let b = other_tensor(vec2, "ger", "vec2")?;
        finish_out(py, mm_ops::outer(&self.t, &b)?, out)
    }
    #[pyo3(signature = (mat1, mat2, *, beta=1.0, alpha=1.0, out=None))]
    fn addmm(
        &self,
        py: Python<'_>,
        mat1: &Bound<'_, PyAny>,
        mat2: &Bound<'_, PyAny>,
        beta: f64,
        alpha: f64,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        let a = other_tensor(mat1, "addmm", "mat1")?;
        let b = other_tensor(mat2, "addmm", "mat2")?;
        let input = self.t.clone();
        let r = if macs(&a, &b) >= DETACH_MIN_MACS {
            py.detach(move || mm_ops::addmm(&input, &a, &b, beta, alpha))?
        } else {
            mm_ops::addmm(&input, &a, &b, beta, alpha)?
        };
        finish_out(py, r, out)
    }
}

/// `torch.einsum(equation, *operands)` (operands may also be one list or tuple).
#[pyfunction]
#[pyo3(signature = (equation, *operands))]
fn einsum(py: Python<'_>, equation: &str, operands: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
    let mut items: Vec<Bound<'_, PyAny>> = operands.iter().collect();
    if items.len() == 1
        && (items[0].is_instance_of::<PyList>() || items[0].is_instance_of::<PyTuple>())
    {
        let first = items.remove(0);
        items = first.try_iter()?.collect::<PyResult<_>>()?;
    }
    let ts: Vec<Tensor> = items
        .iter()
        .enumerate()
        .map(|(i, o)| {
            o.cast::<PyTensor>()
                .map(|t| t.borrow().t.clone())
                .map_err(|_| {
                    PyTypeError::new_err(format!(
                        "einsum(): expected Tensor as element {i} in argument 1, but got {}",
                        o.get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                    ))
                })
        })
        .collect::<PyResult<_>>()?;
    let big = ts.iter().map(|t| t.numel()).sum::<usize>() >= DETACH_MIN_MACS;
    let eq = equation.to_string();
    let r = if big {
        py.detach(move || mm_ops::einsum(&eq, &ts))?
    } else {
        mm_ops::einsum(&eq, &ts)?
    };
    Ok(r.into())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(einsum, m)?)?;
    Ok(())
}
