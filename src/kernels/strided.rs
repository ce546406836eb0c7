//! Loop nests over strided operands: dims coalesced, the innermost run handed to a closure.

use smallvec::SmallVec;

/// Calls `f(offsets, len, inner_strides)` once per innermost run of `shape`, where `offsets[k]`
/// is operand k's element offset at the run start. Contiguous operands collapse to one run.
pub fn for_each_run<const N: usize>(
    shape: &[usize],
    strides: [&[isize]; N],
    mut f: impl FnMut([isize; N], usize, [isize; N]),
) {
    if shape.contains(&0) {
        return;
    }
    // (size, strides) per kept dim, outermost first; size-1 dims carry no iteration.
    let mut dims: SmallVec<[(usize, [isize; N]); 8]> = SmallVec::new();
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        let mut s = [0isize; N];
        for k in 0..N {
            s[k] = strides[k][d];
        }
        if let Some(last) = dims.last_mut() {
            // Merge with the previous (outer) dim when it steps exactly over this one for all operands.
            if (0..N).all(|k| last.1[k] == s[k] * shape[d] as isize) {
                last.0 *= shape[d];
                last.1 = s;
                continue;
            }
        }
        dims.push((shape[d], s));
    }
    let Some(&(inner_len, inner_strides)) = dims.last() else {
        f([0; N], 1, [0; N]);
        return;
    };
    let outer = &dims[..dims.len() - 1];
    let mut idx: SmallVec<[usize; 8]> = SmallVec::from_elem(0, outer.len());
    let mut off = [0isize; N];
    loop {
        f(off, inner_len, inner_strides);
        // Odometer increment over the outer dims.
        let mut d = outer.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            for (o, st) in off.iter_mut().zip(outer[d].1) {
                *o += st;
            }
            if idx[d] < outer[d].0 {
                break;
            }
            for (o, st) in off.iter_mut().zip(outer[d].1) {
                *o -= st * outer[d].0 as isize;
            }
            idx[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn coalesces_contiguous() {
        let mut runs = vec![];
        for_each_run(&[2, 3, 4], [&[12, 4, 1]], |o, n, s| runs.push((o, n, s)));
        assert_eq!(runs, vec![([0], 24, [1])]);
    }
    #[test]
    fn transposed_and_broadcast() {
        let mut offs = vec![];
        // a: (2,3) transposed view of (3,2); b: broadcast row
        for_each_run(&[2, 3], [&[1, 2], &[0, 1]], |o, n, s| {
            for i in 0..n as isize {
                offs.push((o[0] + i * s[0], o[1] + i * s[1]));
            }
        });
        assert_eq!(offs, vec![(0, 0), (2, 1), (4, 2), (1, 0), (3, 1), (5, 2)]);
    }
    #[test]
    fn scalar_and_empty() {
        let mut n = 0;
        for_each_run::<1>(&[], [&[]], |_, len, _| n += len);
        assert_eq!(n, 1);
        for_each_run(&[3, 0], [&[0, 1]], |_, _, _| panic!());
    }
}
