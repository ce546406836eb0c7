//! Matrix products with backward: matmul (torch's full 1-D/2-D/batched semantics), mm, bmm, dot, mv, outer, addmm, einsum.

use crate::autograd::needs_grad;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::kernels::gemm::{batched, MatElem, Operand};
use crate::ops::elementwise::{mul, record_fn, scalar_f};
use crate::ops::movement::{permute, reshape_usize, squeeze, transpose, unsqueeze};
use crate::shape;
use crate::tensor::Tensor;

/// A matrix operand: the batch strides, the row and column strides.
struct Mat<'a> {
    t: &'a Tensor,
    batch_strides: Vec<isize>,
    rs: isize,
    cs: isize,
}

/// Element offsets of every batch (row-major over `batch`) for broadcast batch strides.
fn batch_offsets(batch: &[usize], strides: &[isize]) -> Vec<isize> {
    let total = shape::numel(batch);
    let mut out = Vec::with_capacity(total);
    let mut idx = vec![0usize; batch.len()];
    let mut off = 0isize;
    for _ in 0..total {
        out.push(off);
        for d in (0..batch.len()).rev() {
            idx[d] += 1;
            off += strides[d];
            if idx[d] < batch[d] {
                break;
            }
            off -= strides[d] * batch[d] as isize;
            idx[d] = 0;
        }
    }
    out
}

/// The product kernel call: `out[batch] = dst_scale*init + scale * a[batch]·b[batch]`.
#[allow(clippy::too_many_arguments)]
fn product(
    a: Mat<'_>,
    b: Mat<'_>,
    batch: &[usize],
    m: usize,
    n: usize,
    k: usize,
    out_shape: &[usize],
    init: Option<(&Tensor, f64)>,
    scale: f64,
) -> Result<Tensor> {
    let dt = a.t.dtype();
    let a_off = batch_offsets(batch, &a.batch_strides);
    let b_off = batch_offsets(batch, &b.batch_strides);
    fn go<T: MatElem>(
        a: &Mat<'_>,
        b: &Mat<'_>,
        a_off: &[isize],
        b_off: &[isize],
        m: usize,
        n: usize,
        k: usize,
        out_shape: &[usize],
        init: Option<(&Tensor, f64)>,
        scale: f64,
    ) -> Tensor {
        let out = match init {
            Some((t, _)) => crate::ops::copy::clone_raw(t),
            None => Tensor::zeros(out_shape, T::DTYPE),
        };
        let (read, ds) = match init {
            Some((_, s)) => (true, T::from_f64(s)),
            None => (false, T::zero()),
        };
        let ao = Operand {
            ptr: a.t.ptr::<T>() as *const T,
            rs: a.rs,
            cs: a.cs,
        };
        let bo = Operand {
            ptr: b.t.ptr::<T>() as *const T,
            rs: b.rs,
            cs: b.cs,
        };
        // SAFETY: offsets/strides come from the operands' own (broadcast) layouts and the
        // output is a fresh contiguous buffer of batches·m·n elements.
        unsafe {
            batched(
                out.as_mut_slice::<T>(),
                m,
                n,
                k,
                ao,
                a_off,
                bo,
                b_off,
                read,
                ds,
                T::from_f64(scale),
            )
        };
        out
    }
    Ok(match dt {
        DType::F32 => go::<f32>(&a, &b, &a_off, &b_off, m, n, k, out_shape, init, scale),
        DType::F64 => go::<f64>(&a, &b, &a_off, &b_off, m, n, k, out_shape, init, scale),
        DType::I64 => go::<i64>(&a, &b, &a_off, &b_off, m, n, k, out_shape, init, scale),
        DType::I32 => go::<i32>(&a, &b, &a_off, &b_off, m, n, k, out_shape, init, scale),
        DType::U8 => go::<u8>(&a, &b, &a_off, &b_off, m, n, k, out_shape, init, scale),
        DType::Bool => {
            return Err(Error::not_implemented(
                "\"addmm_impl_cpu_\" not implemented for 'Bool'",
            ));
        }
    })
}

/// The C++ type name torch prints in matmul dtype errors.
fn dt_name(dt: DType) -> &'static str {
    match dt {
        DType::F32 => "float",
        DType::F64 => "double",
        DType::I64 => "long int",
        DType::I32 => "int",
        DType::U8 => "unsigned char",
        DType::Bool => "bool",
    }
}

fn check_same_dtype(a: &Tensor, b: &Tensor) -> Result<()> {
    if a.dtype() != b.dtype() {
        return Err(Error::runtime(format!(
            "expected m1 and m2 to have the same dtype, but got: {} != {}",
            dt_name(a.dtype()),
            dt_name(b.dtype())
        )));
    }
    Ok(())
}

fn mm_shape_err(op: &str, a: &[usize], b: &[usize]) -> Error {
    Error::runtime(format!(
        "{op}: mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
        a[0], a[1], b[0], b[1]
    ))
}

/// The forward of a product of (batched) matrices with broadcast batch dims; no autograd.
/// Both inputs have ndim >= 2.
fn matmul_nd_raw(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (na, nb) = (a.ndim(), b.ndim());
    let (m, k) = (a.shape()[na - 2], a.shape()[na - 1]);
    let (k2, n) = (b.shape()[nb - 2], b.shape()[nb - 1]);
    let batch = shape::broadcast_shapes(&a.shape()[..na - 2], &b.shape()[..nb - 2])?;
    if a.dtype() != b.dtype() {
        if na == 2 && nb == 2 {
            check_same_dtype(a, b)?;
        }
        return Err(Error::runtime(format!(
            "expected scalar type {} but found {}",
            a.dtype().scalar_name(),
            b.dtype().scalar_name()
        )));
    }
    if k != k2 {
        if nb == 2 {
            // torch folds the batch of `a` into its rows and runs mm
            let rows = shape::numel(&a.shape()[..na - 1]);
            return Err(mm_shape_err("mm", &[rows, k], &[k2, n]));
        }
        return Err(Error::runtime(format!(
            "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
            shape::numel(&batch),
            k,
            shape::numel(&batch),
            k2
        )));
    }
    let bstr = |t: &Tensor| {
        shape::broadcast_strides(
            &t.shape()[..t.ndim() - 2],
            &t.strides()[..t.ndim() - 2],
            &batch,
        )
    };
    let mut out_shape: Vec<usize> = batch.to_vec();
    out_shape.extend([m, n]);
    let ma = Mat {
        t: a,
        batch_strides: bstr(a).to_vec(),
        rs: a.strides()[na - 2],
        cs: a.strides()[na - 1],
    };
    let mb = Mat {
        t: b,
        batch_strides: bstr(b).to_vec(),
        rs: b.strides()[nb - 2],
        cs: b.strides()[nb - 1],
    };
    product(ma, mb, &batch, m, n, k, &out_shape, None, 1.0)
}

/// Product of (batched) matrices, both ndim >= 2, with backward.
fn matmul_nd(a: &Tensor, b: &Tensor, name: &'static str) -> Result<Tensor> {
    let out = matmul_nd_raw(a, b)?;
    if out.dtype().is_float() && needs_grad(&[a, b]) {
        let (sa, sb) = (a.save(), b.save());
        // d(AB)/dA = G·Bᵀ, d(AB)/dB = Aᵀ·G (the engine sums broadcast batch dims back)
        record_fn(&out, &[a, b], name, move |g| {
            let (a, b) = (sa.get(name)?, sb.get(name)?);
            let ga = if a.requires_grad() {
                Some(matmul_nd(g, &transpose(b, -2, -1)?, "MmBackward0")?)
            } else {
                None
            };
            let gb = if b.requires_grad() {
                Some(matmul_nd(&transpose(a, -2, -1)?, g, "MmBackward0")?)
            } else {
                None
            };
            Ok(vec![ga, gb])
        });
    }
    Ok(out)
}

/// `torch.mm(a, b)`.
fn mm_eager(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() != 2 {
        return Err(Error::runtime(format!(
            "mm: self must be a matrix, got {}-D tensor",
            a.ndim()
        )));
    }
    if b.ndim() != 2 {
        return Err(Error::runtime(format!(
            "mm: mat2 must be a matrix, got {}-D tensor",
            b.ndim()
        )));
    }
    check_same_dtype(a, b)?;
    if a.shape()[1] != b.shape()[0] {
        return Err(mm_shape_err("mm", a.shape(), b.shape()));
    }
    matmul_nd(a, b, "MmBackward0")
}

/// `torch.bmm(a, b)`: exactly 3-D operands with equal batch sizes.
fn bmm_eager(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() != 3 {
        return Err(Error::runtime("batch1 must be a 3D tensor"));
    }
    if b.ndim() != 3 {
        return Err(Error::runtime("batch2 must be a 3D tensor"));
    }
    if a.shape()[0] != b.shape()[0] || a.shape()[2] != b.shape()[1] {
        return Err(Error::runtime(format!(
            "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
            a.shape()[0],
            a.shape()[2],
            b.shape()[0],
            b.shape()[1]
        )));
    }
    matmul_nd(a, b, "BmmBackward0")
}

/// `torch.dot(a, b)`: 1-D · 1-D.
fn dot_eager(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() != 1 || b.ndim() != 1 {
        return Err(Error::runtime(format!(
            "1D tensors expected, but got {}D and {}D tensors",
            a.ndim(),
            b.ndim()
        )));
    }
    if a.dtype() != b.dtype() {
        return Err(Error::runtime(format!(
            "dot : expected both vectors to have same dtype, but found {} and {}",
            a.dtype().scalar_name(),
            b.dtype().scalar_name()
        )));
    }
    let (k, k2) = (a.shape()[0], b.shape()[0]);
    if k != k2 {
        return Err(Error::runtime(format!(
            "inconsistent tensor size, expected tensor [{k}] and src [{k2}] to have the same number of elements, \
             but got {k} and {k2} elements respectively"
        )));
    }
    let ma = Mat {
        t: a,
        batch_strides: vec![],
        rs: 0,
        cs: a.strides()[0],
    };
    let mb = Mat {
        t: b,
        batch_strides: vec![],
        rs: b.strides()[0],
        cs: 0,
    };
    let out = product(ma, mb, &[], 1, 1, k, &[], None, 1.0)?;
    if out.dtype().is_float() && needs_grad(&[a, b]) {
        let (sa, sb) = (a.save(), b.save());
        let name = "DotBackward0";
        // d(a·b)/da = b, d(a·b)/db = a
        record_fn(&out, &[a, b], name, move |g| {
            Ok(vec![
                Some(mul(g, sb.get(name)?)?),
                Some(mul(g, sa.get(name)?)?),
            ])
        });
    }
    Ok(out)
}

/// `torch.mv(mat, vec)`.
fn mv_eager(a: &Tensor, v: &Tensor) -> Result<Tensor> {
    if a.ndim() != 2 || v.ndim() != 1 {
        return Err(Error::runtime(format!(
            "vector + matrix @ vector expected, got 1, {}, {}",
            a.ndim(),
            v.ndim()
        )));
    }
    let (m, k) = (a.shape()[0], a.shape()[1]);
    if v.shape()[0] != k {
        return Err(Error::runtime(format!(
            "size mismatch, got input ({m}), mat ({m}x{k}), vec ({})",
            v.shape()[0]
        )));
    }
    if a.dtype() != v.dtype() {
        return Err(Error::runtime(format!(
            "addmv input tensors must have the same dtype, but got {}, {}, and {}",
            v.dtype().scalar_name(),
            a.dtype().scalar_name(),
            v.dtype().scalar_name()
        )));
    }
    let ma = Mat {
        t: a,
        batch_strides: vec![],
        rs: a.strides()[0],
        cs: a.strides()[1],
    };
    let mb = Mat {
        t: v,
        batch_strides: vec![],
        rs: v.strides()[0],
        cs: 0,
    };
    let out = product(ma, mb, &[], m, 1, k, &[m], None, 1.0)?;
    if out.dtype().is_float() && needs_grad(&[a, v]) {
        let (sa, sv) = (a.save(), v.save());
        let name = "MvBackward0";
        // d(Av)/dA = g ⊗ v, d(Av)/dv = Aᵀ·g
        record_fn(&out, &[a, v], name, move |g| {
            let (a, v) = (sa.get(name)?, sv.get(name)?);
            let ga = if a.requires_grad() {
                Some(outer(g, v)?)
            } else {
                None
            };
            let gv = if v.requires_grad() {
                Some(mv(&transpose(a, 0, 1)?, g)?)
            } else {
                None
            };
            Ok(vec![ga, gv])
        });
    }
    Ok(out)
}

/// `torch.outer(a, b)`: `a[:, None] * b[None, :]` (torch promotes dtypes here).
fn outer_eager(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() != 1 {
        return Err(Error::runtime(format!(
            "outer: Expected 1-D argument self, but got {}-D",
            a.ndim()
        )));
    }
    if b.ndim() != 1 {
        return Err(Error::runtime(format!(
            "outer: Expected 1-D argument vec2, but got {}-D",
            b.ndim()
        )));
    }
    mul(&unsqueeze(a, 1)?, &unsqueeze(b, 0)?)
}

/// `torch.matmul(a, b)` with torch's rules for 1-D operands and batch broadcasting.
fn matmul_eager(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (na, nb) = (a.ndim(), b.ndim());
    if na == 0 || nb == 0 {
        return Err(Error::runtime(format!(
            "both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D"
        )));
    }
    match (na, nb) {
        (1, 1) => dot(a, b),
        (2, 1) => mv(a, b),
        (1, 2) => squeeze(&mm(&unsqueeze(a, 0)?, b)?, Some(&[0])),
        (2, 2) => mm(a, b),
        (_, 1) => squeeze(
            &matmul_nd(a, &unsqueeze(b, -1)?, "UnsafeViewBackward0")?,
            Some(&[-1]),
        ),
        (1, _) => squeeze(
            &matmul_nd(&unsqueeze(a, 0)?, b, "UnsafeViewBackward0")?,
            Some(&[-2]),
        ),
        (3, 3) if a.shape()[0] == b.shape()[0] => matmul_nd(a, b, "BmmBackward0"),
        _ => matmul_nd(a, b, "UnsafeViewBackward0"),
    }
}

/// `torch.addmm(input, mat1, mat2, beta, alpha)`: `beta*input + alpha*(mat1 @ mat2)` in one GEMM.
fn addmm_eager(input: &Tensor, m1: &Tensor, m2: &Tensor, beta: f64, alpha: f64) -> Result<Tensor> {
    if m1.ndim() != 2 {
        return Err(Error::runtime(format!(
            "addmm: self must be a matrix, got {}-D tensor",
            m1.ndim()
        )));
    }
    if m2.ndim() != 2 {
        return Err(Error::runtime(format!(
            "addmm: mat2 must be a matrix, got {}-D tensor",
            m2.ndim()
        )));
    }
    check_same_dtype(m1, m2)?;
    if m1.shape()[1] != m2.shape()[0] {
        return Err(mm_shape_err("addmm", m1.shape(), m2.shape()));
    }
    if input.dtype() != m1.dtype() {
        return Err(Error::runtime(format!(
            "self and mat2 must have the same dtype, but got {} and {}",
            input.dtype().scalar_name(),
            m2.dtype().scalar_name()
        )));
    }
    let (m, k, n) = (m1.shape()[0], m1.shape()[1], m2.shape()[1]);
    let init = crate::ops::movement::expand(&input.alias(), &[m, n])?;
    let ma = Mat {
        t: m1,
        batch_strides: vec![],
        rs: m1.strides()[0],
        cs: m1.strides()[1],
    };
    let mb = Mat {
        t: m2,
        batch_strides: vec![],
        rs: m2.strides()[0],
        cs: m2.strides()[1],
    };
    // beta == 0 ignores input entirely (NaN in it does not propagate), as torch documents.
    let init = if beta == 0.0 {
        None
    } else {
        Some((&init, beta))
    };
    let out = product(ma, mb, &[], m, n, k, &[m, n], init, alpha)?;
    if out.dtype().is_float() && needs_grad(&[input, m1, m2]) {
        let (s1, s2) = (m1.save(), m2.save());
        let name = "AddmmBackward0";
        // d/dinput = beta·g, d/dm1 = alpha·g·m2ᵀ, d/dm2 = alpha·m1ᵀ·g
        record_fn(&out, &[input, m1, m2], name, move |g| {
            let (m1, m2) = (s1.get(name)?, s2.get(name)?);
            let gi = mul(g, &scalar_f(beta))?;
            let ga = g_scaled(mm(g, &transpose(m2, 0, 1)?)?, alpha)?;
            let gb = g_scaled(mm(&transpose(m1, 0, 1)?, g)?, alpha)?;
            Ok(vec![Some(gi), Some(ga), Some(gb)])
        });
    }
    Ok(out)
}

fn g_scaled(g: Tensor, s: f64) -> Result<Tensor> {
    if s == 1.0 {
        Ok(g)
    } else {
        mul(&g, &scalar_f(s))
    }
}

/// `torch.einsum(equation, operands)`: contracted pairwise, left to right, through batched matmul.
pub fn einsum(equation: &str, ops: &[Tensor]) -> Result<Tensor> {
    let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match eq.find("->") {
        Some(p) => (&eq[..p], Some(&eq[p + 2..])),
        None => (&eq[..], None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() > ops.len() {
        return Err(Error::runtime(
            "einsum(): fewer operands were provided than specified in the equation",
        ));
    }
    if terms.len() < ops.len() {
        return Err(Error::runtime(
            "einsum(): more operands were provided than specified in the equation",
        ));
    }
    // Labels as u32: letters keep their code, ellipsis dims get codes 1000+i (right-aligned).
    let parse = |s: &str| -> Result<(Vec<u32>, Option<usize>)> {
        let mut labels = Vec::new();
        let mut ell = None;
        let mut rest = s;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("...") {
                if ell.is_some() {
                    return Err(Error::runtime(
                        "einsum(): found '.' for operand 0 that is not part of any ellipsis",
                    ));
                }
                ell = Some(labels.len());
                rest = r;
                continue;
            }
            let c = rest.chars().next().unwrap_or(' ');
            if !c.is_ascii_alphabetic() {
                return Err(Error::runtime(format!(
                    "einsum(): invalid subscript given at index {}",
                    s.len() - rest.len()
                )));
            }
            labels.push(c as u32);
            rest = &rest[1..];
        }
        Ok((labels, ell))
    };
    let mut ell_dims = 0usize;
    let mut op_labels: Vec<Vec<u32>> = Vec::new();
    let mut parsed = Vec::new();
    for (i, t) in terms.iter().enumerate() {
        let (labels, ell) = parse(t)?;
        let nd = ops[i].ndim();
        match ell {
            None if labels.len() != nd => {
                return Err(Error::runtime(format!(
                    "einsum(): the number of subscripts in the equation ({}) does not match the number of dimensions \
                     ({nd}) for operand {i} and no ellipsis was given",
                    labels.len()
                )));
            }
            Some(_) if labels.len() > nd => {
                return Err(Error::runtime(format!(
                    "einsum(): the number of subscripts in the equation ({}) is more than the number of dimensions \
                     ({nd}) for operand {i}",
                    labels.len()
                )));
            }
            _ => {}
        }
        if ell.is_some() {
            ell_dims = ell_dims.max(nd - labels.len());
        }
        parsed.push((labels, ell));
    }
    for (i, (labels, ell)) in parsed.iter().enumerate() {
        let mut full = labels.clone();
        if let Some(p) = ell {
            let e = ops[i].ndim() - labels.len();
            let ids: Vec<u32> = (ell_dims - e..ell_dims).map(|j| 1000 + j as u32).collect();
            full.splice(*p..*p, ids);
        }
        op_labels.push(full);
    }
    // The output labels: explicit, or the ellipsis then every label seen exactly once, sorted.
    let out_labels: Vec<u32> = match rhs {
        Some(r) => {
            let (labels, ell) = parse(r)?;
            let mut full = labels.clone();
            if let Some(p) = ell {
                full.splice(p..p, (0..ell_dims).map(|j| 1000 + j as u32));
            }
            for &l in &labels {
                if !op_labels.iter().any(|ls| ls.contains(&l)) {
                    return Err(Error::runtime(format!(
                        "einsum(): output subscript {} does not appear in the equation for any input operand",
                        char::from_u32(l).unwrap_or('?')
                    )));
                }
                if labels.iter().filter(|&&x| x == l).count() > 1 {
                    return Err(Error::runtime(format!(
                        "einsum(): output subscript {} appears more than once in the output",
                        char::from_u32(l).unwrap_or('?')
                    )));
                }
            }
            full
        }
        None => {
            let mut counts = std::collections::BTreeMap::new();
            for ls in &op_labels {
                for &l in ls {
                    if l < 1000 {
                        *counts.entry(l).or_insert(0usize) += 1;
                    }
                }
            }
            let mut full: Vec<u32> = (0..ell_dims).map(|j| 1000 + j as u32).collect();
            full.extend(counts.iter().filter(|(_, &c)| c == 1).map(|(&l, _)| l));
            full
        }
    };
    // Sizes: a label's size must agree across operands unless it is 1 (broadcast).
    let mut sizes: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for (i, ls) in op_labels.iter().enumerate() {
        for (d, &l) in ls.iter().enumerate() {
            let s = ops[i].shape()[d];
            match sizes.get(&l) {
                Some(&p) if p != s && p != 1 && s != 1 => {
                    return Err(Error::runtime(format!(
                        "einsum(): subscript {} has size {s} for operand {i} which does not broadcast with previously \
                         seen size {p}",
                        char::from_u32(l).unwrap_or('?')
                    )));
                }
                Some(&p) if p != 1 => {}
                _ => {
                    sizes.insert(l, s);
                }
            }
        }
    }
    // Each operand: take diagonals of repeated labels and sum labels used nowhere else.
    let mut cur: Vec<(Tensor, Vec<u32>)> = Vec::new();
    for (i, ls) in op_labels.iter().enumerate() {
        let (mut t, mut ls) = (ops[i].clone(), ls.clone());
        loop {
            let dup = (0..ls.len())
                .find_map(|a| (a + 1..ls.len()).find(|&b| ls[b] == ls[a]).map(|b| (a, b)));
            let Some((a, b)) = dup else { break };
            t = crate::ops::shape_ops::diagonal(&t, 0, a as i64, b as i64)?;
            let l = ls[a];
            ls.remove(b);
            ls.remove(a);
            ls.push(l);
        }
        let other = |l: u32| {
            out_labels.contains(&l)
                || op_labels
                    .iter()
                    .enumerate()
                    .any(|(j, o)| j != i && o.contains(&l))
        };
        let drop: Vec<i64> = (0..ls.len())
            .filter(|&d| !other(ls[d]))
            .map(|d| d as i64)
            .collect();
        if !drop.is_empty() {
            t = crate::ops::reduce::sum(&t, Some(&drop), false, None)?;
            ls.retain(|&l| other(l));
        }
        cur.push((t, ls));
    }
    let mut it = cur.into_iter();
    let (mut acc, mut acc_l) = it
        .next()
        .ok_or_else(|| Error::value("einsum(): must provide at least one operand"))?;
    let rest: Vec<(Tensor, Vec<u32>)> = it.collect();
    for (idx, (t, tl)) in rest.iter().enumerate() {
        let later: Vec<u32> = rest[idx + 1..]
            .iter()
            .flat_map(|(_, l)| l.iter().copied())
            .collect();
        let keep = |l: u32| out_labels.contains(&l) || later.contains(&l);
        let mut batch = Vec::new();
        let mut left = Vec::new();
        let mut right = Vec::new();
        let mut contr = Vec::new();
        for &l in &acc_l {
            if tl.contains(&l) {
                if keep(l) {
                    batch.push(l)
                } else {
                    contr.push(l)
                }
            } else {
                left.push(l)
            }
        }
        for &l in tl {
            if !acc_l.contains(&l) {
                right.push(l)
            }
        }
        let lsz = |ls: &[u32]| ls.iter().map(|l| sizes[l]).product::<usize>();
        let arrange = |t: &Tensor, tl: &[u32], order: &[&[u32]]| -> Result<Tensor> {
            let perm: Vec<i64> = order
                .iter()
                .flat_map(|g| g.iter())
                .map(|l| tl.iter().position(|x| x == l).unwrap_or(0) as i64)
                .collect();
            let p = permute(t, &perm)?;
            // broadcast size-1 dims to the label's full size
            let full: Vec<usize> = order
                .iter()
                .flat_map(|g| g.iter())
                .map(|l| sizes[l])
                .collect();
            crate::ops::movement::expand(&p, &full)
        };
        let a = arrange(&acc, &acc_l, &[&batch, &left, &contr])?;
        let b = arrange(t, tl, &[&batch, &contr, &right])?;
        let (nb, nl, nc, nr) = (lsz(&batch), lsz(&left), lsz(&contr), lsz(&right));
        let a = reshape_usize(&a, &[nb, nl, nc])?;
        let b = reshape_usize(&b, &[nb, nc, nr])?;
        let p = matmul_nd(&a, &b, "BmmBackward0")?;
        let mut shape_out: Vec<usize> = batch
            .iter()
            .chain(&left)
            .chain(&right)
            .map(|l| sizes[l])
            .collect();
        if shape_out.is_empty() {
            shape_out = vec![];
        }
        acc = reshape_usize(&p, &shape_out)?;
        acc_l = batch.iter().chain(&left).chain(&right).copied().collect();
    }
    // Final: sum leftovers (single operand), then order as the output.
    let drop: Vec<i64> = (0..acc_l.len())
        .filter(|&d| !out_labels.contains(&acc_l[d]))
        .map(|d| d as i64)
        .collect();
    if !drop.is_empty() {
        acc = crate::ops::reduce::sum(&acc, Some(&drop), false, None)?;
        acc_l.retain(|l| out_labels.contains(l));
    }
    let perm: Vec<i64> = out_labels
        .iter()
        .map(|l| acc_l.iter().position(|x| x == l).unwrap_or(0) as i64)
        .collect();
    let full: Vec<usize> = out_labels.iter().map(|l| sizes[l]).collect();
    let res = permute(&acc, &perm)?;
    if res.shape() != full.as_slice() {
        return crate::ops::movement::expand(&res, &full);
    }
    Ok(res)
}

// Replayable entry points: each runs its `_eager` op and records it for `fit`.

/// `mm`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn mm(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = mm_eager(a, b)?;
    if scope.on() {
        let ins = [a, b];
        scope.record1("mm", &ins, &out, move |i| mm_eager(&i[0], &i[1]));
    }
    Ok(out)
}

/// `bmm`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn bmm(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = bmm_eager(a, b)?;
    if scope.on() {
        let ins = [a, b];
        scope.record1("bmm", &ins, &out, move |i| bmm_eager(&i[0], &i[1]));
    }
    Ok(out)
}

/// `dot`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn dot(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = dot_eager(a, b)?;
    if scope.on() {
        let ins = [a, b];
        scope.record1("dot", &ins, &out, move |i| dot_eager(&i[0], &i[1]));
    }
    Ok(out)
}

/// `mv`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn mv(a: &Tensor, v: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = mv_eager(a, v)?;
    if scope.on() {
        let ins = [a, v];
        scope.record1("mv", &ins, &out, move |i| mv_eager(&i[0], &i[1]));
    }
    Ok(out)
}

/// `outer`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn outer(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = outer_eager(a, b)?;
    if scope.on() {
        let ins = [a, b];
        scope.record1("outer", &ins, &out, move |i| outer_eager(&i[0], &i[1]));
    }
    Ok(out)
}

/// `matmul`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = matmul_eager(a, b)?;
    if scope.on() {
        let ins = [a, b];
        scope.record1("matmul", &ins, &out, move |i| matmul_eager(&i[0], &i[1]));
    }
    Ok(out)
}

/// `addmm`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn addmm(input: &Tensor, m1: &Tensor, m2: &Tensor, beta: f64, alpha: f64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = addmm_eager(input, m1, m2, beta, alpha)?;
    if scope.on() {
        let ins = [input, m1, m2];
        scope.record1("addmm", &ins, &out, move |i| {
            addmm_eager(&i[0], &i[1], &i[2], beta, alpha)
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn matmul_shapes() {
        let a = Tensor::from_vec((0..6).map(|v| v as f64).collect(), &[2, 3]).unwrap();
        let b = Tensor::from_vec((0..3).map(|v| v as f64).collect(), &[3]).unwrap();
        let r = matmul(&a, &b).unwrap();
        assert_eq!(r.shape(), &[2]);
        assert_eq!(r.as_slice::<f64>(), &[5.0, 14.0]);
        let r = matmul(&b, &b).unwrap();
        assert_eq!(r.as_slice::<f64>(), &[5.0]);
        let e = einsum("ij,j->i", &[a.clone(), b.clone()]).unwrap();
        assert_eq!(e.as_slice::<f64>(), &[5.0, 14.0]);
        assert!(matmul(&a, &a).is_err());
    }
}
