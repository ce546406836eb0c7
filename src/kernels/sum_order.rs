//! torch's float32 summation order for a contiguous slice, so `x.sum()` and `x.mean()` print the
//! digits PyTorch prints.
//!
//! torch adds float32 in float32: the slice is read as 8-lane vectors summed by 4 accumulators
//! (vector j into accumulator j % 4) through a cascade of levels that bounds rounding growth, the
//! accumulators fold into one, the trailing n % 8 elements go into a scalar, then the 8 lanes.
//! Below 8 elements the same scheme runs on scalars. This is its single-threaded order (torch
//! splits slices over 32,768 elements between threads, so its own result then depends on the
//! thread count; ours never does).

const LANES: usize = 8;
const ROWS: usize = 4;
const LEVELS: usize = 4;

fn ceil_log2(x: usize) -> usize {
    if x <= 1 {
        0
    } else {
        (usize::BITS - (x - 1).leading_zeros()) as usize
    }
}

/// Sums `size` groups of ROWS rows of `L` lanes (`row(i, r)`), cascading every `1 << level_power`
/// groups into the next level; returns the ROWS row sums.
fn multi_row_sum<const L: usize>(
    size: usize,
    row: impl Fn(usize, usize) -> [f32; L],
) -> [[f32; L]; ROWS] {
    let level_power = (ceil_log2(size) / LEVELS).max(4);
    let level_step = 1usize << level_power;
    let level_mask = level_step - 1;
    let mut acc = [[[0f32; L]; ROWS]; LEVELS];
    let add = |a: &mut [[f32; L]; ROWS], i: usize| {
        for (r, ar) in a.iter_mut().enumerate() {
            let v = row(i, r);
            for l in 0..L {
                ar[l] += v[l];
            }
        }
    };
    let mut i = 0;
    while i + level_step <= size {
        for _ in 0..level_step {
            add(&mut acc[0], i);
            i += 1;
        }
        for j in 1..LEVELS {
            let lower = acc[j - 1];
            for r in 0..ROWS {
                for l in 0..L {
                    acc[j][r][l] += lower[r][l];
                }
            }
            acc[j - 1] = [[0f32; L]; ROWS];
            if i & (level_mask << (j * level_power)) != 0 {
                break;
            }
        }
    }
    while i < size {
        add(&mut acc[0], i);
        i += 1;
    }
    for j in 1..LEVELS {
        let upper = acc[j];
        for r in 0..ROWS {
            for l in 0..L {
                acc[0][r][l] += upper[r][l];
            }
        }
    }
    acc[0]
}

/// Row sum of `n` items of `L` lanes: groups of ROWS through the cascade, leftovers into row 0,
/// then rows 1..ROWS folded into row 0.
fn row_sum<const L: usize>(n: usize, item: impl Fn(usize) -> [f32; L]) -> [f32; L] {
    let groups = n / ROWS;
    let mut ps = if groups > 0 {
        multi_row_sum::<L>(groups, |g, r| item(g * ROWS + r))
    } else {
        [[0f32; L]; ROWS]
    };
    for i in groups * ROWS..n {
        let v = item(i);
        for l in 0..L {
            ps[0][l] += v[l];
        }
    }
    let (first, rest) = ps.split_at_mut(1);
    for row in rest.iter() {
        for (a, &v) in first[0].iter_mut().zip(row) {
            *a += v;
        }
    }
    ps[0]
}

/// `x.sum()` of contiguous float32 data, in torch's order.
pub fn sum_f32(x: &[f32]) -> f32 {
    let n = x.len();
    if n < LANES {
        return row_sum::<1>(n, |i| [x[i]])[0];
    }
    let vecs = n / LANES;
    let lanes = row_sum::<LANES>(vecs, |i| {
        let mut v = [0f32; LANES];
        v.copy_from_slice(&x[i * LANES..(i + 1) * LANES]);
        v
    });
    let mut total = 0f32;
    for &v in &x[vecs * LANES..] {
        total += v;
    }
    for v in lanes {
        total += v;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sums_follow_torch_order() {
        assert_eq!(sum_f32(&[1e8, 1.0, -1e8, 1.0]), 1.0);
        assert_eq!(sum_f32(&[]), 0.0);
        let x: Vec<f32> = (0..1000).map(|i| i as f32 * 0.5).collect();
        assert_eq!(sum_f32(&x), 249750.0);
    }
}
