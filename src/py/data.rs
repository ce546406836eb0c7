//! Bindings for DataLoader's fast path: `_C._data_gather` and `_C._data_image_batch` (GIL released).

use super::tensor::PyTensor;
use crate::data::{self, Geometry, ImageSpec};
use crate::tensor::Tensor;
use pyo3::prelude::*;

/// Gathers the same sample indices from every tensor of a TensorDataset in one call.
#[pyfunction]
fn _data_gather(
    py: Python<'_>,
    tensors: Vec<PyRef<'_, PyTensor>>,
    idx: Vec<i64>,
) -> PyResult<Vec<PyTensor>> {
    let ts: Vec<Tensor> = tensors.iter().map(|t| t.t.clone()).collect();
    let out = py.detach(move || {
        ts.iter()
            .map(|t| data::gather(t, &idx))
            .collect::<crate::Result<Vec<_>>>()
    })?;
    Ok(out.into_iter().map(PyTensor::new).collect())
}

/// One batch of images through the fused gather + geometry + ToTensor + Normalize kernel.
#[pyfunction]
#[pyo3(signature = (src, idx, geometry, h_out, w_out, mean, std, fill))]
#[allow(clippy::too_many_arguments)]
fn _data_image_batch(
    py: Python<'_>,
    src: PyRef<'_, PyTensor>,
    idx: Vec<i64>,
    geometry: Vec<(i64, i64, i64, i64)>,
    h_out: usize,
    w_out: usize,
    mean: Vec<f32>,
    std: Vec<f32>,
    fill: Vec<f32>,
) -> PyResult<PyTensor> {
    let t = src.t.clone();
    let geo: Vec<Geometry> = geometry
        .into_iter()
        .map(|(ay, sy, ax, sx)| Geometry { ay, sy, ax, sx })
        .collect();
    let spec = ImageSpec {
        h_out,
        w_out,
        mean,
        std,
        fill,
    };
    let out = py.detach(move || data::image_batch(&t, &idx, &geo, &spec))?;
    Ok(PyTensor::new(out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_data_gather, m)?)?;
    m.add_function(wrap_pyfunction!(_data_image_batch, m)?)?;
    Ok(())
}
