//! Tensor arithmetic for Python: operators (with reflected and in-place forms) and math methods.

use super::convert::{self, operand, operand_or_err};
use super::tensor::PyTensor;
use crate::ops::elementwise::{self as ew, Binary, Unary};
use crate::scalar::Scalar;
use crate::tensor::Tensor;
use pyo3::basic::CompareOp;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

fn new_obj(py: Python<'_>, t: Tensor) -> PyResult<Py<PyAny>> {
    Ok(Bound::new(py, PyTensor::new(t))?.into_any().unbind())
}

/// `a op b` for a dunder: NotImplemented for operands that are neither tensors nor numbers.
fn dunder(
    py: Python<'_>,
    op: Binary,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    reflected: bool,
) -> PyResult<Py<PyAny>> {
    let Some(b) = operand(other) else {
        return Ok(py.NotImplemented());
    };
    let r = if reflected {
        ew::binary(op, &b, a)?
    } else {
        ew::binary(op, a, &b)?
    };
    new_obj(py, r)
}

fn inplace(op: Binary, a: &Tensor, other: &Bound<'_, PyAny>) -> PyResult<()> {
    let b = operand_or_err(other, "inplace")?;
    Ok(ew::binary_inplace(op, a, &b)?)
}

/// Writes `r` into `out=` when given (torch resizes an empty out; other shapes must match).
fn with_out(py: Python<'_>, r: Tensor, out: Option<&Bound<'_, PyTensor>>) -> PyResult<Py<PyAny>> {
    match out {
        None => new_obj(py, r),
        Some(o) => {
            {
                let mut ob = o.borrow_mut();
                if ob.t.numel() == 0 && r.numel() != 0 {
                    ob.t = Tensor::zeros(r.shape(), ob.t.dtype());
                }
                crate::ops::copy::copy_(&ob.t, &r)?;
            }
            Ok(o.clone().into_any().unbind())
        }
    }
}

fn scalar_or_tensor(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Result<Scalar, Tensor>>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => {
            if let Some(s) = convert::scalar(o) {
                return Ok(Some(Ok(s)));
            }
            Ok(Some(Err(convert::tensor_arg(o, "clamp", "min")?)))
        }
    }
}

macro_rules! unary_methods {
    ($($name:ident, $name_:ident => $op:expr;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(&self) -> PyResult<PyTensor> {
                    Ok(ew::unary($op, &self.t)?.into())
                }
                fn $name_(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
                    ew::unary_inplace($op, &slf.borrow().t)?;
                    Ok(slf)
                }
            )*
        }
    };
}

macro_rules! binary_methods {
    ($($name:ident, $name_:ident => $op:expr;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                #[pyo3(signature = (other, *, out=None))]
                fn $name(&self, py: Python<'_>, other: &Bound<'_, PyAny>, out: Option<&Bound<'_, PyTensor>>) -> PyResult<Py<PyAny>> {
                    let b = operand_or_err(other, stringify!($name))?;
                    with_out(py, ew::binary($op, &self.t, &b)?, out)
                }
                fn $name_<'py>(slf: Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
                    inplace($op, &slf.borrow().t, other)?;
                    Ok(slf)
                }
            )*
        }
    };
}

macro_rules! binary_methods_pure {
    ($($name:ident => $op:expr;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                #[pyo3(signature = (other, *, out=None))]
                fn $name(&self, py: Python<'_>, other: &Bound<'_, PyAny>, out: Option<&Bound<'_, PyTensor>>) -> PyResult<Py<PyAny>> {
                    let b = operand_or_err(other, stringify!($name))?;
                    with_out(py, ew::binary($op, &self.t, &b)?, out)
                }
            )*
        }
    };
}

binary_methods_pure! {
    maximum => Binary::Maximum;
    minimum => Binary::Minimum;
}

binary_methods! {
    mul, mul_ => Binary::Mul;
    multiply, multiply_ => Binary::Mul;
    true_divide, true_divide_ => Binary::Div;
    floor_divide, floor_divide_ => Binary::FloorDiv;
    remainder, remainder_ => Binary::Rem;
    fmod, fmod_ => Binary::Fmod;
    pow, pow_ => Binary::Pow;
    float_power, float_power_ => Binary::Pow;
    atan2, atan2_ => Binary::Atan2;
    arctan2, arctan2_ => Binary::Atan2;
    eq, eq_ => Binary::Eq;
    ne, ne_ => Binary::Ne;
    not_equal, not_equal_ => Binary::Ne;
    lt, lt_ => Binary::Lt;
    less, less_ => Binary::Lt;
    le, le_ => Binary::Le;
    less_equal, less_equal_ => Binary::Le;
    gt, gt_ => Binary::Gt;
    greater, greater_ => Binary::Gt;
    ge, ge_ => Binary::Ge;
    greater_equal, greater_equal_ => Binary::Ge;
    logical_and, logical_and_ => Binary::LogicalAnd;
    logical_or, logical_or_ => Binary::LogicalOr;
    logical_xor, logical_xor_ => Binary::LogicalXor;
    bitwise_and, bitwise_and_ => Binary::BitAnd;
    bitwise_or, bitwise_or_ => Binary::BitOr;
    bitwise_xor, bitwise_xor_ => Binary::BitXor;
}

unary_methods! {
    abs, abs_ => Unary::Abs;
    absolute, absolute_ => Unary::Abs;
    neg, neg_ => Unary::Neg;
    negative, negative_ => Unary::Neg;
    exp, exp_ => Unary::Exp;
    exp2, exp2_ => Unary::Exp2;
    expm1, expm1_ => Unary::Expm1;
    log, log_ => Unary::Log;
    log2, log2_ => Unary::Log2;
    log10, log10_ => Unary::Log10;
    log1p, log1p_ => Unary::Log1p;
    sqrt, sqrt_ => Unary::Sqrt;
    rsqrt, rsqrt_ => Unary::Rsqrt;
    square, square_ => Unary::Square;
    sin, sin_ => Unary::Sin;
    cos, cos_ => Unary::Cos;
    tan, tan_ => Unary::Tan;
    asin, asin_ => Unary::Asin;
    acos, acos_ => Unary::Acos;
    atan, atan_ => Unary::Atan;
    arcsin, arcsin_ => Unary::Asin;
    arccos, arccos_ => Unary::Acos;
    arctan, arctan_ => Unary::Atan;
    sinh, sinh_ => Unary::Sinh;
    cosh, cosh_ => Unary::Cosh;
    tanh, tanh_ => Unary::Tanh;
    sigmoid, sigmoid_ => Unary::Sigmoid;
    relu, relu_ => Unary::Relu;
    floor, floor_ => Unary::Floor;
    ceil, ceil_ => Unary::Ceil;
    trunc, trunc_ => Unary::Trunc;
    fix, fix_ => Unary::Trunc;
    frac, frac_ => Unary::Frac;
    sign, sign_ => Unary::Sign;
    reciprocal, reciprocal_ => Unary::Reciprocal;
    erf, erf_ => Unary::Erf;
    asinh, asinh_ => Unary::Asinh;
    acosh, acosh_ => Unary::Acosh;
    atanh, atanh_ => Unary::Atanh;
    arcsinh, arcsinh_ => Unary::Asinh;
    arccosh, arccosh_ => Unary::Acosh;
    arctanh, arctanh_ => Unary::Atanh;
    deg2rad, deg2rad_ => Unary::Deg2rad;
    rad2deg, rad2deg_ => Unary::Rad2deg;
    sinc, sinc_ => Unary::Sinc;
}

#[pymethods]
impl PyTensor {
    // ---- operators ----
    fn __add__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::Add, &self.t, o, false)
    }
    fn __radd__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::Add, &self.t, o, true)
    }
    fn __iadd__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(Binary::Add, &self.t, o)
    }
    fn __sub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::Sub, &self.t, o, false)
    }
    fn __rsub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::Sub, &self.t, o, true)
    }
    fn __isub__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(Binary::Sub, &self.t, o)
    }
    fn __mul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::Mul, &self.t, o, false)
    }
    fn __rmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::Mul, &self.t, o, true)
    }
    fn __imul__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(Binary::Mul, &self.t, o)
    }
    fn __truediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::Div, &self.t, o, false)
    }
    fn __rtruediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::Div, &self.t, o, true)
    }
    fn __itruediv__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(Binary::Div, &self.t, o)
    }
    fn __floordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::FloorDiv, &self.t, o, false)
    }
    fn __rfloordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::FloorDiv, &self.t, o, true)
    }
    fn __ifloordiv__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(Binary::FloorDiv, &self.t, o)
    }
    fn __mod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::Rem, &self.t, o, false)
    }
    fn __rmod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::Rem, &self.t, o, true)
    }
    fn __imod__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(Binary::Rem, &self.t, o)
    }
    fn __pow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = modulo;
        dunder(py, Binary::Pow, &self.t, o, false)
    }
    fn __rpow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = modulo;
        dunder(py, Binary::Pow, &self.t, o, true)
    }
    fn __ipow__(&self, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        inplace(Binary::Pow, &self.t, o)
    }
    fn __and__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::BitAnd, &self.t, o, false)
    }
    fn __rand__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::BitAnd, &self.t, o, true)
    }
    fn __iand__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(Binary::BitAnd, &self.t, o)
    }
    fn __or__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::BitOr, &self.t, o, false)
    }
    fn __ror__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::BitOr, &self.t, o, true)
    }
    fn __ior__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(Binary::BitOr, &self.t, o)
    }
    fn __xor__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::BitXor, &self.t, o, false)
    }
    fn __rxor__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        dunder(py, Binary::BitXor, &self.t, o, true)
    }
    fn __ixor__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace(Binary::BitXor, &self.t, o)
    }
    fn __neg__(&self) -> PyResult<PyTensor> {
        Ok(ew::unary(Unary::Neg, &self.t)?.into())
    }
    fn __pos__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }
    fn __abs__(&self) -> PyResult<PyTensor> {
        Ok(ew::unary(Unary::Abs, &self.t)?.into())
    }
    fn __invert__(&self) -> PyResult<PyTensor> {
        Ok(ew::bitwise_not(&self.t)?.into())
    }
    fn __richcmp__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let b = match op {
            CompareOp::Eq => Binary::Eq,
            CompareOp::Ne => Binary::Ne,
            CompareOp::Lt => Binary::Lt,
            CompareOp::Le => Binary::Le,
            CompareOp::Gt => Binary::Gt,
            CompareOp::Ge => Binary::Ge,
        };
        dunder(py, b, &self.t, o, false)
    }

    // ---- arithmetic methods with extra arguments ----

    #[pyo3(signature = (other, *, alpha=None, out=None))]
    fn add(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        alpha: Option<&Bound<'_, PyAny>>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        let b = alpha_operand(other, alpha, "add")?;
        with_out(py, ew::add(&self.t, &b)?, out)
    }
    #[pyo3(signature = (other, *, alpha=None))]
    fn add_<'py>(
        slf: Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        alpha: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let b = alpha_operand(other, alpha, "add_")?;
        ew::binary_inplace(Binary::Add, &slf.borrow().t, &b)?;
        Ok(slf)
    }
    #[pyo3(signature = (other, *, alpha=None, out=None))]
    fn sub(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        alpha: Option<&Bound<'_, PyAny>>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        let b = alpha_operand(other, alpha, "sub")?;
        with_out(py, ew::sub(&self.t, &b)?, out)
    }
    #[pyo3(signature = (other, *, alpha=None))]
    fn sub_<'py>(
        slf: Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        alpha: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let b = alpha_operand(other, alpha, "sub_")?;
        ew::binary_inplace(Binary::Sub, &slf.borrow().t, &b)?;
        Ok(slf)
    }
    #[pyo3(signature = (other, *, alpha=None, out=None))]
    fn subtract(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        alpha: Option<&Bound<'_, PyAny>>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        self.sub(py, other, alpha, out)
    }
    #[pyo3(signature = (other, *, rounding_mode=None, out=None))]
    fn div(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        rounding_mode: Option<&str>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        let b = operand_or_err(other, "div")?;
        with_out(py, ew::binary(div_op(rounding_mode)?, &self.t, &b)?, out)
    }
    #[pyo3(signature = (other, *, rounding_mode=None))]
    fn div_<'py>(
        slf: Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        rounding_mode: Option<&str>,
    ) -> PyResult<Bound<'py, Self>> {
        let b = operand_or_err(other, "div_")?;
        ew::binary_inplace(div_op(rounding_mode)?, &slf.borrow().t, &b)?;
        Ok(slf)
    }
    #[pyo3(signature = (other, *, rounding_mode=None, out=None))]
    fn divide(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        rounding_mode: Option<&str>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        self.div(py, other, rounding_mode, out)
    }
    #[pyo3(signature = (min=None, max=None, *, out=None))]
    fn clamp(
        &self,
        py: Python<'_>,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        with_out(py, clamp_impl(&self.t, min, max)?, out)
    }
    #[pyo3(signature = (min=None, max=None, *, out=None))]
    fn clip(
        &self,
        py: Python<'_>,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
        out: Option<&Bound<'_, PyTensor>>,
    ) -> PyResult<Py<PyAny>> {
        with_out(py, clamp_impl(&self.t, min, max)?, out)
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clamp_<'py>(
        slf: Bound<'py, Self>,
        min: Option<&Bound<'py, PyAny>>,
        max: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        ew::check_inplace(&t)?;
        let src = if crate::autograd::needs_grad(&[&t]) {
            crate::ops::copy::clone(&t)?
        } else {
            t.clone()
        };
        let v = clamp_impl(&src, min, max)?;
        ew::commit_inplace(&t, &v)?;
        Ok(slf)
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clip_<'py>(
        slf: Bound<'py, Self>,
        min: Option<&Bound<'py, PyAny>>,
        max: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        Self::clamp_(slf, min, max)
    }
    fn clamp_min(&self, min: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        Ok(clamp_impl(&self.t, Some(min), None)?.into())
    }
    fn clamp_max(&self, max: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        Ok(clamp_impl(&self.t, None, Some(max))?.into())
    }
    #[pyo3(signature = (decimals=0))]
    fn round(&self, decimals: i64) -> PyResult<PyTensor> {
        Ok(ew::round_decimals(&self.t, decimals)?.into())
    }
    #[pyo3(signature = (decimals=0))]
    fn round_(slf: Bound<'_, Self>, decimals: i64) -> PyResult<Bound<'_, Self>> {
        let t = slf.borrow().t.clone();
        ew::check_inplace(&t)?;
        let src = if crate::autograd::needs_grad(&[&t]) {
            crate::ops::copy::clone(&t)?
        } else {
            t.clone()
        };
        ew::commit_inplace(&t, &ew::round_decimals(&src, decimals)?)?;
        Ok(slf)
    }
    fn isnan(&self) -> PyTensor {
        ew::isnan(&self.t).into()
    }
    fn isinf(&self) -> PyTensor {
        ew::isinf(&self.t).into()
    }
    fn isfinite(&self) -> PyTensor {
        ew::isfinite(&self.t).into()
    }
    fn isposinf(&self) -> PyResult<PyTensor> {
        Ok(ew::binary(Binary::Eq, &self.t, &Scalar::Float(f64::INFINITY).wrap())?.into())
    }
    fn isneginf(&self) -> PyResult<PyTensor> {
        Ok(ew::binary(
            Binary::Eq,
            &self.t,
            &Scalar::Float(f64::NEG_INFINITY).wrap(),
        )?
        .into())
    }
    fn logical_not(&self) -> PyTensor {
        ew::logical_not(&self.t).into()
    }
    fn logical_not_(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        let t = slf.borrow().t.clone();
        ew::commit_inplace(&t, &ew::logical_not(&t).to_dtype(t.dtype()))?;
        Ok(slf)
    }
    fn bitwise_not(&self) -> PyResult<PyTensor> {
        Ok(ew::bitwise_not(&self.t)?.into())
    }
    #[pyo3(signature = (nan=0.0, posinf=None, neginf=None))]
    fn nan_to_num(&self, nan: f64, posinf: Option<f64>, neginf: Option<f64>) -> PyResult<PyTensor> {
        Ok(ew::nan_to_num(&self.t, nan, posinf, neginf)?.into())
    }
    #[pyo3(signature = (nan=0.0, posinf=None, neginf=None))]
    fn nan_to_num_(
        slf: Bound<'_, Self>,
        nan: f64,
        posinf: Option<f64>,
        neginf: Option<f64>,
    ) -> PyResult<Bound<'_, Self>> {
        let t = slf.borrow().t.clone();
        ew::check_inplace(&t)?;
        ew::commit_inplace(&t, &ew::nan_to_num(&t, nan, posinf, neginf)?)?;
        Ok(slf)
    }
    fn lerp(&self, end: &Bound<'_, PyAny>, weight: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let e = convert::tensor_arg(end, "lerp", "end")?;
        let w = operand_or_err(weight, "lerp")?;
        Ok(ew::lerp(&self.t, &e, &w)?.into())
    }
    fn lerp_<'py>(
        slf: Bound<'py, Self>,
        end: &Bound<'py, PyAny>,
        weight: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        ew::check_inplace(&t)?;
        let e = convert::tensor_arg(end, "lerp_", "end")?;
        let w = operand_or_err(weight, "lerp_")?;
        let src = if crate::autograd::needs_grad(&[&t, &e, &w]) {
            crate::ops::copy::clone(&t)?
        } else {
            t.clone()
        };
        ew::commit_inplace(&t, &ew::lerp(&src, &e, &w)?)?;
        Ok(slf)
    }
    fn zero_(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        let t = slf.borrow().t.clone();
        ew::check_inplace(&t)?;
        crate::kernels::elementwise::copy_cast(&t, &Tensor::scalar(0i64));
        Ok(slf)
    }
    fn fill_<'py>(slf: Bound<'py, Self>, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        ew::check_inplace(&t)?;
        let v = operand_or_err(value, "fill_")?;
        if v.numel() != 1 {
            return Err(PyRuntimeError::new_err(format!(
                "fill_ only supports 0-dimension value tensor but got tensor with {} dimensions.",
                v.ndim()
            )));
        }
        crate::kernels::elementwise::copy_cast(&t, &v);
        Ok(slf)
    }
}

/// `alpha * other` for add/sub's `alpha=` keyword (just `other` without it).
fn alpha_operand(
    other: &Bound<'_, PyAny>,
    alpha: Option<&Bound<'_, PyAny>>,
    op: &str,
) -> PyResult<Tensor> {
    let b = operand_or_err(other, op)?;
    Ok(match alpha.and_then(convert::scalar) {
        Some(a) => ew::mul(&b, &a.wrap())?,
        None => b,
    })
}

fn div_op(mode: Option<&str>) -> PyResult<Binary> {
    Ok(match mode {
        None => Binary::Div,
        Some("trunc") => Binary::TruncDiv,
        Some("floor") => Binary::FloorDiv,
        Some(m) => {
            return Err(PyRuntimeError::new_err(format!(
                "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{m}'"
            )))
        }
    })
}

fn clamp_impl(
    t: &Tensor,
    min: Option<&Bound<'_, PyAny>>,
    max: Option<&Bound<'_, PyAny>>,
) -> PyResult<Tensor> {
    let (lo, hi) = (scalar_or_tensor(min)?, scalar_or_tensor(max)?);
    match (lo, hi) {
        (None, None) => Err(PyRuntimeError::new_err(
            "torch.clamp: At least one of 'min' or 'max' must not be None",
        )),
        (Some(Ok(l)), None) => Ok(ew::clamp_scalar(t, Some(l), None)?),
        (None, Some(Ok(h))) => Ok(ew::clamp_scalar(t, None, Some(h))?),
        (Some(Ok(l)), Some(Ok(h))) => Ok(ew::clamp_scalar(t, Some(l), Some(h))?),
        (l, h) => {
            let lt = l.map(|x| x.map_or_else(|t| t, |s| s.wrap()));
            let ht = h.map(|x| x.map_or_else(|t| t, |s| s.wrap()));
            Ok(ew::clamp_tensor(t, lt.as_ref(), ht.as_ref())?)
        }
    }
}

#[pymethods]
impl PyTensor {
    #[pyo3(signature = (other, rtol=1e-05, atol=1e-08, equal_nan=false))]
    fn isclose(
        &self,
        other: &Bound<'_, PyAny>,
        rtol: f64,
        atol: f64,
        equal_nan: bool,
    ) -> PyResult<PyTensor> {
        let b = operand_or_err(other, "isclose")?;
        let b = if b.is_wrapped_number() {
            b.to_dtype(self.t.dtype())
        } else {
            b
        };
        Ok(ew::isclose(&self.t, &b, rtol, atol, equal_nan)?.into())
    }
    #[pyo3(signature = (other, rtol=1e-05, atol=1e-08, equal_nan=false))]
    fn allclose(
        &self,
        other: &Bound<'_, PyAny>,
        rtol: f64,
        atol: f64,
        equal_nan: bool,
    ) -> PyResult<bool> {
        let b = operand_or_err(other, "allclose")?;
        let b = if b.is_wrapped_number() {
            b.to_dtype(self.t.dtype())
        } else {
            b
        };
        let c = ew::isclose(&self.t, &b, rtol, atol, equal_nan)?;
        Ok((0..c.numel()).all(|i| c.get_flat::<bool>(i)))
    }
    fn equal(&self, other: PyRef<'_, PyTensor>) -> PyResult<bool> {
        Ok(ew::equal(&self.t, &other.t)?)
    }
}
