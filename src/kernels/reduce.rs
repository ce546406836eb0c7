//! Reductions over any set of dims: one fold per output element, in a fixed order.

use super::strided::for_each_run;
use crate::dtype::Element;
use crate::tensor::Tensor;
use smallvec::SmallVec;

/// Folds the elements of `x` over the dims marked in `reduced`, one output per position of the
/// kept dims (row-major). `finish` gets the accumulator and the number of reduced elements.
pub fn reduce<T: Element, A: Copy, O: Element>(
    x: &Tensor,
    reduced: &[bool],
    init: A,
    fold: impl Fn(A, T) -> A,
    finish: impl Fn(A, usize) -> O,
) -> Vec<O> {
    let (mut ks, mut kst, mut rs, mut rst): (
        SmallVec<[usize; 6]>,
        SmallVec<[isize; 6]>,
        SmallVec<[usize; 6]>,
        SmallVec<[isize; 6]>,
    ) = Default::default();
    for d in 0..x.ndim() {
        if reduced[d] {
            rs.push(x.shape()[d]);
            rst.push(x.strides()[d]);
        } else {
            ks.push(x.shape()[d]);
            kst.push(x.strides()[d]);
        }
    }
    let n_out: usize = ks.iter().product();
    // An empty kept shape still yields one output (a full reduction); a zero in it yields none.
    let n_red: usize = rs.iter().product();
    let mut out = Vec::with_capacity(n_out);
    let base = x.ptr::<T>();
    let ostr = crate::shape::contiguous_strides(&ks);
    // Kept positions in row-major order: walk them with a run loop whose output stride is contiguous.
    for_each_run(&ks, [&kst, &ostr], |off, len, st| {
        for i in 0..len as isize {
            let start = off[0] + i * st[0];
            let mut acc = init;
            for_each_run(&rs, [&rst], |roff, rlen, rstep| {
                // SAFETY: offsets come from x's valid layout.
                unsafe {
                    let p = base.offset(start + roff[0]);
                    if rstep[0] == 1 {
                        for j in 0..rlen {
                            acc = fold(acc, *p.add(j));
                        }
                    } else {
                        for j in 0..rlen as isize {
                            acc = fold(acc, *p.offset(j * rstep[0]));
                        }
                    }
                }
            });
            out.push(finish(acc, n_red));
        }
    });
    out
}
