//! The `Tensor` Python class: construction, attributes, Python protocols, conversions, autograd API.

use super::convert::{self, operand};
use super::dtype::{check_device, PyDType, PyDevice};
use crate::autograd;
use crate::dtype::{DType, Element};
use crate::ops::{self, elementwise as ew};
use crate::tensor::Tensor;
use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};

/// Whether `float()` of a tensor requiring grad has warned yet (torch warns once per process).
static SCALAR_WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[pyclass(name = "Tensor", module = "ferrotorch", subclass, dict, weakref)]
pub struct PyTensor {
    pub t: Tensor,
}

impl PyTensor {
    pub fn new(t: Tensor) -> Self {
        PyTensor { t }
    }
}

impl From<Tensor> for PyTensor {
    fn from(t: Tensor) -> Self {
        PyTensor { t }
    }
}

static SIZE_CLS: PyOnceLock<Py<pyo3::types::PyType>> = PyOnceLock::new();
static PYHELPERS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// `torch.Size(dims)`.
pub fn make_size<'py>(py: Python<'py>, dims: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    let cls = SIZE_CLS.import(py, "ferrotorch._size", "Size")?;
    cls.call1((PyTuple::new(py, dims)?,))
}

/// Calls a helper in the pure-Python part of the package (printing, indexing fallbacks).
pub fn py_helper<'py>(py: Python<'py>, module: &str, name: &str) -> PyResult<Bound<'py, PyAny>> {
    if module == "ferrotorch._tensor_str" {
        let m = PYHELPERS.get_or_try_init(py, || py.import(module).map(|m| m.unbind()))?;
        return m.bind(py).getattr(name);
    }
    py.import(module)?.getattr(name)
}

/// The item of a one-element tensor as a Python number.
pub fn item_of<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    crate::graph::capture::value_read(".item()");
    if t.numel() != 1 {
        return Err(PyRuntimeError::new_err(format!(
            "a Tensor with {} elements cannot be converted to Scalar",
            t.numel()
        )));
    }
    Ok(match t.dtype() {
        DType::F32 => (t.get_flat::<f32>(0) as f64).into_pyobject(py)?.into_any(),
        DType::F64 => t.get_flat::<f64>(0).into_pyobject(py)?.into_any(),
        DType::Bool => pyo3::types::PyBool::new(py, t.get_flat::<bool>(0))
            .to_owned()
            .into_any(),
        dt => crate::dispatch!(dt, T => t.get_flat::<T>(0).to_i64().into_pyobject(py)?.into_any()),
    })
}

fn tolist_rec<'py>(
    py: Python<'py>,
    t: &Tensor,
    dim: usize,
    off: isize,
) -> PyResult<Bound<'py, PyAny>> {
    if dim == t.ndim() {
        let one = t.view_parts(Default::default(), Default::default(), off as usize);
        return item_of(py, &one);
    }
    let list = pyo3::types::PyList::empty(py);
    for i in 0..t.shape()[dim] {
        list.append(tolist_rec(
            py,
            t,
            dim + 1,
            off + i as isize * t.strides()[dim],
        )?)?;
    }
    Ok(list.into_any())
}

pub fn tolist<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    tolist_rec(py, t, 0, t.offset() as isize)
}

fn type_name(dt: DType) -> &'static str {
    match dt {
        DType::F32 => "torch.FloatTensor",
        DType::F64 => "torch.DoubleTensor",
        DType::I64 => "torch.LongTensor",
        DType::I32 => "torch.IntTensor",
        DType::U8 => "torch.ByteTensor",
        DType::Bool => "torch.BoolTensor",
    }
}

pub fn dtype_from_type_name(s: &str) -> PyResult<DType> {
    Ok(match s.trim_start_matches("torch.") {
        "FloatTensor" => DType::F32,
        "DoubleTensor" => DType::F64,
        "LongTensor" => DType::I64,
        "IntTensor" => DType::I32,
        "ByteTensor" => DType::U8,
        "BoolTensor" => DType::Bool,
        other => return Err(PyValueError::new_err(format!("invalid type: '{other}'"))),
    })
}

#[pymethods]
impl PyTensor {
    /// The legacy constructor: `Tensor(2, 3)` (uninitialised sizes), `Tensor([1, 2])` (data, float32),
    /// `Tensor(tensor)` (an alias).
    #[new]
    #[pyo3(signature = (*args, **kwargs))]
    fn py_new(args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        if let Some(k) = kwargs {
            if let Some(d) = k.get_item("device")? {
                check_device(Some(&d))?;
            }
        }
        if args.is_empty() {
            return Ok(Tensor::zeros(&[0], crate::dtype::default_dtype()).into());
        }
        let first = args.get_item(0)?;
        if args.len() == 1 {
            if let Ok(t) = first.cast::<PyTensor>() {
                return Ok(t.borrow().t.alias().into());
            }
            if !first.is_instance_of::<pyo3::types::PyInt>() {
                let t = convert::tensor_from_data(&first, None)?;
                return Ok(t.to_dtype(crate::dtype::default_dtype()).into());
            }
        }
        let s = convert::sizes(args)?;
        let s = ops::creation::check_sizes("Tensor", &s)?;
        Ok(Tensor::zeros(&s, crate::dtype::default_dtype()).into())
    }

    // ---- attributes ----

    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        make_size(py, self.t.shape())
    }
    #[pyo3(signature = (dim=None))]
    fn size<'py>(&self, py: Python<'py>, dim: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => make_size(py, self.t.shape()),
            Some(d) => {
                let d = crate::shape::normalize_dim(d, self.t.ndim())?;
                if self.t.ndim() == 0 {
                    return Err(PyIndexError::new_err(
                        "Dimension specified as 0 but tensor has no dimensions",
                    ));
                }
                Ok(self.t.shape()[d].into_pyobject(py)?.into_any())
            }
        }
    }
    #[getter]
    fn dtype(&self) -> PyDType {
        PyDType::of(self.t.dtype())
    }
    #[getter(device)]
    fn device_attr(&self) -> PyDevice {
        PyDevice {
            kind: "cpu".into(),
            index: None,
        }
    }
    #[getter]
    fn is_cuda(&self) -> bool {
        false
    }
    #[getter]
    fn is_cpu(&self) -> bool {
        true
    }
    #[getter]
    fn ndim(&self) -> usize {
        self.t.ndim()
    }
    fn dim(&self) -> usize {
        self.t.ndim()
    }
    fn ndimension(&self) -> usize {
        self.t.ndim()
    }
    fn numel(&self) -> usize {
        self.t.numel()
    }
    fn nelement(&self) -> usize {
        self.t.numel()
    }
    #[pyo3(signature = (dim=None))]
    fn stride<'py>(&self, py: Python<'py>, dim: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => Ok(PyTuple::new(py, self.t.strides())?.into_any()),
            Some(d) => {
                let d = crate::shape::normalize_dim(d, self.t.ndim())?;
                Ok(self.t.strides()[d].into_pyobject(py)?.into_any())
            }
        }
    }
    #[pyo3(signature = (memory_format=None))]
    fn is_contiguous(&self, memory_format: Option<&Bound<'_, PyAny>>) -> bool {
        let _ = memory_format;
        self.t.is_contiguous()
    }
    fn element_size(&self) -> usize {
        self.t.dtype().size()
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.t.dtype().size()
    }
    #[getter]
    fn nbytes(&self) -> usize {
        self.t.numel() * self.t.dtype().size()
    }
    fn data_ptr(&self) -> usize {
        self.t.data_ptr_addr()
    }
    fn storage_offset(&self) -> usize {
        self.t.offset()
    }
    fn is_floating_point(&self) -> bool {
        self.t.dtype().is_float()
    }
    fn is_complex(&self) -> bool {
        false
    }
    fn is_signed(&self) -> bool {
        !matches!(self.t.dtype(), DType::Bool | DType::U8)
    }
    fn get_device(&self) -> i64 {
        -1
    }
    #[getter]
    fn layout<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_helper(py, "ferrotorch._size", "strided")
    }

    // ---- autograd attributes ----

    #[getter]
    fn get_requires_grad(&self) -> bool {
        self.t.requires_grad()
    }
    #[setter]
    fn set_requires_grad(&self, on: bool) -> PyResult<()> {
        Ok(self.t.set_requires_grad(on)?)
    }
    #[pyo3(signature = (requires_grad=true))]
    fn requires_grad_(slf: Bound<'_, Self>, requires_grad: bool) -> PyResult<Bound<'_, Self>> {
        slf.borrow().t.set_requires_grad(requires_grad)?;
        Ok(slf)
    }
    #[getter]
    fn is_leaf(&self) -> bool {
        self.t.is_leaf()
    }
    #[getter]
    fn get_grad(&self) -> Option<PyTensor> {
        self.t.grad().map(PyTensor::new)
    }
    #[setter]
    fn set_grad(&self, g: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let g = match g {
            None => None,
            Some(g) if g.is_none() => None,
            Some(g) => Some(convert::tensor_arg(g, "grad", "grad")?),
        };
        if let Some(g) = &g {
            if g.dtype() != self.t.dtype() {
                return Err(PyRuntimeError::new_err(format!(
                    "assigned grad has data of a different type: expected {}, got {}",
                    type_name(self.t.dtype()),
                    type_name(g.dtype())
                )));
            }
        }
        Ok(self.t.set_grad(g)?)
    }
    #[getter]
    fn grad_fn(&self) -> Option<super::autograd::PyNode> {
        self.t
            .grad_fn()
            .map(|n| super::autograd::PyNode { node: n })
    }
    #[getter]
    fn get_data(&self) -> PyTensor {
        let out = self.t.alias();
        crate::graph::capture::derived("data", &self.t, &out, Tensor::alias);
        out.into()
    }
    #[setter]
    fn set_data(&mut self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let d = convert::tensor_arg(data, "data", "data")?;
        self.t = self.t.with_data_of(&d);
        Ok(())
    }
    #[getter]
    fn retains_grad(&self) -> bool {
        self.t.retains_grad()
    }
    fn retain_grad(&self) -> PyResult<()> {
        Ok(self.t.retain_grad()?)
    }
    #[pyo3(signature = (*size, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
    fn new_zeros(
        &self,
        size: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        layout: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
        pin_memory: bool,
    ) -> PyResult<PyTensor> {
        let _ = (layout, pin_memory);
        use super::functions::{new_factory, NewFill};
        new_factory(
            "new_zeros",
            &self.t,
            size,
            NewFill::Zeros,
            dtype,
            device,
            requires_grad,
        )
    }
    #[pyo3(signature = (*size, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
    fn new_ones(
        &self,
        size: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        layout: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
        pin_memory: bool,
    ) -> PyResult<PyTensor> {
        let _ = (layout, pin_memory);
        use super::functions::{new_factory, NewFill};
        new_factory(
            "new_ones",
            &self.t,
            size,
            NewFill::Ones,
            dtype,
            device,
            requires_grad,
        )
    }
    #[pyo3(signature = (*size, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
    fn new_empty(
        &self,
        size: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        layout: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
        pin_memory: bool,
    ) -> PyResult<PyTensor> {
        let _ = (layout, pin_memory);
        use super::functions::{new_factory, NewFill};
        new_factory(
            "new_empty",
            &self.t,
            size,
            NewFill::Empty,
            dtype,
            device,
            requires_grad,
        )
    }
    #[pyo3(signature = (size, fill_value, *, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
    #[allow(clippy::too_many_arguments)]
    fn new_full(
        &self,
        py: Python<'_>,
        size: &Bound<'_, PyAny>,
        fill_value: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
        layout: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
        pin_memory: bool,
    ) -> PyResult<PyTensor> {
        let _ = (layout, pin_memory);
        use super::functions::{new_factory, NewFill};
        let size = PyTuple::new(py, [size])?;
        let fill = NewFill::Full(fill_value);
        new_factory(
            "new_full",
            &self.t,
            &size,
            fill,
            dtype,
            device,
            requires_grad,
        )
    }
    #[pyo3(signature = (data, *, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
    #[allow(clippy::too_many_arguments)]
    fn new_tensor(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
        layout: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
        pin_memory: bool,
    ) -> PyResult<PyTensor> {
        let _ = (layout, pin_memory);
        super::functions::new_tensor(py, &self.t, data, dtype, device, requires_grad)
    }
    fn detach(&self) -> PyTensor {
        let out = self.t.alias();
        crate::graph::capture::derived("detach", &self.t, &out, Tensor::alias);
        out.into()
    }
    fn detach_(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        {
            let mut me = slf.borrow_mut();
            if !me.t.is_leaf() || me.t.requires_grad() {
                me.t = me.t.alias();
            }
        }
        Ok(slf)
    }
    #[pyo3(signature = (gradient=None, retain_graph=None, create_graph=false, inputs=None))]
    fn backward(
        &self,
        gradient: Option<&Bound<'_, PyAny>>,
        retain_graph: Option<bool>,
        create_graph: bool,
        inputs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let g = match gradient {
            Some(g) if !g.is_none() => Some(convert::tensor_arg(g, "backward", "gradient")?),
            _ => None,
        };
        let inputs = super::autograd::tensor_list(inputs)?;
        autograd::backward(
            std::slice::from_ref(&self.t),
            &[g],
            retain_graph.unwrap_or(create_graph),
            create_graph,
            inputs.as_deref(),
        )?;
        Ok(())
    }
    fn register_hook(&self, hook: Py<PyAny>) -> PyResult<()> {
        self.t.register_hook(super::autograd::py_hook(hook))?;
        Ok(())
    }

    // ---- Python protocols ----

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        py_helper(slf.py(), "ferrotorch._tensor_str", "_str")?
            .call1((slf,))?
            .extract()
    }
    fn __str__(slf: &Bound<'_, Self>) -> PyResult<String> {
        Self::__repr__(slf)
    }
    fn __format__(slf: &Bound<'_, Self>, spec: &str) -> PyResult<String> {
        let me = slf.borrow();
        if me.t.ndim() == 0 {
            return item_of(slf.py(), &me.t)?
                .call_method1("__format__", (spec,))?
                .extract();
        }
        drop(me);
        Self::__repr__(slf)
    }
    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        slf.as_ptr() as isize
    }
    fn __len__(&self) -> PyResult<usize> {
        if self.t.ndim() == 0 {
            return Err(PyTypeError::new_err("len() of a 0-d tensor"));
        }
        Ok(self.t.shape()[0])
    }
    fn __iter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let t = slf.borrow().t.clone();
        if t.ndim() == 0 {
            return Err(PyTypeError::new_err("iteration over a 0-d tensor"));
        }
        let items: Vec<PyTensor> = (0..t.shape()[0])
            .map(|i| ops::movement::select(&t, 0, i as i64).map(PyTensor::new))
            .collect::<Result<_, _>>()?;
        pyo3::types::PyList::new(slf.py(), items)?
            .try_iter()
            .map(|i| i.into_any())
    }
    fn __bool__(&self) -> PyResult<bool> {
        crate::graph::capture::value_read("bool(tensor)");
        if self.t.numel() != 1 {
            return Err(PyRuntimeError::new_err(format!(
                "Boolean value of Tensor with more than one value is ambiguous{}",
                if self.t.numel() == 0 {
                    " (the tensor is empty)"
                } else {
                    ""
                }
            )));
        }
        Ok(crate::dispatch!(self.t.dtype(), T => self.t.get_flat::<T>(0).to_bool()))
    }
    fn __float__(&self, py: Python<'_>) -> PyResult<f64> {
        if self.t.requires_grad() && !SCALAR_WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            // torch warns once per process (TORCH_WARN_ONCE), for float() only, not item()/int()
            PyErr::warn(
                py,
                &py.get_type::<pyo3::exceptions::PyUserWarning>(),
                c"Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior.\nConsider using tensor.detach() first.",
                1,
            )?;
        }
        item_of(py, &self.t)?.extract::<f64>()
    }
    fn __int__(&self, py: Python<'_>) -> PyResult<i64> {
        let v = item_of(py, &self.t)?;
        if self.t.dtype().is_float() {
            return Ok(v.extract::<f64>()?.trunc() as i64);
        }
        v.extract::<i64>()
    }
    fn __index__(&self, py: Python<'_>) -> PyResult<i64> {
        if self.t.dtype().is_float() || self.t.numel() != 1 {
            return Err(PyTypeError::new_err(
                "only integer tensors of a single element can be converted to an index",
            ));
        }
        item_of(py, &self.t)?.extract::<i64>()
    }
    fn __contains__(&self, element: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Some(e) = operand(element) else {
            return Err(PyRuntimeError::new_err(format!(
                "Tensor.__contains__ only supports Tensor or scalar, but you passed in a {}.",
                element.get_type().name()?
            )));
        };
        let eq = ew::binary_raw(ew::Binary::Eq, &self.t, &e)?;
        Ok((0..eq.numel()).any(|i| eq.get_flat::<bool>(i)))
    }
    fn item<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        item_of(py, &self.t)
    }
    fn tolist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        tolist(py, &self.t)
    }
    #[pyo3(signature = (*, force=false))]
    fn numpy<'py>(slf: &Bound<'py, Self>, force: bool) -> PyResult<Bound<'py, PyAny>> {
        let me = slf.borrow();
        if me.t.requires_grad() && !force {
            return Err(PyRuntimeError::new_err(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.",
            ));
        }
        drop(me);
        convert::to_numpy(slf)
    }
    #[pyo3(signature = (dtype=None, copy=None))]
    fn __array__<'py>(
        slf: &Bound<'py, Self>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let detached = Bound::new(slf.py(), PyTensor::new(slf.borrow().t.alias()))?;
        let mut arr = convert::to_numpy(&detached)?;
        if let Some(d) = dtype {
            if !d.is_none() {
                arr = arr.call_method1("astype", (d,))?;
            }
        }
        if copy == Some(true) {
            arr = arr.call_method0("copy")?;
        }
        Ok(arr)
    }
    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        if !self.t.is_leaf() {
            return Err(PyRuntimeError::new_err(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol at the \
                 moment.  If you were attempting to deepcopy a module, this may be because of a torch.nn.utils.\
                 weight_norm usage, see https://github.com/pytorch/pytorch/pull/103001",
            ));
        }
        let c = self.t.deep_clone();
        if self.t.requires_grad() {
            c.set_requires_grad(true)?;
        }
        if let Some(g) = self.t.grad() {
            c.set_grad(Some(g.deep_clone()))?;
        }
        Ok(c.into())
    }
    fn __reduce_ex__<'py>(slf: &Bound<'py, Self>, _proto: i64) -> PyResult<Bound<'py, PyAny>> {
        py_helper(slf.py(), "ferrotorch._size", "_reduce_tensor")?.call1((slf,))
    }

    // ---- conversions ----

    #[pyo3(signature = (*args, **kwargs))]
    fn to<'py>(
        slf: Bound<'py, Self>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut dt: Option<DType> = None;
        let mut copy = false;
        let mut check = |a: &Bound<'_, PyAny>| -> PyResult<()> {
            if a.is_none() {
                return Ok(());
            }
            if let Ok(t) = a.cast::<PyTensor>() {
                dt = Some(t.borrow().t.dtype());
            } else if a.cast::<PyDType>().is_ok() {
                dt = Some(convert::dtype(a)?);
            } else if a.cast::<PyDevice>().is_ok() || a.extract::<String>().is_ok() {
                check_device(Some(a))?;
            } else {
                return Err(PyTypeError::new_err(format!(
                    "to() received an invalid combination of arguments - got ({})",
                    a.get_type().name()?
                )));
            }
            Ok(())
        };
        for a in args.iter() {
            if a.is_instance_of::<pyo3::types::PyBool>() {
                continue;
            }
            check(&a)?;
        }
        if let Some(k) = kwargs {
            for (key, v) in k.iter() {
                match key.extract::<String>()?.as_str() {
                    "dtype" | "device" | "other" => check(&v)?,
                    "copy" => copy = v.extract()?,
                    "non_blocking" | "memory_format" => {}
                    other => {
                        return Err(PyTypeError::new_err(format!(
                            "to() got an unexpected keyword argument '{other}'"
                        )))
                    }
                }
            }
        }
        let t = slf.borrow().t.clone();
        match dt {
            Some(d) if d != t.dtype() || copy => Ok(Bound::new(
                slf.py(),
                PyTensor::new(ops::copy::to_dtype(&t, d, copy)?),
            )?
            .into_any()),
            _ if copy => Ok(Bound::new(slf.py(), PyTensor::new(ops::copy::clone(&t)?))?.into_any()),
            _ => Ok(slf.into_any()),
        }
    }
    #[pyo3(signature = (dtype=None, non_blocking=false, **_kwargs))]
    fn r#type<'py>(
        slf: Bound<'py, Self>,
        dtype: Option<&Bound<'py, PyAny>>,
        non_blocking: bool,
        _kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = non_blocking;
        let t = slf.borrow().t.clone();
        let Some(d) = dtype.filter(|d| !d.is_none()) else {
            return Ok(pyo3::types::PyString::new(slf.py(), type_name(t.dtype())).into_any());
        };
        let target = if let Ok(s) = d.extract::<String>() {
            dtype_from_type_name(&s)?
        } else if let Ok(n) = d.getattr("_ferrotorch_dtype") {
            convert::dtype(&n)?
        } else {
            convert::dtype(d)?
        };
        if target == t.dtype() {
            return Ok(slf.into_any());
        }
        Ok(Bound::new(
            slf.py(),
            PyTensor::new(ops::copy::to_dtype(&t, target, false)?),
        )?
        .into_any())
    }
    fn float(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        cast_method(slf, DType::F32)
    }
    fn double(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        cast_method(slf, DType::F64)
    }
    fn long(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        cast_method(slf, DType::I64)
    }
    fn int(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        cast_method(slf, DType::I32)
    }
    fn bool(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        cast_method(slf, DType::Bool)
    }
    fn byte(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        cast_method(slf, DType::U8)
    }
    fn half(&self) -> PyResult<PyTensor> {
        Err(pyo3::exceptions::PyNotImplementedError::new_err(
            "ferrotorch does not support float16 (half) yet; use float() or double()",
        ))
    }
    #[pyo3(signature = (memory_format=None))]
    fn cpu<'py>(
        slf: Bound<'py, Self>,
        memory_format: Option<&Bound<'py, PyAny>>,
    ) -> Bound<'py, Self> {
        let _ = memory_format;
        slf
    }
    #[pyo3(signature = (*_args, **_kwargs))]
    fn cuda(
        &self,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyTensor> {
        check_device(Some(
            &pyo3::types::PyString::new(_args.py(), "cuda").into_any(),
        ))?;
        unreachable!()
    }
    fn type_as<'py>(
        slf: Bound<'py, Self>,
        other: PyRef<'py, PyTensor>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let d = other.t.dtype();
        cast_method(slf, d)
    }
    #[pyo3(signature = (memory_format=None))]
    fn contiguous<'py>(
        slf: Bound<'py, Self>,
        memory_format: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = memory_format;
        let t = slf.borrow().t.clone();
        if t.is_contiguous() {
            return Ok(slf.into_any());
        }
        Ok(Bound::new(slf.py(), PyTensor::new(ops::copy::clone(&t)?))?.into_any())
    }
    #[pyo3(signature = (*, memory_format=None))]
    fn clone(&self, memory_format: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let _ = memory_format;
        Ok(ops::copy::clone(&self.t)?.into())
    }
    #[pyo3(signature = (src, non_blocking=false))]
    fn copy_<'py>(
        slf: Bound<'py, Self>,
        src: &Bound<'py, PyAny>,
        non_blocking: bool,
    ) -> PyResult<Bound<'py, Self>> {
        let _ = non_blocking;
        let s = convert::operand_or_err(src, "copy_")?;
        ops::copy::copy_(&slf.borrow().t, &s)?;
        Ok(slf)
    }
    fn is_set_to(&self, other: PyRef<'_, PyTensor>) -> bool {
        self.t.shares_storage(&other.t)
            && self.t.offset() == other.t.offset()
            && self.t.shape() == other.t.shape()
            && self.t.strides() == other.t.strides()
    }
}

fn cast_method(slf: Bound<'_, PyTensor>, dt: DType) -> PyResult<Bound<'_, PyAny>> {
    let t = slf.borrow().t.clone();
    if t.dtype() == dt {
        return Ok(slf.into_any());
    }
    Ok(Bound::new(slf.py(), PyTensor::new(ops::copy::to_dtype(&t, dt, false)?))?.into_any())
}
