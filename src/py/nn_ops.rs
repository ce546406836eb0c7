//! Python bindings of the fused nn kernels: softmax family, pointwise activations and class-index losses.

use super::convert;
use super::tensor::PyTensor;
use crate::ops::activation as act;
use crate::ops::loss;
use crate::tensor::Tensor;
use pyo3::prelude::*;

/// Casts to `dtype` first when given (torch's `softmax(x, dim, dtype=)`).
fn cast_opt(t: &Tensor, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Tensor> {
    Ok(match convert::opt_dtype(dtype)? {
        Some(dt) if dt != t.dtype() => crate::ops::copy::to_dtype(t, dt, false)?,
        _ => t.clone(),
    })
}

/// Runs `f` with the GIL released when the tensor is large.
fn big<R: Send>(py: Python<'_>, n: usize, f: impl FnOnce() -> R + Send) -> R {
    if n >= 1 << 16 {
        py.detach(f)
    } else {
        f()
    }
}

#[pymethods]
impl PyTensor {
    #[pyo3(signature = (dim, dtype=None))]
    fn softmax(
        &self,
        py: Python<'_>,
        dim: i64,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let x = cast_opt(&self.t, dtype)?;
        Ok(big(py, x.numel(), || act::softmax(&x, dim))?.into())
    }

    #[pyo3(signature = (dim, dtype=None))]
    fn log_softmax(
        &self,
        py: Python<'_>,
        dim: i64,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let x = cast_opt(&self.t, dtype)?;
        Ok(big(py, x.numel(), || act::log_softmax(&x, dim))?.into())
    }
}

#[pyfunction]
fn _nn_gelu(py: Python<'_>, x: PyRef<'_, PyTensor>, approximate: &str) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::gelu(&x, approximate))?.into())
}

#[pyfunction]
fn _nn_softplus(
    py: Python<'_>,
    x: PyRef<'_, PyTensor>,
    beta: f64,
    threshold: f64,
) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::softplus(&x, beta, threshold))?.into())
}

#[pyfunction]
fn _nn_mish(py: Python<'_>, x: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::mish(&x))?.into())
}

#[pyfunction]
fn _nn_silu(py: Python<'_>, x: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::silu(&x))?.into())
}

#[pyfunction]
fn _nn_elu(py: Python<'_>, x: PyRef<'_, PyTensor>, alpha: f64) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::elu(&x, alpha))?.into())
}

#[pyfunction]
fn _nn_leaky_relu(py: Python<'_>, x: PyRef<'_, PyTensor>, slope: f64) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::leaky_relu(&x, slope))?.into())
}

#[pyfunction]
fn _nn_hardtanh(py: Python<'_>, x: PyRef<'_, PyTensor>, lo: f64, hi: f64) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::hardtanh(&x, lo, hi))?.into())
}

#[pyfunction]
fn _nn_selu(py: Python<'_>, x: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::selu(&x))?.into())
}

#[pyfunction]
fn _nn_celu(py: Python<'_>, x: PyRef<'_, PyTensor>, alpha: f64) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::celu(&x, alpha))?.into())
}

#[pyfunction]
fn _nn_hardswish(py: Python<'_>, x: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::hardswish(&x))?.into())
}

#[pyfunction]
fn _nn_hardsigmoid(py: Python<'_>, x: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::hardsigmoid(&x))?.into())
}

#[pyfunction]
fn _nn_softshrink(py: Python<'_>, x: PyRef<'_, PyTensor>, lambd: f64) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::softshrink(&x, lambd))?.into())
}

#[pyfunction]
fn _nn_hardshrink(py: Python<'_>, x: PyRef<'_, PyTensor>, lambd: f64) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::hardshrink(&x, lambd))?.into())
}

#[pyfunction]
fn _nn_threshold(
    py: Python<'_>,
    x: PyRef<'_, PyTensor>,
    threshold: f64,
    value: f64,
) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::threshold(&x, threshold, value))?.into())
}

#[pyfunction]
fn _nn_prelu(
    py: Python<'_>,
    x: PyRef<'_, PyTensor>,
    weight: PyRef<'_, PyTensor>,
) -> PyResult<PyTensor> {
    let (x, w) = (x.t.clone(), weight.t.clone());
    Ok(big(py, x.numel(), || act::prelu(&x, &w))?.into())
}

#[pyfunction]
fn _nn_glu(py: Python<'_>, x: PyRef<'_, PyTensor>, dim: i64) -> PyResult<PyTensor> {
    let x = x.t.clone();
    Ok(big(py, x.numel(), || act::glu(&x, dim))?.into())
}

/// torch's in-place form: `x` is overwritten with `f(x)` through `Tensor.copy_` (on a clone of `x`
/// when autograd tracks it, so the tensors `f`'s backward saved are not the ones overwritten).
fn write_back<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyTensor>,
    f: impl FnOnce(&Tensor) -> crate::Result<Tensor> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    let t = x.borrow().t.clone();
    let src = if t.requires_grad() {
        x.call_method0("clone")?
            .extract::<PyRef<'_, PyTensor>>()?
            .t
            .clone()
    } else {
        t
    };
    let out: PyTensor = big(py, src.numel(), || f(&src))?.into();
    x.call_method1("copy_", (out,))
}

/// `torch.selu(input)`.
#[pyfunction]
fn selu(py: Python<'_>, input: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
    _nn_selu(py, input)
}

/// `torch.selu_(input)`: in place.
#[pyfunction]
fn selu_<'py>(py: Python<'py>, input: &Bound<'py, PyTensor>) -> PyResult<Bound<'py, PyAny>> {
    write_back(py, input, act::selu)
}

/// `torch.celu(input, alpha=1.0)`.
#[pyfunction]
#[pyo3(signature = (input, alpha=1.0))]
fn celu(py: Python<'_>, input: PyRef<'_, PyTensor>, alpha: f64) -> PyResult<PyTensor> {
    _nn_celu(py, input, alpha)
}

/// `torch.celu_(input, alpha=1.0)`: in place.
#[pyfunction]
#[pyo3(signature = (input, alpha=1.0))]
fn celu_<'py>(
    py: Python<'py>,
    input: &Bound<'py, PyTensor>,
    alpha: f64,
) -> PyResult<Bound<'py, PyAny>> {
    write_back(py, input, |x| act::celu(x, alpha))
}

/// `torch.prelu(input, weight)`.
#[pyfunction]
fn prelu(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    weight: PyRef<'_, PyTensor>,
) -> PyResult<PyTensor> {
    _nn_prelu(py, input, weight)
}

/// `torch.hardshrink(input, lambd=0.5)`.
#[pyfunction]
#[pyo3(signature = (input, lambd=0.5))]
fn hardshrink(py: Python<'_>, input: PyRef<'_, PyTensor>, lambd: f64) -> PyResult<PyTensor> {
    _nn_hardshrink(py, input, lambd)
}

/// `torch.threshold(input, threshold, value)`.
#[pyfunction]
fn threshold(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    threshold: f64,
    value: f64,
) -> PyResult<PyTensor> {
    _nn_threshold(py, input, threshold, value)
}

/// `torch.threshold_(input, threshold, value)`: in place.
#[pyfunction]
fn threshold_<'py>(
    py: Python<'py>,
    input: &Bound<'py, PyTensor>,
    threshold: f64,
    value: f64,
) -> PyResult<Bound<'py, PyAny>> {
    write_back(py, input, |x| act::threshold(x, threshold, value))
}

#[pymethods]
impl PyTensor {
    /// `Tensor.prelu(weight)`.
    fn prelu(&self, py: Python<'_>, weight: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let (x, w) = (self.t.clone(), weight.t.clone());
        Ok(big(py, x.numel(), || act::prelu(&x, &w))?.into())
    }

    /// `Tensor.hardshrink(lambd=0.5)`.
    #[pyo3(signature = (lambd=0.5))]
    fn hardshrink(&self, py: Python<'_>, lambd: f64) -> PyResult<PyTensor> {
        let x = self.t.clone();
        Ok(big(py, x.numel(), || act::hardshrink(&x, lambd))?.into())
    }
}

/// Class-index NLL (`fused=True`: cross_entropy on logits); `reduction` 0 none, 1 mean, 2 sum.
#[pyfunction]
#[pyo3(signature = (input, target, weight, ignore_index, label_smoothing, reduction, fused))]
#[allow(clippy::too_many_arguments)]
fn _nn_nll(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    target: PyRef<'_, PyTensor>,
    weight: Option<PyRef<'_, PyTensor>>,
    ignore_index: i64,
    label_smoothing: f64,
    reduction: i64,
    fused: bool,
) -> PyResult<PyTensor> {
    let (x, t) = (input.t.clone(), target.t.clone());
    let w = weight.map(|w| w.t.clone());
    let red = loss::Reduction::from_i64(reduction)?;
    Ok(big(py, x.numel(), || {
        loss::nll(
            &x,
            &t,
            w.as_ref(),
            ignore_index,
            label_smoothing,
            red,
            fused,
        )
    })?
    .into())
}

/// `binary_cross_entropy_with_logits` as one op; `reduction` 0 none, 1 mean, 2 sum.
#[pyfunction]
#[pyo3(signature = (input, target, weight, pos_weight, reduction))]
fn _nn_bce_with_logits(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    target: PyRef<'_, PyTensor>,
    weight: Option<PyRef<'_, PyTensor>>,
    pos_weight: Option<PyRef<'_, PyTensor>>,
    reduction: i64,
) -> PyResult<PyTensor> {
    let (x, t) = (input.t.clone(), target.t.clone());
    let w = weight.map(|w| w.t.clone());
    let pw = pos_weight.map(|p| p.t.clone());
    let red = loss::Reduction::from_i64(reduction)?;
    Ok(big(py, x.numel(), || {
        crate::ops::loss_logits::binary_cross_entropy_with_logits(
            &x,
            &t,
            w.as_ref(),
            pw.as_ref(),
            red,
        )
    })?
    .into())
}

/// `mse_loss` of same-shape operands as one op; `reduction` 0 none, 1 mean, 2 sum.
#[pyfunction]
#[pyo3(signature = (input, target, reduction))]
fn _nn_mse_loss(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    target: PyRef<'_, PyTensor>,
    reduction: i64,
) -> PyResult<PyTensor> {
    let (x, t) = (input.t.clone(), target.t.clone());
    let red = loss::Reduction::from_i64(reduction)?;
    Ok(big(py, x.numel(), || {
        crate::ops::loss_mse::mse_loss(&x, &t, red)
    })?
    .into())
}

/// layer_norm over the trailing `k` elements, weight/bias optional.
#[pyfunction]
#[pyo3(signature = (x, k, weight, bias, eps))]
fn _nn_layer_norm(
    py: Python<'_>,
    x: PyRef<'_, PyTensor>,
    k: usize,
    weight: Option<PyRef<'_, PyTensor>>,
    bias: Option<PyRef<'_, PyTensor>>,
    eps: f64,
) -> PyResult<PyTensor> {
    let x = x.t.clone();
    let (w, b) = (weight.map(|t| t.t.clone()), bias.map(|t| t.t.clone()));
    Ok(big(py, x.numel(), || {
        act::layer_norm(&x, k, w.as_ref(), b.as_ref(), eps)
    })?
    .into())
}

/// Raises `message` (IndexError when `index_error`, else RuntimeError) unless lo <= t <= hi
/// everywhere; an op of its own so `fit` replays the check on every batch.
#[pyfunction]
#[pyo3(signature = (t, lo, hi, message, index_error=false))]
fn _check_range(
    t: PyRef<'_, PyTensor>,
    lo: f64,
    hi: f64,
    message: &str,
    index_error: bool,
) -> PyResult<()> {
    let err = if index_error {
        crate::Error::index(message)
    } else {
        crate::Error::runtime(message)
    };
    Ok(crate::ops::checks::check_range(&t.t, lo, hi, &err)?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_check_range, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_gelu, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_softplus, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_bce_with_logits, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_mse_loss, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_mish, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_silu, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_elu, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_leaky_relu, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_hardtanh, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_selu, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_celu, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_hardswish, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_hardsigmoid, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_softshrink, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_hardshrink, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_threshold, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_prelu, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_glu, m)?)?;
    m.add_function(wrap_pyfunction!(selu, m)?)?;
    m.add_function(wrap_pyfunction!(selu_, m)?)?;
    m.add_function(wrap_pyfunction!(celu, m)?)?;
    m.add_function(wrap_pyfunction!(celu_, m)?)?;
    m.add_function(wrap_pyfunction!(prelu, m)?)?;
    m.add_function(wrap_pyfunction!(hardshrink, m)?)?;
    m.add_function(wrap_pyfunction!(threshold, m)?)?;
    m.add_function(wrap_pyfunction!(threshold_, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_nll, m)?)?;
    m.add_function(wrap_pyfunction!(_nn_layer_norm, m)?)?;
    Ok(())
}
