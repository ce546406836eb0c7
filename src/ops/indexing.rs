//! Selection ops: where (and, as they land, gather/scatter/index_select/masked ops).

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::strided::for_each_run;
use crate::ops::elementwise::{record_fn, result_type};
use crate::shape;
use crate::tensor::Tensor;

/// `torch.where(cond, a, b)` with broadcasting over all three.
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if cond.dtype() != DType::Bool && cond.dtype() != DType::U8 {
        return Err(Error::runtime(format!(
            "where expected condition to be a boolean tensor, but got a tensor with dtype {}",
            cond.dtype().scalar_name()
        )));
    }
    let s = shape::broadcast_shapes(&shape::broadcast_shapes(cond.shape(), a.shape())?, b.shape())?;
    let dt = result_type(&[a, b]);
    let ac = if a.dtype() != dt { a.to_dtype(dt) } else { a.clone() };
    let bc = if b.dtype() != dt { b.to_dtype(dt) } else { b.clone() };
    let cc = if cond.dtype() != DType::Bool { cond.to_dtype(DType::Bool) } else { cond.clone() };
    let out = crate::dispatch!(dt, T => {
        let n = shape::numel(&s);
        let mut v: Vec<T> = Vec::with_capacity(n);
        let dst = v.as_mut_ptr();
        let sc = shape::broadcast_strides(cc.shape(), cc.strides(), &s);
        let sa = shape::broadcast_strides(ac.shape(), ac.strides(), &s);
        let sb = shape::broadcast_strides(bc.shape(), bc.strides(), &s);
        let so = shape::contiguous_strides(&s);
        let (pc, pa, pb) = (cc.ptr::<bool>(), ac.ptr::<T>(), bc.ptr::<T>());
        for_each_run(&s, [&sc, &sa, &sb, &so], |o, len, st| {
            for i in 0..len as isize {
                // SAFETY: offsets from valid broadcast layouts; every output element written once.
                unsafe {
                    let c = *pc.offset(o[0] + i * st[0]);
                    let x = if c { *pa.offset(o[1] + i * st[1]) } else { *pb.offset(o[2] + i * st[2]) };
                    *dst.offset(o[3] + i * st[3]) = x;
                }
            }
        });
        // SAFETY: all n elements written.
        unsafe { v.set_len(n) };
        Tensor::from_vec_unchecked(v, &s)
    });
    if dt.is_float() && crate::autograd::needs_grad(&[a, b]) {
        let c = cond.save();
        // the gradient goes to a where cond holds, to b elsewhere
        record_fn(&out, &[a, b], "WhereBackward0", move |g| {
            let c = c.get("WhereBackward0")?;
            let z = Tensor::wrapped_scalar(0.0f64);
            Ok(vec![Some(where_(c, g, &z)?), Some(where_(c, &z, g)?)])
        });
    }
    Ok(out)
}
