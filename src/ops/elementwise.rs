//! Elementwise ops with broadcasting and torch's type promotion, each with its backward.

use crate::autograd::{self, needs_grad, record, Backward, SavedOutput, SavedTensor};
use crate::dtype::{default_dtype, promote, DType, Element};
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::kernels::arith::Arith;
use crate::kernels::elementwise::{map1, map1_to, map2, map2_to, update2};
use crate::shape;
use crate::tensor::Tensor;

/// torch.result_type over tensors, honouring dimensioned / 0-d / wrapped-number categories.
pub fn result_type(ts: &[&Tensor]) -> DType {
    let (mut dim, mut zero, mut wrapped): (Option<DType>, Option<DType>, Option<DType>) =
        (None, None, None);
    let mut wrapped_raw: Option<DType> = None;
    for t in ts {
        let d = t.dtype();
        if t.is_wrapped_number() {
            wrapped_raw = Some(wrapped_raw.map_or(d, |s| promote(s, d)));
        }
        let slot = if t.is_wrapped_number() {
            &mut wrapped
        } else if t.ndim() == 0 {
            &mut zero
        } else {
            &mut dim
        };
        let d = if t.is_wrapped_number() && d.is_float() {
            default_dtype()
        } else {
            d
        };
        *slot = Some(slot.map_or(d, |s| promote(s, d)));
    }
    if dim.is_none() && zero.is_none() {
        // Only Python numbers (inside backward formulas): keep their full precision.
        return wrapped_raw.unwrap_or(DType::F32);
    }
    combine(dim, combine(zero, wrapped)).unwrap_or(DType::F32)
}

fn combine(higher: Option<DType>, lower: Option<DType>) -> Option<DType> {
    match (higher, lower) {
        (None, l) => l,
        (h, None) => h,
        (Some(h), Some(l)) => Some(if h.is_float() {
            h
        } else if h == DType::Bool || l.is_float() {
            promote(h, l)
        } else {
            h
        }),
    }
}

/// Whether torch lets a result of `from` be written into a tensor of `to` (in-place ops).
pub fn can_cast(from: DType, to: DType) -> bool {
    from.category() <= to.category()
}

/// A backward given as a closure over saved values.
pub struct FnBackward<F> {
    pub name: &'static str,
    pub f: F,
    /// The closure computes with a fused kernel (no graph under `create_graph`).
    pub once: bool,
}

impl<F> Backward for FnBackward<F>
where
    F: Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync,
{
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        match &grads[0] {
            Some(g) => (self.f)(g),
            None => Ok(vec![]),
        }
    }
    fn once_differentiable(&self) -> bool {
        self.once
    }
}

/// Records a single-output op whose backward is a closure of the output gradient.
pub fn record_fn(
    out: &Tensor,
    inputs: &[&Tensor],
    name: &'static str,
    f: impl Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
) {
    record(
        &[out],
        inputs,
        FnBackward {
            name,
            f,
            once: false,
        },
    );
}

/// A gradient `res = B(g)` a kernel computed, where `B` is linear in the incoming gradient `g`
/// and constant (almost everywhere) in the op's inputs: the backwards of gathers, indexing,
/// pooling, max. Under `create_graph` it ties `res` to `g` with a node whose backward is `B`'s
/// adjoint (for these ops, the forward op again), so gradients of gradients flow through it.
pub fn linear_in_grad(
    res: Tensor,
    g: &Tensor,
    name: &'static str,
    adjoint: impl Fn(&Tensor) -> Result<Tensor> + Send + Sync + 'static,
) -> Tensor {
    if !(g.requires_grad() && crate::autograd::is_grad_enabled()) {
        return res;
    }
    // an alias: `res` may share a handle with `g` or with a saved tensor
    let out = res.alias();
    record_fn(&out, &[g], name, move |gg| Ok(vec![Some(adjoint(gg)?)]));
    out
}

/// `record_fn` for a backward computed by a fused kernel: differentiable once. Under
/// `create_graph` the gradients it returns without a graph get a `DelayedError` node, so a
/// double backward through them raises `NotImplementedError` instead of dropping a term.
pub fn record_fused(
    out: &Tensor,
    inputs: &[&Tensor],
    name: &'static str,
    f: impl Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
) {
    record(
        &[out],
        inputs,
        FnBackward {
            name,
            f,
            once: true,
        },
    );
}

pub(crate) fn scalar_f(v: f64) -> Tensor {
    Tensor::wrapped_scalar(v)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    TruncDiv,
    Rem,
    Fmod,
    Pow,
    Maximum,
    Minimum,
    Atan2,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LogicalAnd,
    LogicalOr,
    LogicalXor,
    BitAnd,
    BitOr,
    BitXor,
}

impl Binary {
    fn kernel_name(self) -> &'static str {
        match self {
            Binary::BitAnd => "bitwise_and_cpu",
            Binary::BitOr => "bitwise_or_cpu",
            Binary::BitXor => "bitwise_xor_cpu",
            _ => "op",
        }
    }
    /// Ops that `binary_to` computes in a float dtype (into a given buffer as well): float
    /// results, and comparisons of floats.
    pub fn float_kernel(self) -> bool {
        matches!(
            self,
            Binary::Add
                | Binary::Sub
                | Binary::Mul
                | Binary::Div
                | Binary::Pow
                | Binary::Maximum
                | Binary::Minimum
                | Binary::Eq
                | Binary::Ne
                | Binary::Lt
                | Binary::Le
                | Binary::Gt
                | Binary::Ge
        )
    }
    fn is_comparison(self) -> bool {
        matches!(
            self,
            Binary::Eq | Binary::Ne | Binary::Lt | Binary::Le | Binary::Gt | Binary::Ge
        )
    }
    /// The dtype the kernel computes in, given the promoted type of the inputs.
    fn compute_dtype(self, rt: DType) -> Result<DType> {
        Ok(match self {
            Binary::Div | Binary::Atan2 if !rt.is_float() => default_dtype(),
            Binary::LogicalAnd | Binary::LogicalOr | Binary::LogicalXor => DType::Bool,
            Binary::BitAnd | Binary::BitOr | Binary::BitXor if rt.is_float() => {
                return Err(Error::runtime(format!(
                    "\"{}\" not implemented for '{}'",
                    self.kernel_name(),
                    rt.scalar_name()
                )))
            }
            Binary::Sub if rt == DType::Bool => {
                return Err(Error::not_implemented(
                    "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or \
                     `logical_xor()` operator instead.",
                ))
            }
            _ => rt,
        })
    }
}

/// The forward of a binary op, without autograd.
pub fn binary_raw(op: Binary, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let out_shape = if a.ndim() == b.ndim() && a.shape().iter().zip(b.shape()).all(|(x, y)| x == y)
    {
        shape::Dims::from_slice(a.shape())
    } else {
        shape::broadcast_shapes(a.shape(), b.shape())?
    };
    // two tensors of one dtype (neither a Python number) promote to that dtype
    let rt = if a.dtype() == b.dtype() && !a.is_wrapped_number() && !b.is_wrapped_number() {
        a.dtype()
    } else {
        result_type(&[a, b])
    };
    let ct = op.compute_dtype(rt)?;
    if ct.is_float() && op.float_kernel() {
        // SAFETY (both): binary_to writes every element.
        let out = if op.is_comparison() {
            unsafe { Tensor::uninit::<bool>(&out_shape) }
        } else {
            crate::dispatch_float!(ct, T => unsafe { Tensor::uninit::<T>(&out_shape) },
                _ => unreachable!("float"))
        };
        binary_to(op, ct, a, b, &out);
        return Ok(out);
    }
    let a = if convert(a, ct) { &a.to_dtype(ct) } else { a };
    let b = if convert(b, ct) { &b.to_dtype(ct) } else { b };
    if ct.is_int() {
        if matches!(
            op,
            Binary::FloorDiv | Binary::TruncDiv | Binary::Rem | Binary::Fmod
        ) && has_zero(b)
        {
            return Err(Error::runtime("ZeroDivisionError"));
        }
        if op == Binary::Pow && has_negative(b) {
            return Err(Error::runtime(
                "Integers to negative integer powers are not allowed.",
            ));
        }
    }
    let s = &out_shape;
    crate::dispatch_num!(ct, T => {
        Ok(match op {
            Binary::Add => map2::<T, T, T>(a, b, s, |x, y| x.add(y)),
            Binary::Sub => map2::<T, T, T>(a, b, s, |x, y| x.sub(y)),
            Binary::Mul => map2::<T, T, T>(a, b, s, |x, y| x.mul(y)),
            Binary::Div => map2::<T, T, T>(a, b, s, |x, y| T::from_f64(x.to_f64() / y.to_f64())),
            Binary::FloorDiv => map2::<T, T, T>(a, b, s, |x, y| x.floor_div(y)),
            Binary::TruncDiv => map2::<T, T, T>(a, b, s, |x, y| x.trunc_div(y)),
            Binary::Rem => map2::<T, T, T>(a, b, s, |x, y| x.rem(y)),
            Binary::Fmod => map2::<T, T, T>(a, b, s, |x, y| x.fmod(y)),
            Binary::Pow => map2::<T, T, T>(a, b, s, Arith::pow),
            Binary::Maximum => map2::<T, T, T>(a, b, s, |x, y| x.max_nan(y)),
            Binary::Minimum => map2::<T, T, T>(a, b, s, |x, y| x.min_nan(y)),
            Binary::Atan2 => map2::<T, T, T>(a, b, s, |x, y| T::from_f64(x.to_f64().atan2(y.to_f64()))),
            Binary::Eq => map2::<T, T, bool>(a, b, s, |x, y| x == y),
            Binary::Ne => map2::<T, T, bool>(a, b, s, |x, y| x != y),
            Binary::Lt => map2::<T, T, bool>(a, b, s, |x, y| x < y),
            Binary::Le => map2::<T, T, bool>(a, b, s, |x, y| x <= y),
            Binary::Gt => map2::<T, T, bool>(a, b, s, |x, y| x > y),
            Binary::Ge => map2::<T, T, bool>(a, b, s, |x, y| x >= y),
            Binary::BitAnd => map2::<T, T, T>(a, b, s, |x, y| T::from_i64(x.to_i64() & y.to_i64())),
            Binary::BitOr => map2::<T, T, T>(a, b, s, |x, y| T::from_i64(x.to_i64() | y.to_i64())),
            Binary::BitXor => map2::<T, T, T>(a, b, s, |x, y| T::from_i64(x.to_i64() ^ y.to_i64())),
            Binary::LogicalAnd | Binary::LogicalOr | Binary::LogicalXor => unreachable!("computed in bool"),
        })
    }, bool => bool_binary(op, a, b, s))
}

/// A one-element operand (a Python number, a scalar parameter) is cast when the kernel reads
/// it (`Operand::of`, the same cast as `to_dtype`) instead of through a converted copy.
fn convert(x: &Tensor, ct: DType) -> bool {
    x.dtype() != ct && !(ct.is_float() && x.numel() == 1)
}

/// `out = a op b` computed in the float dtype `ct` (`Binary::float_kernel` ops) into `out`, a
/// contiguous tensor of the broadcast shape (dtype `ct`, or bool for comparisons):
/// `binary_raw`'s own path for these ops, and the form fit's fixed-buffer step runs
/// (graph/buffers.rs).
pub fn binary_to(op: Binary, ct: DType, a: &Tensor, b: &Tensor, out: &Tensor) {
    // torch computes a Python-number power of 2, 3, -1, -2 or -0.5 with products, a quotient and a
    // square root in the tensor's precision (x*x*x, 1/(x*x), 1/sqrt(x)), rounding unlike pow
    let exponent = (op == Binary::Pow && b.is_wrapped_number() && b.numel() == 1)
        .then(|| crate::dispatch!(b.dtype(), T => b.get_flat::<T>(0).to_f64()));
    let a = if convert(a, ct) { &a.to_dtype(ct) } else { a };
    let b = if convert(b, ct) { &b.to_dtype(ct) } else { b };
    crate::dispatch_float!(ct, T => match op {
        Binary::Add => map2_to::<T, T, T>(a, b, out, |x, y| x.add(y)),
        Binary::Sub => map2_to::<T, T, T>(a, b, out, |x, y| x.sub(y)),
        Binary::Mul => map2_to::<T, T, T>(a, b, out, |x, y| x.mul(y)),
        Binary::Div => map2_to::<T, T, T>(a, b, out, |x, y| T::from_f64(x.to_f64() / y.to_f64())),
        Binary::Pow if exponent == Some(2.0) => map2_to::<T, T, T>(a, b, out, |x, _| x.mul(x)),
        Binary::Pow if exponent == Some(-1.0) => map2_to::<T, T, T>(a, b, out, |x, _| T::from_f64(1.0 / x.to_f64())),
        Binary::Pow if exponent == Some(3.0) => map2_to::<T, T, T>(a, b, out, |x, _| x.mul(x).mul(x)),
        Binary::Pow if exponent == Some(-2.0) => map2_to::<T, T, T>(a, b, out, |x, _| T::from_f64(1.0 / x.mul(x).to_f64())),
        Binary::Pow if exponent == Some(-0.5) => map2_to::<T, T, T>(a, b, out, |x, _| T::from_f64(1.0 / T::from_f64(x.to_f64().sqrt()).to_f64())),
        Binary::Pow => map2_to::<T, T, T>(a, b, out, Arith::pow),
        Binary::Maximum => map2_to::<T, T, T>(a, b, out, |x, y| x.max_nan(y)),
        Binary::Minimum => map2_to::<T, T, T>(a, b, out, |x, y| x.min_nan(y)),
        Binary::Eq => map2_to::<T, T, bool>(a, b, out, |x, y| x == y),
        Binary::Ne => map2_to::<T, T, bool>(a, b, out, |x, y| x != y),
        Binary::Lt => map2_to::<T, T, bool>(a, b, out, |x, y| x < y),
        Binary::Le => map2_to::<T, T, bool>(a, b, out, |x, y| x <= y),
        Binary::Gt => map2_to::<T, T, bool>(a, b, out, |x, y| x > y),
        Binary::Ge => map2_to::<T, T, bool>(a, b, out, |x, y| x >= y),
        _ => unreachable!("binary_to: {op:?} has no float kernel"),
    }, _ => unreachable!("binary_to: computing in {:?}", ct))
}

fn bool_binary(op: Binary, a: &Tensor, b: &Tensor, s: &[usize]) -> Result<Tensor> {
    Ok(match op {
        Binary::Add | Binary::Maximum | Binary::BitOr | Binary::LogicalOr => {
            map2::<bool, bool, bool>(a, b, s, |x, y| x | y)
        }
        Binary::Mul | Binary::Minimum | Binary::BitAnd | Binary::LogicalAnd => {
            map2::<bool, bool, bool>(a, b, s, |x, y| x & y)
        }
        Binary::BitXor | Binary::LogicalXor | Binary::Ne => {
            map2::<bool, bool, bool>(a, b, s, |x, y| x ^ y)
        }
        Binary::Eq => map2::<bool, bool, bool>(a, b, s, |x, y| x == y),
        Binary::Lt => map2::<bool, bool, bool>(a, b, s, |x, y| !x & y),
        Binary::Le => map2::<bool, bool, bool>(a, b, s, |x, y| x <= y),
        Binary::Gt => map2::<bool, bool, bool>(a, b, s, |x, y| x & !y),
        Binary::Ge => map2::<bool, bool, bool>(a, b, s, |x, y| x >= y),
        Binary::Pow => map2::<bool, bool, bool>(a, b, s, |x, y| x | !y),
        _ => {
            return Err(Error::runtime(format!(
                "{op:?} is not supported for bool tensors"
            )));
        }
    })
}

fn has_zero(t: &Tensor) -> bool {
    crate::dispatch!(t.dtype(), T => (0..t.numel()).any(|i| t.get_flat::<T>(i) == T::zero()))
}
fn has_negative(t: &Tensor) -> bool {
    crate::dispatch!(t.dtype(), T => (0..t.numel()).any(|i| t.get_flat::<T>(i).to_f64() < 0.0))
}

/// A binary op with autograd.
fn binary_eager(op: Binary, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let out = binary_raw(op, a, b)?;
    if out.dtype().is_float() && needs_grad(&[a, b]) {
        record_binary(op, &out, a, b)?;
    }
    Ok(out)
}

fn record_binary(op: Binary, out: &Tensor, a: &Tensor, b: &Tensor) -> Result<()> {
    // Mul, Div and Pow save (and differentiate for) only what an input that requires grad needs,
    // as torch does: `y * 2` then keeps no reference to y, so changing y in place afterwards is
    // no error, and a backward skips the gradient of a constant operand.
    let (ra, rb) = (a.requires_grad(), b.requires_grad());
    let (sa, sb) = (a.save(), b.save());
    let n = |x: &'static str| x;
    match op {
        Binary::Add => record_fn(out, &[a, b], n("AddBackward0"), |g| {
            Ok(vec![Some(g.clone()), Some(g.clone())])
        }),
        Binary::Sub => record_fn(out, &[a, b], n("SubBackward0"), |g| {
            Ok(vec![Some(g.clone()), Some(neg(g)?)])
        }),
        Binary::Mul => {
            // d(ab)/da = b, d(ab)/db = a
            let name = "MulBackward0";
            let (sa, sb) = (rb.then_some(sa), ra.then_some(sb));
            record_fn(out, &[a, b], name, move |g| {
                let ga = sb.as_ref().map(|b| mul(g, b.get(name)?)).transpose()?;
                let gb = sa.as_ref().map(|a| mul(g, a.get(name)?)).transpose()?;
                Ok(vec![ga, gb])
            })
        }
        Binary::Div => {
            // d(a/b)/da = 1/b, d(a/b)/db = -a/b²
            let name = "DivBackward0";
            let sa = rb.then_some(sa);
            record_fn(out, &[a, b], name, move |g| {
                let b = sb.get(name)?;
                let ga = div(g, b)?;
                let gb = match &sa {
                    Some(a) => Some(neg(&div(&mul(&ga, a.get(name)?)?, b)?)?),
                    None => None,
                };
                Ok(vec![ra.then_some(ga), gb])
            })
        }
        Binary::Pow => {
            // d(a^b)/da = b·a^(b-1), d(a^b)/db = a^b·ln(a) (0 where a == 0 and b >= 0)
            // torch's overloads: tensor ** number, tensor ** tensor, number ** tensor
            let name = if b.is_wrapped_number() {
                "PowBackward0"
            } else if a.is_wrapped_number() {
                "PowBackward2"
            } else {
                "PowBackward1"
            };
            // a Python-number exponent stays one, so x ** 3's gradient uses x ** 2 = x*x as torch's
            let exponent = (b.is_wrapped_number() && b.numel() == 1)
                .then(|| crate::dispatch!(b.dtype(), T => b.get_flat::<T>(0).to_f64()));
            let so = rb.then(|| out.save_output(0));
            record_fn(out, &[a, b], name, move |g| {
                let (a, b) = (sa.get(name)?, sb.get(name)?);
                let ga = match (ra, exponent) {
                    (false, _) => None,
                    // d x^0/dx = 0 everywhere (0·x^-1 would be NaN at 0)
                    (true, Some(0.0)) => Some(crate::ops::creation::zeros_like(g)),
                    (true, Some(e)) => Some(mul(
                        g,
                        &mul(b, &binary(Binary::Pow, a, &scalar_f(e - 1.0))?)?,
                    )?),
                    (true, None) => {
                        let ga = mul(
                            g,
                            &mul(b, &binary(Binary::Pow, a, &sub(b, &scalar_f(1.0))?)?)?,
                        )?;
                        // 0 where the exponent is 0, as torch's (not NaN at a == 0)
                        let zero_exp = binary(Binary::Eq, b, &scalar_f(0.0))?;
                        Some(crate::ops::indexing::where_(
                            &zero_exp,
                            &scalar_f(0.0),
                            &ga,
                        )?)
                    }
                };
                let Some(so) = &so else {
                    return Ok(vec![ga, None]);
                };
                let o = &so.get(name)?;
                // ln(a) in the output's precision (an integer base would otherwise go through float32)
                let af = if a.dtype() != o.dtype() {
                    crate::ops::copy::to_dtype(a, o.dtype(), false)?
                } else {
                    a.clone()
                };
                let lg = mul(o, &unary(Unary::Log, &af)?)?;
                let mask = binary(
                    Binary::LogicalAnd,
                    &binary(Binary::Eq, a, &scalar_f(0.0))?,
                    &binary(Binary::Ge, b, &scalar_f(0.0))?,
                )?;
                let lg = crate::ops::indexing::where_(&mask, &scalar_f(0.0), &lg)?;
                Ok(vec![ga, Some(mul(g, &lg)?)])
            })
        }
        Binary::Maximum | Binary::Minimum => {
            // the gradient goes to the larger (smaller) input, split evenly on ties
            let name = if op == Binary::Maximum {
                "MaximumBackward0"
            } else {
                "MinimumBackward0"
            };
            let cmp = if op == Binary::Maximum {
                Binary::Gt
            } else {
                Binary::Lt
            };
            record_fn(out, &[a, b], name, move |g| {
                let (a, b) = (sa.get(name)?, sb.get(name)?);
                let half = mul(g, &scalar_f(0.5))?;
                let zero = scalar_f(0.0);
                let eq = binary(Binary::Eq, a, b)?;
                let w = |win: &Tensor| -> Result<Tensor> {
                    let x = crate::ops::indexing::where_(win, g, &zero)?;
                    crate::ops::indexing::where_(&eq, &half, &x)
                };
                Ok(vec![
                    Some(w(&binary(cmp, a, b)?)?),
                    Some(w(&binary(cmp, b, a)?)?),
                ])
            })
        }
        Binary::Atan2 => {
            // d/da atan2(a,b) = b/(a²+b²), d/db = -a/(a²+b²)
            let name = "Atan2Backward0";
            record_fn(out, &[a, b], name, move |g| {
                let (a, b) = (sa.get(name)?, sb.get(name)?);
                let r = add(&mul(a, a)?, &mul(b, b)?)?;
                let gr = div(g, &r)?;
                Ok(vec![Some(mul(&gr, b)?), Some(neg(&mul(&gr, a)?)?)])
            })
        }
        Binary::Rem | Binary::Fmod => {
            // d(a mod b)/da = 1, d/db = -q where q is the (floor or trunc) quotient
            // torch numbers the tensor-tensor overloads 1 and the tensor-scalar ones 0
            let name = match (op == Binary::Rem, b.is_wrapped_number()) {
                (true, true) => "RemainderBackward0",
                (true, false) => "RemainderBackward1",
                (false, true) => "FmodBackward0",
                (false, false) => "FmodBackward1",
            };
            let q = if op == Binary::Rem {
                Binary::FloorDiv
            } else {
                Binary::TruncDiv
            };
            record_fn(out, &[a, b], name, move |g| {
                let (a, b) = (sa.get(name)?, sb.get(name)?);
                Ok(vec![
                    Some(g.clone()),
                    // the quotient is piecewise constant: no graph of its own (as torch's)
                    Some(neg(&mul(g, &{
                        let _off = crate::autograd::GradModeGuard::new(false);
                        binary(q, a, b)?
                    })?)?),
                ])
            })
        }
        Binary::FloorDiv | Binary::TruncDiv => {
            let name = "DivBackward1";
            record_fn(out, &[a, b], name, |_| {
                Err(Error::not_implemented(
                    "the derivative for 'floor_divide' is not implemented.",
                ))
            })
        }
        _ => {}
    }
    Ok(())
}

pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(Binary::Add, a, b)
}
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(Binary::Sub, a, b)
}
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(Binary::Mul, a, b)
}
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(Binary::Div, a, b)
}
pub fn neg(a: &Tensor) -> Result<Tensor> {
    unary(Unary::Neg, a)
}

/// Refuses in-place writes autograd cannot follow, with torch's messages.
pub fn check_inplace(dst: &Tensor) -> Result<()> {
    if !autograd::is_grad_enabled() {
        return Ok(());
    }
    if dst.requires_grad() && dst.is_leaf() && !dst.is_view() {
        return Err(Error::runtime(
            "a leaf Variable that requires grad is being used in an in-place operation.",
        ));
    }
    if let Some(base) = dst.view_base() {
        if base.requires_grad() && base.is_leaf() {
            return Err(Error::runtime(
                "a view of a leaf Variable that requires grad is being used in an in-place operation.",
            ));
        }
    }
    Ok(())
}

/// Writes `value` (already computed from dst's old values) into `dst` and, when recorded,
/// makes `value`'s graph node the new history of `dst` (of its base too, when dst is a view).
pub fn commit_inplace(dst: &Tensor, value: &Tensor) -> Result<()> {
    if !can_cast(value.dtype(), dst.dtype()) {
        return Err(Error::runtime(format!(
            "result type {} can't be cast to the desired output type {}",
            value.dtype().scalar_name(),
            dst.dtype().scalar_name()
        )));
    }
    if value.shape() != dst.shape() {
        return Err(Error::runtime(format!(
            "output with shape {} doesn't match the broadcast shape {}",
            shape::fmt_shape(dst.shape()),
            shape::fmt_shape(value.shape())
        )));
    }
    let recording = autograd::is_grad_enabled() && (value.requires_grad() || dst.requires_grad());
    if recording && dst.is_view() {
        return commit_into_view(dst, value);
    }
    crate::kernels::elementwise::copy_cast(dst, value);
    if value.requires_grad() && autograd::is_grad_enabled() {
        let vm = value.autograd_meta().expect("requires grad");
        let (node, nr) = {
            let st = vm.state.lock();
            (st.grad_fn.clone(), st.output_nr)
        };
        let meta = dst.autograd_meta_or_init();
        meta.requires_grad
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut st = meta.state.lock();
        st.grad_fn = node;
        st.output_nr = nr;
    }
    Ok(())
}

/// Whether some element of `t` is reached by two index tuples (an expanded dim).
fn has_internal_overlap(t: &Tensor) -> bool {
    t.shape()
        .iter()
        .zip(t.strides())
        .any(|(&n, &s)| n > 1 && s == 0)
}

/// An in-place write into a view under autograd (torch's CopySlices): the base's history becomes
/// "old base with the view's region replaced by `value`", and the view's history a slice of that.
fn commit_into_view(dst: &Tensor, value: &Tensor) -> Result<()> {
    let base = dst.view_base().expect("checked is_view").clone();
    if !base.is_contiguous() || !dst.dtype().is_float() {
        return Err(Error::not_implemented(
            "ferrotorch does not support in-place writes into a view of a non-contiguous tensor while \
             autograd records them; call .contiguous() on the base tensor first",
        ));
    }
    if has_internal_overlap(dst) {
        return Err(Error::runtime(
            "unsupported operation: more than one element of the written-to tensor refers to a single memory \
             location. Please clone() the tensor before performing the operation.",
        ));
    }
    let rel = dst.offset() - base.offset();
    let vshape = shape::Dims::from_slice(dst.shape());
    let vstrides = shape::Strides::from_slice(dst.strides());
    crate::kernels::elementwise::copy_cast(dst, value);
    let (s1, t1) = (vshape.clone(), vstrides.clone());
    // d new_base/d old_base = 1 outside the region; d new_base/d value = 1 inside it
    record_fn(&base, &[&base, value], "CopySlices", move |g| {
        let gb = crate::ops::copy::clone_raw(g);
        let region = gb.view_parts(s1.clone(), t1.clone(), rel);
        let gv = crate::ops::copy::clone_raw(&region);
        crate::kernels::elementwise::copy_cast(&region, &Tensor::scalar(0i64));
        Ok(vec![Some(gb), Some(gv)])
    });
    let bshape: Vec<usize> = base.shape().to_vec();
    let dt = base.dtype();
    // the view's gradient lands in its region of a zero base-shaped tensor
    record_fn(dst, &[&base], "AsStridedBackward0", move |g| {
        let z = Tensor::zeros(&bshape, dt);
        crate::kernels::elementwise::copy_cast(
            &z.view_parts(vshape.clone(), vstrides.clone(), rel),
            g,
        );
        Ok(vec![Some(z)])
    });
    Ok(())
}

/// `dst op= src` in place, with torch's casting rules.
fn binary_inplace_eager(op: Binary, dst: &Tensor, src: &Tensor) -> Result<()> {
    check_inplace(dst)?;
    let recording = autograd::is_grad_enabled() && (dst.requires_grad() || src.requires_grad());
    if !recording
        && dst.dtype() == src.dtype()
        && !dst.shares_storage(src)
        && matches!(op, Binary::Add | Binary::Sub | Binary::Mul | Binary::Div)
        && (op != Binary::Div || dst.dtype().is_float())
        && shape::broadcast_shapes(dst.shape(), src.shape())?.as_slice() == dst.shape()
    {
        // Fast path (optimizer updates, grad accumulation): no temporary.
        crate::dispatch_num!(dst.dtype(), T => {
            match op {
                Binary::Add => update2::<T, T>(dst, src, |x, y| x.add(y)),
                Binary::Sub => update2::<T, T>(dst, src, |x, y| x.sub(y)),
                Binary::Mul => update2::<T, T>(dst, src, |x, y| x.mul(y)),
                _ => update2::<T, T>(dst, src, |x, y| T::from_f64(x.to_f64() / y.to_f64())),
            }
        }, bool => {
            let v = binary_raw(op, dst, src)?;
            return commit_inplace(dst, &v);
        });
        return Ok(());
    }
    // The old value of dst is snapshotted so the recorded node saves values, not the mutated buffer.
    let old = if recording {
        crate::ops::copy::clone(dst)?
    } else {
        dst.clone()
    };
    let v = binary(op, &old, src)?;
    commit_inplace(dst, &v)
}

/// `a += b` without autograd checks (gradient accumulation).
pub fn add_inplace(dst: &Tensor, src: &Tensor) -> Result<()> {
    let _g = autograd::GradModeGuard::new(false);
    binary_inplace(Binary::Add, dst, src)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    Neg,
    Abs,
    Exp,
    Exp2,
    Expm1,
    Log,
    Log2,
    Log10,
    Log1p,
    Sqrt,
    Rsqrt,
    Square,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Sigmoid,
    Relu,
    Floor,
    Ceil,
    Round,
    Trunc,
    Frac,
    Sign,
    Reciprocal,
    Erf,
    Asinh,
    Acosh,
    Atanh,
    Deg2rad,
    Rad2deg,
    Sinc,
}

impl Unary {
    /// Ops that turn integer inputs into floats (computed in the default dtype).
    fn float_only(self) -> bool {
        !matches!(
            self,
            Unary::Neg
                | Unary::Abs
                | Unary::Square
                | Unary::Relu
                | Unary::Floor
                | Unary::Ceil
                | Unary::Round
                | Unary::Trunc
                | Unary::Sign
                | Unary::Frac
        )
    }
    fn grad_name(self) -> &'static str {
        match self {
            Unary::Neg => "NegBackward0",
            Unary::Abs => "AbsBackward0",
            Unary::Exp => "ExpBackward0",
            Unary::Exp2 => "Exp2Backward0",
            Unary::Expm1 => "Expm1Backward0",
            Unary::Log => "LogBackward0",
            Unary::Log2 => "Log2Backward0",
            Unary::Log10 => "Log10Backward0",
            Unary::Log1p => "Log1PBackward0",
            Unary::Sqrt => "SqrtBackward0",
            Unary::Rsqrt => "RsqrtBackward0",
            Unary::Square => "PowBackward0",
            Unary::Sin => "SinBackward0",
            Unary::Cos => "CosBackward0",
            Unary::Tan => "TanBackward0",
            Unary::Asin => "AsinBackward0",
            Unary::Acos => "AcosBackward0",
            Unary::Atan => "AtanBackward0",
            Unary::Sinh => "SinhBackward0",
            Unary::Cosh => "CoshBackward0",
            Unary::Tanh => "TanhBackward0",
            Unary::Sigmoid => "SigmoidBackward0",
            Unary::Relu => "ReluBackward0",
            Unary::Floor => "FloorBackward0",
            Unary::Ceil => "CeilBackward0",
            Unary::Round => "RoundBackward0",
            Unary::Trunc => "TruncBackward0",
            Unary::Frac => "FracBackward0",
            Unary::Sign => "SignBackward0",
            Unary::Reciprocal => "ReciprocalBackward0",
            Unary::Erf => "ErfBackward0",
            Unary::Asinh => "AsinhBackward0",
            Unary::Acosh => "AcoshBackward0",
            Unary::Atanh => "AtanhBackward0",
            Unary::Deg2rad => "Deg2RadBackward0",
            Unary::Rad2deg => "Rad2DegBackward0",
            Unary::Sinc => "SincBackward0",
        }
    }
}

macro_rules! float_unary {
    ($op:expr, $x:expr, $out:expr, $T:ty) => {{
        type T = $T;
        match $op {
            Unary::Exp => map1_to::<T, T>($x, $out, |v| v.exp()),
            Unary::Exp2 => map1_to::<T, T>($x, $out, |v| v.exp2()),
            Unary::Expm1 => map1_to::<T, T>($x, $out, |v| v.exp_m1()),
            Unary::Log => map1_to::<T, T>($x, $out, |v| v.ln()),
            Unary::Log2 => map1_to::<T, T>($x, $out, |v| v.log2()),
            Unary::Log10 => map1_to::<T, T>($x, $out, |v| v.log10()),
            Unary::Log1p => map1_to::<T, T>($x, $out, |v| v.ln_1p()),
            Unary::Sqrt => map1_to::<T, T>($x, $out, |v| v.sqrt()),
            Unary::Rsqrt => map1_to::<T, T>($x, $out, |v| 1.0 / v.sqrt()),
            Unary::Sin => map1_to::<T, T>($x, $out, |v| v.sin()),
            Unary::Cos => map1_to::<T, T>($x, $out, |v| v.cos()),
            Unary::Tan => map1_to::<T, T>($x, $out, |v| v.tan()),
            Unary::Asin => map1_to::<T, T>($x, $out, |v| v.asin()),
            Unary::Acos => map1_to::<T, T>($x, $out, |v| v.acos()),
            Unary::Atan => map1_to::<T, T>($x, $out, |v| v.atan()),
            Unary::Sinh => map1_to::<T, T>($x, $out, |v| v.sinh()),
            Unary::Cosh => map1_to::<T, T>($x, $out, |v| v.cosh()),
            Unary::Tanh => map1_to::<T, T>($x, $out, |v| v.tanh()),
            Unary::Sigmoid => map1_to::<T, T>($x, $out, |v| 1.0 / (1.0 + (-v).exp())),
            Unary::Reciprocal => map1_to::<T, T>($x, $out, |v| 1.0 / v),
            Unary::Erf => {
                map1_to::<T, T>($x, $out, |v| crate::kernels::special::erf(v as f64) as T)
            }
            Unary::Asinh => map1_to::<T, T>($x, $out, |v| v.asinh()),
            Unary::Acosh => map1_to::<T, T>($x, $out, |v| v.acosh()),
            Unary::Atanh => map1_to::<T, T>($x, $out, |v| v.atanh()),
            Unary::Deg2rad => {
                map1_to::<T, T>($x, $out, |v| v * (std::f64::consts::PI / 180.0) as T)
            }
            Unary::Rad2deg => {
                map1_to::<T, T>($x, $out, |v| v * (180.0 / std::f64::consts::PI) as T)
            }
            // sin(πx)/(πx) in the tensor's precision, 1 at 0 (torch's kernel)
            Unary::Sinc => map1_to::<T, T>($x, $out, |v| {
                if v == 0.0 {
                    1.0
                } else {
                    let p = std::f64::consts::PI as T * v;
                    p.sin() / p
                }
            }),
            Unary::Neg => map1_to::<T, T>($x, $out, |v| -v),
            Unary::Abs => map1_to::<T, T>($x, $out, |v| v.abs()),
            Unary::Square => map1_to::<T, T>($x, $out, |v| v * v),
            Unary::Relu => {
                map1_to::<T, T>($x, $out, |v| if v > 0.0 || v.is_nan() { v } else { 0.0 })
            }
            Unary::Floor => map1_to::<T, T>($x, $out, |v| v.floor()),
            Unary::Ceil => map1_to::<T, T>($x, $out, |v| v.ceil()),
            Unary::Round => map1_to::<T, T>($x, $out, |v| v.round_ties_even()),
            Unary::Trunc => map1_to::<T, T>($x, $out, |v| v.trunc()),
            Unary::Frac => map1_to::<T, T>($x, $out, |v| v - v.trunc()),
            Unary::Sign => map1_to::<T, T>($x, $out, |v| {
                ((0.0 < v) as u8 as T) - ((v < 0.0) as u8 as T)
            }),
        }
    }};
}

/// `out = op(x)` for float `x` into `out`, a contiguous tensor of x's shape and dtype:
/// `unary_raw`'s own float path, and the form fit's fixed-buffer step runs (graph/buffers.rs).
pub fn unary_to(op: Unary, x: &Tensor, out: &Tensor) {
    match x.dtype() {
        DType::F32 => float_unary!(op, x, out, f32),
        DType::F64 => float_unary!(op, x, out, f64),
        dt => unreachable!("unary_to: {dt:?} input"),
    }
}

/// The forward of a unary op, without autograd.
pub fn unary_raw(op: Unary, x: &Tensor) -> Result<Tensor> {
    let dt = x.dtype();
    if op.float_only() && !dt.is_float() {
        return unary_raw(op, &x.to_dtype(default_dtype()));
    }
    Ok(match dt {
        DType::F32 | DType::F64 => {
            let out = crate::dispatch_float!(dt, T => unsafe {
                // SAFETY: unary_to writes every element.
                Tensor::uninit::<T>(x.shape())
            }, _ => unreachable!("float"));
            unary_to(op, x, &out);
            out
        }
        DType::Bool => match op {
            Unary::Neg => {
                return Err(Error::not_implemented(
                    "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert \
                     a mask, use the `~` or `logical_not()` operator instead.",
                ))
            }
            Unary::Frac => return Err(Error::runtime("\"frac_cpu\" not implemented for 'Bool'")),
            _ => crate::ops::copy::clone_raw(x),
        },
        _ => crate::dispatch_num!(dt, T => match op {
            Unary::Neg => map1::<T, T>(x, Arith::neg),
            Unary::Abs => map1::<T, T>(x, Arith::abs),
            Unary::Square => map1::<T, T>(x, |v| v.mul(v)),
            Unary::Relu => map1::<T, T>(x, |v| if v > T::zero() { v } else { T::zero() }),
            Unary::Sign => map1::<T, T>(x, |v| {
                if v > T::zero() { T::one() } else if v < T::zero() { T::zero().sub(T::one()) } else { T::zero() }
            }),
            Unary::Frac => map1::<T, T>(x, |_| T::zero()),
            _ => crate::ops::copy::clone_raw(x),
        }, bool => unreachable!()),
    })
}

/// A unary op with autograd.
fn unary_eager(op: Unary, x: &Tensor) -> Result<Tensor> {
    let out = unary_raw(op, x)?;
    if out.dtype().is_float() && needs_grad(&[x]) {
        record_unary(op, &out, x);
    }
    Ok(out)
}

fn record_unary(op: Unary, out: &Tensor, x: &Tensor) {
    let name = op.grad_name();
    // each derivative reads x or the output y (or neither); only that one is kept, as torch does
    let uses_y = matches!(
        op,
        Unary::Exp
            | Unary::Exp2
            | Unary::Expm1
            | Unary::Sqrt
            | Unary::Rsqrt
            | Unary::Tan
            | Unary::Tanh
            | Unary::Sigmoid
            | Unary::Relu
            | Unary::Reciprocal
    );
    let uses_x = !uses_y
        && !matches!(
            op,
            Unary::Neg
                | Unary::Frac
                | Unary::Floor
                | Unary::Ceil
                | Unary::Round
                | Unary::Trunc
                | Unary::Sign
        );
    let sx: Option<SavedTensor> = uses_x.then(|| x.save());
    let so: Option<SavedOutput> = uses_y.then(|| out.save_output(0));
    let f = move |g: &Tensor| -> Result<Vec<Option<Tensor>>> {
        let unsaved =
            || Error::runtime(format!("{name}: a tensor its backward reads was not saved"));
        let x = || sx.as_ref().ok_or_else(unsaved)?.get(name);
        let y = || so.as_ref().ok_or_else(unsaved)?.get(name);
        let c = scalar_f;
        let gi = match op {
            Unary::Neg => neg(g)?,                                            // d(-x) = -1
            Unary::Abs => mul(g, &unary(Unary::Sign, x()?)?)?,                // d|x| = sign(x)
            Unary::Exp => mul(g, &y()?)?,                                     // d e^x = e^x
            Unary::Exp2 => mul(g, &mul(&y()?, &c(std::f64::consts::LN_2))?)?, // d 2^x = 2^x ln2
            Unary::Expm1 => mul(g, &add(&y()?, &c(1.0))?)?,                   // d(e^x - 1) = e^x
            Unary::Log => div(g, x()?)?,                                      // d ln x = 1/x
            Unary::Log2 => div(g, &mul(x()?, &c(std::f64::consts::LN_2))?)?,  // 1/(x ln2)
            Unary::Log10 => div(g, &mul(x()?, &c(std::f64::consts::LN_10))?)?, // 1/(x ln10)
            Unary::Log1p => div(g, &add(x()?, &c(1.0))?)?,                    // 1/(1+x)
            Unary::Sqrt => div(g, &mul(&y()?, &c(2.0))?)?,                    // 1/(2 sqrt x)
            Unary::Rsqrt => mul(g, &mul(&mul(&y()?, &mul(&y()?, &y()?)?)?, &c(-0.5))?)?, // -x^(-3/2)/2
            Unary::Square => mul(g, &mul(x()?, &c(2.0))?)?,                              // 2x
            Unary::Sin => mul(g, &unary(Unary::Cos, x()?)?)?,                            // cos x
            Unary::Cos => neg(&mul(g, &unary(Unary::Sin, x()?)?)?)?,                     // -sin x
            Unary::Tan => mul(g, &add(&mul(&y()?, &y()?)?, &c(1.0))?)?, // 1 + tan²x
            Unary::Asin => div(g, &unary(Unary::Sqrt, &sub(&c(1.0), &mul(x()?, x()?)?)?)?)?, // 1/sqrt(1-x²)
            Unary::Acos => neg(&div(
                g,
                &unary(Unary::Sqrt, &sub(&c(1.0), &mul(x()?, x()?)?)?)?,
            )?)?, // -1/sqrt(1-x²)
            Unary::Atan => div(g, &add(&mul(x()?, x()?)?, &c(1.0))?)?, // 1/(1+x²)
            Unary::Sinh => mul(g, &unary(Unary::Cosh, x()?)?)?,        // cosh x
            Unary::Cosh => mul(g, &unary(Unary::Sinh, x()?)?)?,        // sinh x
            Unary::Tanh => mul(g, &sub(&c(1.0), &mul(&y()?, &y()?)?)?)?, // 1 - tanh²x
            Unary::Sigmoid => mul(g, &mul(&y()?, &sub(&c(1.0), &y()?)?)?)?, // s(1-s)
            Unary::Relu => mul(g, &binary(Binary::Gt, &y()?, &c(0.0))?)?, // 1 where y > 0
            Unary::Reciprocal => neg(&mul(g, &mul(&y()?, &y()?)?)?)?,  // -1/x²
            Unary::Erf => {
                // 2/sqrt(pi) e^(-x²)
                let e = unary(Unary::Exp, &neg(&mul(x()?, x()?)?)?)?;
                mul(g, &mul(&e, &c(std::f64::consts::FRAC_2_SQRT_PI))?)?
            }
            Unary::Asinh => mul(g, &unary(Unary::Rsqrt, &add(&mul(x()?, x()?)?, &c(1.0))?)?)?, // 1/sqrt(x²+1)
            Unary::Acosh => mul(g, &unary(Unary::Rsqrt, &sub(&mul(x()?, x()?)?, &c(1.0))?)?)?, // 1/sqrt(x²-1)
            Unary::Atanh => div(g, &sub(&c(1.0), &mul(x()?, x()?)?)?)?, // 1/(1-x²)
            Unary::Deg2rad => mul(g, &c(std::f64::consts::PI / 180.0))?, // π/180
            Unary::Rad2deg => mul(g, &c(180.0 / std::f64::consts::PI))?, // 180/π
            Unary::Sinc => {
                // (πx cos πx - sin πx)/(πx²), 0 at x = 0
                let x = x()?;
                let px = mul(x, &c(std::f64::consts::PI))?;
                let pxx = mul(&mul(x, x)?, &c(std::f64::consts::PI))?;
                let num = sub(
                    &mul(&px, &unary(Unary::Cos, &px)?)?,
                    &unary(Unary::Sin, &px)?,
                )?;
                let d = div(&mul(g, &num)?, &pxx)?;
                let at0 = binary(Binary::Eq, &pxx, &c(0.0))?;
                crate::ops::indexing::where_(&at0, &c(0.0), &d)?
            }
            Unary::Frac => g.clone(), // d frac = 1
            Unary::Floor | Unary::Ceil | Unary::Round | Unary::Trunc | Unary::Sign => {
                crate::ops::creation::zeros_like(g) // piecewise constant
            }
        };
        Ok(vec![Some(gi)])
    };
    record_fn(out, &[x], name, f);
}

/// In-place unary (`x.exp_()`), with torch's rule that the result must fit x's dtype.
fn unary_inplace_eager(op: Unary, x: &Tensor) -> Result<()> {
    check_inplace(x)?;
    let recording = autograd::is_grad_enabled() && x.requires_grad();
    let src = if recording {
        crate::ops::copy::clone(x)?
    } else {
        x.clone()
    };
    let v = unary(op, &src)?;
    commit_inplace(x, &v)
}

/// `clamp(x, min, max)` with scalar bounds (NaN stays NaN, as in torch).
fn clamp_scalar_eager(
    x: &Tensor,
    lo: Option<crate::Scalar>,
    hi: Option<crate::Scalar>,
) -> Result<Tensor> {
    if lo.is_none() && hi.is_none() {
        return Err(Error::runtime(
            "torch.clamp: At least one of 'min' or 'max' must not be None",
        ));
    }
    let bounds_float = lo.is_some_and(|s| s.is_float()) || hi.is_some_and(|s| s.is_float());
    let dt = if bounds_float && !x.dtype().is_float() {
        default_dtype()
    } else {
        x.dtype()
    };
    let xc = if x.dtype() != dt {
        x.to_dtype(dt)
    } else {
        x.clone()
    };
    let out = crate::dispatch_num!(dt, T => {
        let (l, h) = (lo.map(|s| s.to::<T>()), hi.map(|s| s.to::<T>()));
        map1::<T, T>(&xc, move |v| {
            if v.is_nan() {
                return v;
            }
            let mut r = v;
            if let Some(l) = l {
                if r < l { r = l; }
            }
            if let Some(h) = h {
                if r > h { r = h; }
            }
            r
        })
    }, bool => return Err(Error::runtime("\"clamp_cpu\" not implemented for 'Bool'")));
    if dt.is_float() && needs_grad(&[x]) {
        let sx = x.save();
        let name = "ClampBackward1";
        // d clamp/dx = 1 inside [min, max], 0 outside
        record_fn(&out, &[x], name, move |g| {
            let x = sx.get(name)?;
            let mut m =
                crate::ops::creation::full(x.shape(), crate::Scalar::Bool(true), DType::Bool);
            if let Some(l) = lo {
                m = binary(Binary::LogicalAnd, &m, &binary(Binary::Ge, x, &l.wrap())?)?;
            }
            if let Some(h) = hi {
                m = binary(Binary::LogicalAnd, &m, &binary(Binary::Le, x, &h.wrap())?)?;
            }
            Ok(vec![Some(mul(g, &m)?)])
        });
    }
    Ok(out)
}

/// `clamp(x, min, max)` with tensor bounds (torch's ClampBackward0).
fn clamp_tensor_eager(x: &Tensor, lo: Option<&Tensor>, hi: Option<&Tensor>) -> Result<Tensor> {
    if lo.is_none() && hi.is_none() {
        return Err(Error::runtime(
            "torch.clamp: At least one of 'min' or 'max' must not be None",
        ));
    }
    let _raw = autograd::GradModeGuard::new(false);
    let mut r = x.clone();
    if let Some(l) = lo {
        r = crate::ops::indexing::where_(&binary_raw(Binary::Lt, &r, l)?, l, &r)?;
    }
    if let Some(h) = hi {
        r = crate::ops::indexing::where_(&binary_raw(Binary::Gt, &r, h)?, h, &r)?;
    }
    drop(_raw);
    let mut inputs: Vec<&Tensor> = vec![x];
    inputs.extend(lo);
    inputs.extend(hi);
    if r.dtype().is_float() && needs_grad(&inputs) {
        let (sx, sl, sh) = (x.save(), lo.map(|t| t.save()), hi.map(|t| t.save()));
        let name = "ClampBackward0";
        // d/dx = 1 where lo <= x <= hi; d/dlo = 1 where x < lo; d/dhi = 1 where x > hi
        record_fn(&r, &inputs, name, move |g| {
            let x = sx.get(name)?;
            let zero = scalar_f(0.0);
            let mut inside =
                crate::ops::creation::full(x.shape(), crate::Scalar::Bool(true), DType::Bool);
            let mut grads = vec![];
            let mut lo_mask = None;
            if let Some(l) = &sl {
                let below = binary(Binary::Lt, x, l.get(name)?)?;
                inside = binary(Binary::LogicalAnd, &inside, &logical_not(&below))?;
                lo_mask = Some(below);
            }
            let mut hi_mask = None;
            if let Some(h) = &sh {
                let above = binary(Binary::Gt, x, h.get(name)?)?;
                // torch gives min precedence when min > max, so "above" excludes "below"
                let above = match &lo_mask {
                    Some(b) => binary(Binary::LogicalAnd, &above, &logical_not(b))?,
                    None => above,
                };
                inside = binary(Binary::LogicalAnd, &inside, &logical_not(&above))?;
                hi_mask = Some(above);
            }
            grads.push(Some(crate::ops::indexing::where_(&inside, g, &zero)?));
            if let Some(m) = lo_mask {
                grads.push(Some(crate::ops::indexing::where_(&m, g, &zero)?));
            }
            if let Some(m) = hi_mask {
                grads.push(Some(crate::ops::indexing::where_(&m, g, &zero)?));
            }
            Ok(grads)
        });
    }
    Ok(r)
}

/// Predicates with a bool result and no gradient.
pub fn isnan(x: &Tensor) -> Tensor {
    crate::dispatch_num!(x.dtype(), T => map1::<T, bool>(x, |v| v.is_nan()), bool => map1::<bool, bool>(x, |_| false))
}
pub fn isinf(x: &Tensor) -> Tensor {
    match x.dtype() {
        DType::F32 => map1::<f32, bool>(x, |v| v.is_infinite()),
        DType::F64 => map1::<f64, bool>(x, |v| v.is_infinite()),
        _ => crate::ops::creation::full(x.shape(), crate::Scalar::Bool(false), DType::Bool),
    }
}
pub fn isfinite(x: &Tensor) -> Tensor {
    match x.dtype() {
        DType::F32 => map1::<f32, bool>(x, |v| v.is_finite()),
        DType::F64 => map1::<f64, bool>(x, |v| v.is_finite()),
        _ => crate::ops::creation::full(x.shape(), crate::Scalar::Bool(true), DType::Bool),
    }
}
pub fn logical_not(x: &Tensor) -> Tensor {
    crate::dispatch!(x.dtype(), T => map1::<T, bool>(x, |v| !v.to_bool()))
}
pub fn bitwise_not(x: &Tensor) -> Result<Tensor> {
    Ok(match x.dtype() {
        DType::Bool => map1::<bool, bool>(x, |v| !v),
        DType::I64 => map1::<i64, i64>(x, |v| !v),
        DType::I32 => map1::<i32, i32>(x, |v| !v),
        DType::U8 => map1::<u8, u8>(x, |v| !v),
        d => {
            return Err(Error::runtime(format!(
                "\"bitwise_not_cpu\" not implemented for '{}'",
                d.scalar_name()
            )))
        }
    })
}

/// `nan_to_num`: NaN, +inf and -inf replaced (defaults: 0, the dtype's max and min).
pub fn nan_to_num(
    x: &Tensor,
    nan: f64,
    posinf: Option<f64>,
    neginf: Option<f64>,
) -> Result<Tensor> {
    let out = match x.dtype() {
        DType::F32 => {
            let (p, n) = (
                posinf.map_or(f32::MAX, |v| v as f32),
                neginf.map_or(f32::MIN, |v| v as f32),
            );
            map1::<f32, f32>(x, move |v| {
                if v.is_nan() {
                    nan as f32
                } else if v == f32::INFINITY {
                    p
                } else if v == f32::NEG_INFINITY {
                    n
                } else {
                    v
                }
            })
        }
        DType::F64 => {
            let (p, n) = (posinf.unwrap_or(f64::MAX), neginf.unwrap_or(f64::MIN));
            map1::<f64, f64>(x, move |v| {
                if v.is_nan() {
                    nan
                } else if v == f64::INFINITY {
                    p
                } else if v == f64::NEG_INFINITY {
                    n
                } else {
                    v
                }
            })
        }
        _ => crate::ops::copy::clone_raw(x),
    };
    if out.dtype().is_float() && needs_grad(&[x]) {
        let sx = x.save();
        // gradient passes where x was finite
        record_fn(&out, &[x], "NanToNumBackward0", move |g| {
            Ok(vec![Some(mul(g, &isfinite(sx.get("NanToNumBackward0")?))?)])
        });
    }
    Ok(out)
}

/// `round(x, decimals)`: torch scales by 10^decimals, rounds half to even, scales back.
pub fn round_decimals(x: &Tensor, decimals: i64) -> Result<Tensor> {
    if decimals == 0 {
        return unary(Unary::Round, x);
    }
    let out = match x.dtype() {
        DType::F32 => {
            let neg = decimals < 0;
            let p = 10f32.powi(decimals.unsigned_abs() as i32);
            map1::<f32, f32>(x, move |v| {
                if neg {
                    (v / p).round_ties_even() * p
                } else {
                    (v * p).round_ties_even() / p
                }
            })
        }
        DType::F64 => {
            let neg = decimals < 0;
            let p = 10f64.powi(decimals.unsigned_abs() as i32);
            map1::<f64, f64>(x, move |v| {
                if neg {
                    (v / p).round_ties_even() * p
                } else {
                    (v * p).round_ties_even() / p
                }
            })
        }
        _ => {
            return Err(Error::runtime(
                "round_cpu does not support decimals for integer tensors",
            ))
        }
    };
    if needs_grad(&[x]) {
        // piecewise constant
        record_fn(&out, &[x], "RoundBackward1", |g| {
            Ok(vec![Some(crate::ops::creation::zeros_like(g))])
        });
    }
    Ok(out)
}

/// `lerp(start, end, weight)` = start + weight * (end - start).
fn lerp_eager(start: &Tensor, end: &Tensor, weight: &Tensor) -> Result<Tensor> {
    let out = {
        let _raw = autograd::GradModeGuard::new(false);
        add(start, &mul(weight, &sub(end, start)?)?)?
    };
    let scalar_w = weight.is_wrapped_number();
    let inputs: Vec<&Tensor> = if scalar_w {
        vec![start, end]
    } else {
        vec![start, end, weight]
    };
    if out.dtype().is_float() && needs_grad(&inputs) {
        let name = if scalar_w {
            "LerpBackward0"
        } else {
            "LerpBackward1"
        };
        let (ss, se, sw) = (start.save(), end.save(), weight.save());
        // d/dstart = 1 - w, d/dend = w, d/dw = end - start
        record_fn(&out, &inputs, name, move |g| {
            let w = sw.get(name)?;
            let mut v = vec![Some(mul(g, &sub(&scalar_f(1.0), w)?)?), Some(mul(g, w)?)];
            if !scalar_w {
                v.push(Some(mul(g, &sub(se.get(name)?, ss.get(name)?)?)?));
            }
            Ok(v)
        });
    }
    Ok(out)
}

/// `isclose(a, b, rtol, atol, equal_nan)`: |a - b| <= atol + rtol·|b|, infinities equal only to themselves.
pub fn isclose(a: &Tensor, b: &Tensor, rtol: f64, atol: f64, equal_nan: bool) -> Result<Tensor> {
    if a.dtype() != b.dtype() {
        return Err(Error::runtime(format!(
            "{} did not match {}",
            a.dtype().scalar_name(),
            b.dtype().scalar_name()
        )));
    }
    let s = shape::broadcast_shapes(a.shape(), b.shape())?;
    Ok(
        crate::dispatch!(a.dtype(), T => map2::<T, T, bool>(a, b, &s, move |x, y| {
            let (x, y) = (x.to_f64(), y.to_f64());
            if x == y {
                return true;
            }
            if x.is_nan() || y.is_nan() {
                return equal_nan && x.is_nan() && y.is_nan();
            }
            x.is_finite() && y.is_finite() && (x - y).abs() <= atol + rtol * y.abs()
        })),
    )
}

/// `torch.equal`: same shape and every element equal (no broadcasting).
pub fn equal(a: &Tensor, b: &Tensor) -> Result<bool> {
    if a.shape() != b.shape() {
        return Ok(false);
    }
    let eq = binary_raw(Binary::Eq, a, b)?;
    Ok((0..eq.numel()).all(|i| eq.get_flat::<bool>(i)))
}

// Replayable entry points: each runs its `_eager` op and records it for `fit`.

/// The float dtype `binary_raw` computes `a op b` in through `binary_to`, if it does.
fn buffer_dtype(op: Binary, a: &Tensor, b: &Tensor) -> Option<DType> {
    let rt = result_type(&[a, b]);
    let ct = op.compute_dtype(rt).ok()?;
    (ct.is_float() && op.float_kernel()).then_some(ct)
}

/// `binary`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn binary(op: Binary, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = binary_eager(op, a, b)?;
    if scope.on() {
        let ins = [a, b];
        let into: Option<crate::graph::program::IntoFn> = buffer_dtype(op, a, b).map(|ct| {
            std::sync::Arc::new(move |i: &[&Tensor], o: &Tensor| {
                binary_to(op, ct, i[0], i[1], o);
                Ok(())
            }) as _
        });
        scope.record1_into(
            "binary",
            &ins,
            &out,
            move |i| binary_eager(op, &i[0], &i[1]),
            into,
        );
    }
    Ok(out)
}

/// `binary_inplace`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn binary_inplace(op: Binary, dst: &Tensor, src: &Tensor) -> Result<()> {
    let scope = capture::scope_mut(&[dst]);
    binary_inplace_eager(op, dst, src)?;
    if scope.on() {
        let ins = [dst, src];
        scope.record("binary_inplace", &ins, &[dst], move |i| {
            binary_inplace_eager(op, &i[0], &i[1])?;
            Ok(vec![i[0].clone()])
        });
    }
    Ok(())
}

/// `unary`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn unary(op: Unary, x: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = unary_eager(op, x)?;
    if scope.on() {
        let ins = [x];
        let into: Option<crate::graph::program::IntoFn> = x.dtype().is_float().then(|| {
            std::sync::Arc::new(move |i: &[&Tensor], o: &Tensor| {
                unary_to(op, i[0], o);
                Ok(())
            }) as _
        });
        scope.record1_into("unary", &ins, &out, move |i| unary_eager(op, &i[0]), into);
    }
    Ok(out)
}

/// `unary_inplace`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn unary_inplace(op: Unary, x: &Tensor) -> Result<()> {
    let scope = capture::scope_mut(&[x]);
    unary_inplace_eager(op, x)?;
    if scope.on() {
        let ins = [x];
        scope.record("unary_inplace", &ins, &[x], move |i| {
            unary_inplace_eager(op, &i[0])?;
            Ok(vec![i[0].clone()])
        });
    }
    Ok(())
}

/// `clamp_scalar`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn clamp_scalar(
    x: &Tensor,
    lo: Option<crate::Scalar>,
    hi: Option<crate::Scalar>,
) -> Result<Tensor> {
    let scope = capture::scope();
    let out = clamp_scalar_eager(x, lo, hi)?;
    if scope.on() {
        let ins = [x];
        scope.record1("clamp_scalar", &ins, &out, move |i| {
            clamp_scalar_eager(&i[0], lo, hi)
        });
    }
    Ok(out)
}

/// `clamp_tensor`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn clamp_tensor(x: &Tensor, lo: Option<&Tensor>, hi: Option<&Tensor>) -> Result<Tensor> {
    let scope = capture::scope();
    let out = clamp_tensor_eager(x, lo, hi)?;
    if scope.on() {
        let (ins, m) = capture::with_optional(&[x], &[lo, hi]);
        scope.record1("clamp_tensor", &ins, &out, move |i| {
            clamp_tensor_eager(
                &i[0],
                capture::optional_at(i, 1, m, 0),
                capture::optional_at(i, 1, m, 1),
            )
        });
    }
    Ok(out)
}

/// `lerp`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn lerp(start: &Tensor, end: &Tensor, weight: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = lerp_eager(start, end, weight)?;
    if scope.on() {
        let ins = [start, end, weight];
        scope.record1("lerp", &ins, &out, move |i| lerp_eager(&i[0], &i[1], &i[2]));
    }
    Ok(out)
}
