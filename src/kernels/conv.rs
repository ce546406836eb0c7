//! 2-D convolution kernels (forward, grad-input, grad-weight) as im2col + GEMM, parallel over the batch.

use crate::kernels::gemm::{gemm_run, MatElem, Operand, Product};
use crate::kernels::send_ptr::SendPtr;

/// The float element types the nn kernels run on, with native arithmetic for tight loops.
pub trait Float:
    MatElem
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::AddAssign
    + std::ops::Neg<Output = Self>
{
    fn isnan(self) -> bool;
    fn sqrt(self) -> Self;
    fn neg_inf() -> Self;
    /// The slice as f32 when Self is f32 (lets kernels pick a hand-vectorised f32 path).
    fn as_f32(s: &[Self]) -> Option<&[f32]>;
}

macro_rules! float_impl {
    ($t:ty, $s:ident => $f32:expr) => {
        impl Float for $t {
            #[inline(always)]
            fn isnan(self) -> bool {
                self.is_nan()
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn neg_inf() -> Self {
                <$t>::NEG_INFINITY
            }
            #[inline(always)]
            fn as_f32($s: &[Self]) -> Option<&[f32]> {
                $f32
            }
        }
    };
}
float_impl!(f32, s => Some(s));
float_impl!(f64, _s => None);

/// Pool-hop threshold in multiply-adds: below it the whole op runs on the calling thread.
const PAR_MIN_MACS: usize = 1 << 21;

/// The shape of one convolution `out[n, cout, ho, wo] = Σ w[cout, cin/g, kh, kw] · x[n, cin, h, w]`.
#[derive(Clone, Copy, Debug)]
pub struct ConvGeom {
    pub n: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub dh: usize,
    pub dw: usize,
    pub groups: usize,
    pub ho: usize,
    pub wo: usize,
}

impl ConvGeom {
    fn cin_g(&self) -> usize {
        self.cin / self.groups
    }
    fn cout_g(&self) -> usize {
        self.cout / self.groups
    }
    /// Rows of the im2col matrix of one group: cin/g · kh · kw.
    fn k(&self) -> usize {
        self.cin_g() * self.kh * self.kw
    }
    fn hw_in(&self) -> usize {
        self.h * self.w
    }
    fn hw_out(&self) -> usize {
        self.ho * self.wo
    }
    /// A 1×1, stride-1, unpadded conv: the input plane already is the im2col matrix.
    fn direct(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.sh == 1 && self.sw == 1 && self.ph == 0 && self.pw == 0
    }
    fn macs(&self) -> usize {
        self.n
            .saturating_mul(self.cout)
            .saturating_mul(self.k())
            .saturating_mul(self.hw_out())
    }
}

/// Output range of `o` (0..len) whose input coordinate `o*s + off` lies in 0..size.
#[inline]
fn valid_range(len: usize, s: usize, off: isize, size: usize) -> (usize, usize) {
    // lo = first o with o*s + off >= 0; hi = first o with o*s + off >= size
    let s = s as isize;
    let lo = if off >= 0 { 0 } else { ((-off) + s - 1) / s };
    let hi = if (size as isize) <= off {
        0
    } else {
        (size as isize - off + s - 1) / s
    };
    let lo = (lo.max(0) as usize).min(len);
    let hi = (hi.max(0) as usize).min(len);
    (lo, hi.max(lo))
}

/// Copies a short run in fixed 8-element blocks (inlined vector moves, no memcpy call).
#[inline(always)]
fn copy_short<T: Copy>(d: &mut [T], s: &[T]) {
    let n = d.len().min(s.len());
    let (mut dc, mut sc) = (d[..n].chunks_exact_mut(8), s[..n].chunks_exact(8));
    for (a, b) in (&mut dc).zip(&mut sc) {
        let blk: &[T; 8] = b.try_into().expect("chunk of 8");
        a.copy_from_slice(blk);
    }
    for (a, b) in dc.into_remainder().iter_mut().zip(sc.remainder()) {
        *a = *b;
    }
}

/// Stride 1 with output width = input width: every im2col row is the flattened plane shifted by a
/// single offset (the common "same"-padded 3×3 case), so rows move as one contiguous block.
#[inline]
fn contiguous_shift(g: &ConvGeom) -> bool {
    g.sh == 1 && g.sw == 1 && g.wo == g.w
}

/// The flat output span [a, b) of valid rows whose shifted source index lies inside the plane.
#[inline]
fn shift_span(
    g: &ConvGeom,
    oh_lo: usize,
    oh_hi: usize,
    offh: isize,
    offw: isize,
) -> (usize, usize) {
    let shift = offh * g.w as isize + offw;
    let hw = (g.h * g.w) as isize;
    let a = ((oh_lo * g.wo) as isize).max(-shift);
    let b = ((oh_hi * g.wo) as isize).min(hw - shift);
    let a = a.max(0) as usize;
    (a, (b.max(0) as usize).max(a))
}

/// Zeroes, in rows oh_lo..oh_hi, the columns outside ow_lo..ow_hi (padding positions). Walks each
/// padded column down the rows: a per-row loop of 0–1 elements would become a libc memset call each.
#[inline]
fn zero_wrapped<T: Float>(
    row: &mut [T],
    oh_lo: usize,
    oh_hi: usize,
    wo: usize,
    ow_lo: usize,
    ow_hi: usize,
) {
    if oh_hi <= oh_lo {
        return;
    }
    let rows = &mut row[oh_lo * wo..oh_hi * wo];
    for j in (0..ow_lo).chain(ow_hi..wo) {
        let mut idx = j;
        while idx < rows.len() {
            rows[idx] = T::zero();
            idx += wo;
        }
    }
}

/// Unfolds one group of one image (`cin_g` planes of h×w) into `col` [k × ho·wo]. With `prezeroed`,
/// `col` holds zeros or an earlier im2col of the same geometry: its padding positions are then
/// already zero, so only the taps that land inside the image are written (the zero fills were
/// hundreds of small memset calls per image).
fn im2col<T: Float>(g: &ConvGeom, x: &[T], col: &mut [T], prezeroed: bool) {
    let (ho, wo, hwo) = (g.ho, g.wo, g.hw_out());
    let mut row = 0;
    for c in 0..g.cin_g() {
        let plane = &x[c * g.hw_in()..(c + 1) * g.hw_in()];
        for ki in 0..g.kh {
            let offh = (ki * g.dh) as isize - g.ph as isize;
            let (oh_lo, oh_hi) = valid_range(ho, g.sh, offh, g.h);
            for kj in 0..g.kw {
                let offw = (kj * g.dw) as isize - g.pw as isize;
                let (ow_lo, ow_hi) = valid_range(wo, g.sw, offw, g.w);
                let dst = &mut col[row * hwo..(row + 1) * hwo];
                if contiguous_shift(g) {
                    // the whole row is the plane shifted by one offset: one copy, then zero the
                    // padded rows and the columns that wrapped around from neighbouring rows
                    let (a, b) = shift_span(g, oh_lo, oh_hi, offh, offw);
                    let shift = offh * g.w as isize + offw;
                    if !prezeroed {
                        dst[..a].fill(T::zero());
                        dst[b..].fill(T::zero());
                    }
                    if b > a {
                        let s0 = (a as isize + shift) as usize;
                        dst[a..b].copy_from_slice(&plane[s0..s0 + (b - a)]);
                    }
                    zero_wrapped(dst, oh_lo, oh_hi, wo, ow_lo, ow_hi);
                    row += 1;
                    continue;
                }
                if !prezeroed {
                    dst[..oh_lo * wo].fill(T::zero());
                    dst[oh_hi * wo..].fill(T::zero());
                }
                for oh in oh_lo..oh_hi {
                    let ih = (oh * g.sh) as isize + offh;
                    let src = &plane[ih as usize * g.w..(ih as usize + 1) * g.w];
                    let d = &mut dst[oh * wo..(oh + 1) * wo];
                    // rows are short (a feature-map width): inline moves beat memcpy/memset calls
                    if !prezeroed {
                        for v in &mut d[..ow_lo] {
                            *v = T::zero();
                        }
                        for v in &mut d[ow_hi..] {
                            *v = T::zero();
                        }
                    }
                    if g.sw == 1 {
                        let s0 = (ow_lo as isize + offw) as usize;
                        copy_short(&mut d[ow_lo..ow_hi], &src[s0..s0 + (ow_hi - ow_lo)]);
                    } else {
                        for (ow, v) in d.iter_mut().enumerate().take(ow_hi).skip(ow_lo) {
                            *v = src[((ow * g.sw) as isize + offw) as usize];
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// Folds `col` [k × ho·wo] back onto one group of one image, accumulating overlaps (adjoint of im2col).
fn col2im<T: Float>(g: &ConvGeom, col: &mut [T], x: &mut [T]) {
    let (ho, wo, hwo) = (g.ho, g.wo, g.hw_out());
    let hw = g.hw_in();
    let mut row = 0;
    for c in 0..g.cin_g() {
        let plane = &mut x[c * hw..(c + 1) * hw];
        for ki in 0..g.kh {
            let offh = (ki * g.dh) as isize - g.ph as isize;
            let (oh_lo, oh_hi) = valid_range(ho, g.sh, offh, g.h);
            for kj in 0..g.kw {
                let offw = (kj * g.dw) as isize - g.pw as isize;
                let (ow_lo, ow_hi) = valid_range(wo, g.sw, offw, g.w);
                if contiguous_shift(g) {
                    // zero the wrapped columns of the (scratch) row, then one contiguous add
                    let src = &mut col[row * hwo..(row + 1) * hwo];
                    zero_wrapped(src, oh_lo, oh_hi, wo, ow_lo, ow_hi);
                    let (a, b) = shift_span(g, oh_lo, oh_hi, offh, offw);
                    if b > a {
                        let d0 = (a as isize + offh * g.w as isize + offw) as usize;
                        for (dv, &sv) in plane[d0..d0 + (b - a)].iter_mut().zip(&src[a..b]) {
                            *dv += sv;
                        }
                    }
                    row += 1;
                    continue;
                }
                let src = &col[row * hwo..(row + 1) * hwo];
                for oh in oh_lo..oh_hi {
                    let ih = ((oh * g.sh) as isize + offh) as usize;
                    let d = &mut plane[ih * g.w..(ih + 1) * g.w];
                    let s = &src[oh * wo..(oh + 1) * wo];
                    if g.sw == 1 {
                        let d0 = (ow_lo as isize + offw) as usize;
                        for (dv, &sv) in
                            d[d0..d0 + (ow_hi - ow_lo)].iter_mut().zip(&s[ow_lo..ow_hi])
                        {
                            *dv += sv;
                        }
                    } else {
                        for (ow, &sv) in s.iter().enumerate().take(ow_hi).skip(ow_lo) {
                            d[((ow * g.sw) as isize + offw) as usize] += sv;
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// Runs `f(image, col_scratch, gemm_parallelism)` for every image: in the pool over images when the
/// batch can feed every thread, else image by image with the GEMMs themselves parallel.
fn for_each_image<T: Float>(
    g: &ConvGeom,
    col_len: usize,
    f: impl Fn(usize, &mut [T], bool) + Sync + Send,
) {
    let threads = crate::threads::num_threads();
    if g.macs() < PAR_MIN_MACS || threads == 1 {
        let mut col = vec![T::zero(); col_len];
        for i in 0..g.n {
            f(i, &mut col, false);
        }
    } else if g.n >= threads {
        // contiguous image ranges, each allocating its scratch once; several per thread so a
        // worker that wakes late leaves its share to the others (the team claims tasks dynamically)
        let tasks = g.n.min(16);
        let per = g.n.div_ceil(tasks);
        crate::threads::run_tasks(tasks, |t| {
            let mut col = vec![T::zero(); col_len];
            for i in (t * per)..((t + 1) * per).min(g.n) {
                f(i, &mut col, false);
            }
        });
    } else {
        let mut col = vec![T::zero(); col_len];
        for i in 0..g.n {
            f(i, &mut col, true);
        }
    }
}

/// `y_i = conv(x_i, w) + bias` for image i into `yi` [cout, ho, wo]; `col` holds zeros or an earlier
/// im2col of this geometry.
#[allow(clippy::too_many_arguments)]
fn forward_image<T: Float>(
    g: &ConvGeom,
    i: usize,
    x: &[T],
    wt: &[T],
    bias: Option<&[T]>,
    yi: &mut [T],
    col: &mut [T],
    split: bool,
) {
    let (k, hwo, cin_g, cout_g) = (g.k(), g.hw_out(), g.cin_g(), g.cout_g());
    for gi in 0..g.groups {
        let xg = &x[(i * g.cin + gi * cin_g) * g.hw_in()..][..cin_g * g.hw_in()];
        let rhs: &[T] = if g.direct() {
            xg
        } else {
            im2col(g, xg, col, true);
            col
        };
        let dst = &mut yi[gi * cout_g * hwo..(gi + 1) * cout_g * hwo];
        if let Some(b) = bias {
            for (c, row) in dst.chunks_exact_mut(hwo.max(1)).enumerate() {
                row.fill(b[gi * cout_g + c]);
            }
        }
        let a = Operand {
            ptr: wt[gi * cout_g * k..].as_ptr(),
            rs: k as isize,
            cs: 1,
        };
        let bm = Operand {
            ptr: rhs.as_ptr(),
            rs: hwo as isize,
            cs: 1,
        };
        // SAFETY: a is cout_g×k, bm is k×hwo, dst is cout_g×hwo, all inside their slices.
        unsafe {
            gemm_run(
                &Product {
                    m: cout_g,
                    n: hwo,
                    k,
                    dst: dst.as_mut_ptr(),
                    dst_rs: hwo as isize,
                    read_dst: bias.is_some(),
                    a,
                    b: bm,
                    dst_scale: T::one(),
                    scale: T::one(),
                },
                split,
            )
        };
    }
}

/// `y = conv(x, w) + bias`; x [n, cin, h, w], w [cout, cin/g, kh, kw], y [n, cout, ho, wo], all contiguous.
pub fn conv2d_forward<T: Float>(g: &ConvGeom, x: &[T], wt: &[T], bias: Option<&[T]>, y: &mut [T]) {
    let hwo = g.hw_out();
    let yp = SendPtr(y.as_mut_ptr());
    let col_len = if g.direct() { 0 } else { g.k() * hwo };
    for_each_image::<T>(g, col_len, |i, col, split| {
        // SAFETY: image i owns y[i*cout*hwo ..][..cout*hwo]; no other worker touches it.
        let yi =
            unsafe { std::slice::from_raw_parts_mut(yp.get().add(i * g.cout * hwo), g.cout * hwo) };
        // col starts zeroed and only im2col (same geometry) writes it
        forward_image(g, i, x, wt, bias, yi, col, split);
    });
}

/// For a stride-1 conv whose padding is at most the dilated kernel extent minus one, the input
/// gradient is itself a stride-1 conv of gy: with the kernel flipped and cin/cout swapped, padding
/// `(kh-1)·dh − ph`. Running it as im2col(gy) + a cout-row product replaces col2im's scattered
/// accumulation and a k×hwo product of depth cout_g (low arithmetic intensity) with the forward's
/// shape. Returns that conv's geometry and its weight [cin, cout/g, kh, kw].
fn adjoint_conv<T: Float>(g: &ConvGeom, wt: &[T]) -> Option<(ConvGeom, Vec<T>)> {
    let (ekh, ekw) = ((g.kh - 1) * g.dh, (g.kw - 1) * g.dw);
    if g.direct() || g.sh != 1 || g.sw != 1 || g.ph > ekh || g.pw > ekw {
        return None;
    }
    let ga = ConvGeom {
        n: g.n,
        cin: g.cout,
        h: g.ho,
        w: g.wo,
        cout: g.cin,
        ph: ekh - g.ph,
        pw: ekw - g.pw,
        ho: g.h,
        wo: g.w,
        ..*g
    };
    let (cin_g, cout_g, kk) = (g.cin_g(), g.cout_g(), g.kh * g.kw);
    let mut wa = vec![T::zero(); wt.len()];
    for gi in 0..g.groups {
        for co in 0..cout_g {
            for ci in 0..cin_g {
                let src = &wt[((gi * cout_g + co) * cin_g + ci) * kk..][..kk];
                let dst = &mut wa[((gi * cin_g + ci) * cout_g + co) * kk..][..kk];
                // tap (ki, kj) of the adjoint reads tap (kh-1-ki, kw-1-kj): the reversed plane
                for (d, &s) in dst.iter_mut().zip(src.iter().rev()) {
                    *d = s;
                }
            }
        }
    }
    Some((ga, wa))
}

/// One image of the backward through the adjoint conv `ga` (weight `wa`): per group, the im2col of
/// gy_i feeds the input-gradient product and, when `gwa` is given, the weight-gradient product
/// `gwa[(co, ka) × cin_g] += im2col_ga(gy_i) · x_iᵀ` — tap ka of the adjoint is tap kk−1−ka of the
/// conv, so this is gw with its taps reversed (see `conv2d_backward`). One unfold per image serves
/// both products, where the weight gradient would otherwise unfold x_i too. `gcol` holds zeros or an
/// earlier im2col of `ga`.
#[allow(clippy::too_many_arguments)]
fn adjoint_image<T: Float>(
    ga: &ConvGeom,
    wa: &[T],
    i: usize,
    x: &[T],
    gy: &[T],
    gxi: &mut [T],
    mut gwa: Option<&mut [T]>,
    gcol: &mut [T],
    split: bool,
) {
    // ga's input is gy (cout channels of ho·wo), its output gx (cin channels of h·w)
    let (ka, hw, cout_g, cin_g) = (ga.k(), ga.hw_out(), ga.cin_g(), ga.cout_g());
    for gi in 0..ga.groups {
        let gyg = &gy[(i * ga.cin + gi * cout_g) * ga.hw_in()..][..cout_g * ga.hw_in()];
        im2col(ga, gyg, gcol, true);
        let dst = &mut gxi[gi * cin_g * hw..(gi + 1) * cin_g * hw];
        // SAFETY: wa's group block is cin_g×ka, gcol ka×hw, dst cin_g×hw.
        unsafe {
            gemm_run(
                &Product {
                    m: cin_g,
                    n: hw,
                    k: ka,
                    dst: dst.as_mut_ptr(),
                    dst_rs: hw as isize,
                    read_dst: false,
                    a: Operand {
                        ptr: wa[gi * cin_g * ka..].as_ptr(),
                        rs: ka as isize,
                        cs: 1,
                    },
                    b: Operand {
                        ptr: gcol.as_ptr(),
                        rs: hw as isize,
                        cs: 1,
                    },
                    dst_scale: T::zero(),
                    scale: T::one(),
                },
                split,
            )
        };
        if let Some(gwa) = gwa.as_deref_mut() {
            let xg = &x[(i * ga.cout + gi * cin_g) * hw..][..cin_g * hw];
            let dst = &mut gwa[gi * ka * cin_g..(gi + 1) * ka * cin_g];
            // SAFETY: gcol is ka×hw, xgᵀ hw×cin_g (column stride hw), dst ka×cin_g.
            unsafe {
                gemm_run(
                    &Product {
                        m: ka,
                        n: cin_g,
                        k: hw,
                        dst: dst.as_mut_ptr(),
                        dst_rs: cin_g as isize,
                        read_dst: true,
                        a: Operand {
                            ptr: gcol.as_ptr(),
                            rs: hw as isize,
                            cs: 1,
                        },
                        b: Operand {
                            ptr: xg.as_ptr(),
                            rs: 1,
                            cs: hw as isize,
                        },
                        dst_scale: T::one(),
                        scale: T::one(),
                    },
                    split,
                )
            };
        }
    }
}

/// `wᵀ` per group: [groups][k × cout_g] row-major, so grad-input GEMMs read a row-major lhs.
fn transpose_weight<T: Float>(g: &ConvGeom, wt: &[T]) -> Vec<T> {
    let (k, cout_g) = (g.k(), g.cout_g());
    let mut out = vec![T::zero(); wt.len()];
    for gi in 0..g.groups {
        let (src, dst) = (
            &wt[gi * cout_g * k..(gi + 1) * cout_g * k],
            &mut out[gi * cout_g * k..(gi + 1) * cout_g * k],
        );
        for c in 0..cout_g {
            for r in 0..k {
                dst[r * cout_g + c] = src[c * k + r];
            }
        }
    }
    out
}

/// gx_i = col2im(Wᵀ · gy_i) for one image (gx_i need not be zeroed).
fn input_grad_image<T: Float>(
    g: &ConvGeom,
    i: usize,
    gy: &[T],
    wt_t: &[T],
    gxi: &mut [T],
    col: &mut [T],
    split: bool,
) {
    let (k, hwo, cin_g, cout_g) = (g.k(), g.hw_out(), g.cin_g(), g.cout_g());
    for gi in 0..g.groups {
        let gyg = &gy[(i * g.cout + gi * cout_g) * hwo..][..cout_g * hwo];
        let gxg = &mut gxi[gi * cin_g * g.hw_in()..(gi + 1) * cin_g * g.hw_in()];
        let a = Operand {
            ptr: wt_t[gi * cout_g * k..].as_ptr(),
            rs: cout_g as isize,
            cs: 1,
        };
        let bm = Operand {
            ptr: gyg.as_ptr(),
            rs: hwo as isize,
            cs: 1,
        };
        let dst: *mut T = if g.direct() {
            gxg.as_mut_ptr()
        } else {
            col.as_mut_ptr()
        };
        // SAFETY: a is k×cout_g, bm cout_g×hwo, dst k×hwo (col, or gx_g when direct).
        unsafe {
            gemm_run(
                &Product {
                    m: k,
                    n: hwo,
                    k: cout_g,
                    dst,
                    dst_rs: hwo as isize,
                    read_dst: false,
                    a,
                    b: bm,
                    dst_scale: T::zero(),
                    scale: T::one(),
                },
                split,
            )
        };
        if !g.direct() {
            // zeroed here, per image in the worker, so callers may pass an unzeroed gx
            gxg.fill(T::zero());
            col2im(g, col, gxg);
        }
    }
}

/// gwᵀ [k × cout] += im2col(x_i) · gy_iᵀ for one image (the transposed product is the faster GEMM
/// shape: both big operands are read row-major), and gb += Σ_hw gy_i. `col` must hold zeros or an
/// im2col of this geometry (see `im2col`'s `prezeroed`).
fn weight_grad_image<T: Float>(
    g: &ConvGeom,
    i: usize,
    x: &[T],
    gy: &[T],
    gwt: &mut [T],
    gb: &mut [T],
    col: &mut [T],
    split: bool,
) {
    let (k, hwo, cin_g, cout_g) = (g.k(), g.hw_out(), g.cin_g(), g.cout_g());
    for gi in 0..g.groups {
        let xg = &x[(i * g.cin + gi * cin_g) * g.hw_in()..][..cin_g * g.hw_in()];
        let gyg = &gy[(i * g.cout + gi * cout_g) * hwo..][..cout_g * hwo];
        let lhs: &[T] = if g.direct() {
            xg
        } else {
            im2col(g, xg, col, true);
            col
        };
        let a = Operand {
            ptr: lhs.as_ptr(),
            rs: hwo as isize,
            cs: 1,
        };
        let bm = Operand {
            ptr: gyg.as_ptr(),
            rs: 1,
            cs: hwo as isize,
        };
        let dst = gwt[gi * cout_g..].as_mut_ptr();
        // SAFETY: a k×hwo, bm hwo×cout_g, dst k×cout_g with row stride cout inside gwt.
        unsafe {
            gemm_run(
                &Product {
                    m: k,
                    n: cout_g,
                    k: hwo,
                    dst,
                    dst_rs: g.cout as isize,
                    read_dst: true,
                    a,
                    b: bm,
                    dst_scale: T::one(),
                    scale: T::one(),
                },
                split,
            )
        };
    }
    for (c, b) in gb.iter_mut().enumerate() {
        *b += sum_lanes(&gy[(i * g.cout + c) * hwo..][..hwo]);
    }
}

/// Σ v with 8 independent accumulators (one serial add chain would bound the loop by FP-add
/// latency), combined in a fixed order so the result does not depend on anything but `v`.
#[inline]
fn sum_lanes<T: Float>(v: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let mut it = v.chunks_exact(8);
    for c in &mut it {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let mut tail = T::zero();
    for &x in it.remainder() {
        tail += x;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

/// Images per backward chunk: the split depends only on the batch size, so summing the per-chunk
/// weight-gradient partials in order gives the same bits for any thread count.
fn chunks_for(n: usize) -> usize {
    n.clamp(1, 8)
}

/// Backward of conv2d in one pass over fixed batch chunks: `gx` (when given; need not be zeroed) = convᵀ(gy, w);
/// returns `(gw, gb)` when `want_w` (gw [cout, cin/g, kh, kw] = Σ_n gy_n · im2col(x_n)ᵀ, gb = Σ gy).
pub fn conv2d_backward<T: Float>(
    g: &ConvGeom,
    x: &[T],
    gy: &[T],
    wt: &[T],
    gx: Option<&mut [T]>,
    want_w: bool,
) -> Option<(Vec<T>, Vec<T>)> {
    let (k, hwo) = (g.k(), g.hw_out());
    let wlen = g.cout * k;
    let col_len = if g.direct() { 0 } else { k * hwo };
    let chunks = chunks_for(g.n);
    let per = g.n.div_ceil(chunks);
    let threads = crate::threads::num_threads();
    let adj = if gx.is_some() {
        adjoint_conv(g, wt)
    } else {
        None
    };
    let wt_t = if gx.is_some() && adj.is_none() {
        transpose_weight(g, wt)
    } else {
        Vec::new()
    };
    // the input-gradient scratch: the adjoint conv's im2col of gy, or col2im's source
    let gcol_len = match &adj {
        Some((ga, _)) => ga.k() * ga.hw_out(),
        None => col_len,
    };
    // with the adjoint, the weight gradient comes from its unfolded gy: one im2col per image
    let shared = want_w && adj.is_some();
    let xp = gx.map(|s| SendPtr(s.as_mut_ptr()));
    let in_len = g.cin * g.hw_in();
    // scratch: (col, gcol). A separate gcol for the input-grad product keeps `col` holding only
    // im2col output, so its padding zeros survive from image to image (and chunk to chunk)
    let scratch = || {
        (
            vec![T::zero(); if want_w && !shared { col_len } else { 0 }],
            vec![T::zero(); if xp.is_some() { gcol_len } else { 0 }],
        )
    };
    let one_chunk = |c: usize, (col, gcol): &mut (Vec<T>, Vec<T>), split: bool| {
        // gwt: gwᵀ [k × cout], or with `shared` gw with reversed taps [(cout, kk) × cin_g]
        let mut gwt = vec![T::zero(); if want_w { wlen } else { 0 }];
        let mut gb = vec![T::zero(); if want_w { g.cout } else { 0 }];
        for i in (c * per)..((c + 1) * per).min(g.n) {
            if let Some(xp) = xp {
                // SAFETY: image i (in this chunk only) owns gx[i*in_len..][..in_len].
                let gxi =
                    unsafe { std::slice::from_raw_parts_mut(xp.get().add(i * in_len), in_len) };
                match &adj {
                    Some((ga, wa)) => {
                        let gwa = shared.then_some(&mut gwt[..]);
                        adjoint_image(ga, wa, i, x, gy, gxi, gwa, gcol, split)
                    }
                    None => input_grad_image(g, i, gy, &wt_t, gxi, gcol, split),
                }
            }
            if shared {
                for (c, b) in gb.iter_mut().enumerate() {
                    *b += sum_lanes(&gy[(i * g.cout + c) * hwo..][..hwo]);
                }
            } else if want_w {
                weight_grad_image(g, i, x, gy, &mut gwt, &mut gb, col, split);
            }
        }
        (gwt, gb)
    };
    let parts: Vec<(Vec<T>, Vec<T>)> = if g.macs() < PAR_MIN_MACS || threads == 1 {
        let mut sc = scratch();
        (0..chunks).map(|c| one_chunk(c, &mut sc, false)).collect()
    } else if chunks >= threads {
        // one task per chunk (several per thread, so a late worker's share goes to the others);
        // every chunk returns its own partial, so the sums below do not depend on the thread count
        let per_task = 1;
        let nested: Vec<Vec<(Vec<T>, Vec<T>)>> =
            crate::threads::map_tasks(chunks.div_ceil(per_task), |t| {
                let mut sc = scratch();
                ((t * per_task)..((t + 1) * per_task).min(chunks))
                    .map(|c| one_chunk(c, &mut sc, false))
                    .collect()
            });
        nested.into_iter().flatten().collect()
    } else {
        let mut sc = scratch();
        (0..chunks).map(|c| one_chunk(c, &mut sc, true)).collect()
    };
    if !want_w {
        return None;
    }
    // fixed-order sum of the chunk partials in their own (contiguous) layout, then one transpose of
    // gwᵀ back to [cout, k]: transposing every partial strode through gw once per element and ran
    // serially after the parallel section (~2 ms for the 128→128 layer)
    let mut gwt = vec![T::zero(); wlen];
    let mut gb = vec![T::zero(); g.cout];
    for (p, b2) in &parts {
        for (a, b) in gwt.iter_mut().zip(p) {
            *a += *b;
        }
        for (a, b) in gb.iter_mut().zip(b2) {
            *a += *b;
        }
    }
    if shared {
        // gwt[(co·kk + ka)·cin_g + ci] = gw[co, ci, tap kk−1−ka]
        let (kk, cin_g) = (g.kh * g.kw, g.cin_g());
        let gw = crate::kernels::uninit::filled_vec(wlen, |gw: &mut [T]| {
            for (r, row) in gwt.chunks_exact(cin_g.max(1)).enumerate() {
                let (co, ka) = (r / kk, r % kk);
                for (ci, &v) in row.iter().enumerate() {
                    gw[(co * cin_g + ci) * kk + kk - 1 - ka] = v;
                }
            }
        });
        return Some((gw, gb));
    }
    let gw = crate::kernels::uninit::filled_vec(wlen, |gw: &mut [T]| {
        for (r, row) in gwt.chunks_exact(g.cout.max(1)).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                gw[c * k + r] = v;
            }
        }
    });
    Some((gw, gb))
}

/// `gx = convᵀ(gy, w)`: conv2d's input gradient (also conv_transpose2d's forward); gx zeroed.
pub fn conv2d_backward_input<T: Float>(g: &ConvGeom, gy: &[T], wt: &[T], gx: &mut [T]) {
    if let Some((ga, wa)) = adjoint_conv(g, wt) {
        return conv2d_forward(&ga, gy, &wa, None, gx);
    }
    let wt_t = transpose_weight(g, wt);
    let in_len = g.cin * g.hw_in();
    let col_len = if g.direct() { 0 } else { g.k() * g.hw_out() };
    let xp = SendPtr(gx.as_mut_ptr());
    for_each_image::<T>(g, col_len, |i, col, split| {
        // SAFETY: image i owns gx[i*in_len..][..in_len].
        let gxi = unsafe { std::slice::from_raw_parts_mut(xp.get().add(i * in_len), in_len) };
        input_grad_image(g, i, gy, &wt_t, gxi, col, split);
    });
}

/// `(gw, gb)` of conv2d alone.
pub fn conv2d_backward_weight<T: Float>(g: &ConvGeom, x: &[T], gy: &[T]) -> (Vec<T>, Vec<T>) {
    conv2d_backward(g, x, gy, &[], None, true).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(g: &ConvGeom, x: &[f64], w: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; g.n * g.cout * g.ho * g.wo];
        let (cin_g, cout_g) = (g.cin / g.groups, g.cout / g.groups);
        for n in 0..g.n {
            for co in 0..g.cout {
                let gi = co / cout_g;
                for oh in 0..g.ho {
                    for ow in 0..g.wo {
                        let mut s = 0.0;
                        for c in 0..cin_g {
                            for i in 0..g.kh {
                                for j in 0..g.kw {
                                    let ih = (oh * g.sh + i * g.dh) as isize - g.ph as isize;
                                    let iw = (ow * g.sw + j * g.dw) as isize - g.pw as isize;
                                    if ih < 0 || iw < 0 || ih >= g.h as isize || iw >= g.w as isize
                                    {
                                        continue;
                                    }
                                    let xi = ((n * g.cin + gi * cin_g + c) * g.h + ih as usize)
                                        * g.w
                                        + iw as usize;
                                    let wi = ((co * cin_g + c) * g.kh + i) * g.kw + j;
                                    s += x[xi] * w[wi];
                                }
                            }
                        }
                        y[((n * g.cout + co) * g.ho + oh) * g.wo + ow] = s;
                    }
                }
            }
        }
        y
    }

    #[test]
    fn forward_matches_naive_and_adjoints_agree() {
        // (kh, kw, sh, sw, ph, pw, dh, dw, groups): strided with col2im; stride 1 through the
        // adjoint conv (dilated, grouped, padding at the kernel extent, unpadded); stride 1 with
        // padding beyond the extent (col2im again)
        let cases = [
            (3, 2, 2, 1, 1, 2, 1, 2, 2),
            (3, 2, 1, 1, 1, 2, 2, 1, 2),
            (3, 3, 1, 1, 2, 0, 1, 1, 1),
            (2, 3, 1, 1, 0, 1, 2, 1, 2),
            (2, 2, 1, 1, 2, 1, 1, 1, 1),
        ];
        for (kh, kw, sh, sw, ph, pw, dh, dw, groups) in cases {
            let (n, cin, h, w, cout) = (2, 4, 7, 6, 6);
            let ho = (h + 2 * ph - (kh - 1) * dh - 1) / sh + 1;
            let wo = (w + 2 * pw - (kw - 1) * dw - 1) / sw + 1;
            let g = ConvGeom {
                n,
                cin,
                h,
                w,
                cout,
                kh,
                kw,
                sh,
                sw,
                ph,
                pw,
                dh,
                dw,
                groups,
                ho,
                wo,
            };
            let x: Vec<f64> = (0..n * cin * h * w)
                .map(|i| ((i * 37 % 11) as f64) - 5.0)
                .collect();
            let w: Vec<f64> = (0..cout * g.k())
                .map(|i| ((i * 13 % 7) as f64) - 3.0)
                .collect();
            let mut y = vec![0.0; n * cout * ho * wo];
            conv2d_forward(&g, &x, &w, None, &mut y);
            assert_eq!(y, naive(&g, &x, &w));
            // <conv(x), gy> == <x, convᵀ(gy)>, through both backward entry points
            let gy: Vec<f64> = (0..y.len()).map(|i| ((i * 7 % 5) as f64) - 2.0).collect();
            let mut gx = vec![0.0; x.len()];
            conv2d_backward_input(&g, &gy, &w, &mut gx);
            let lhs: f64 = y.iter().zip(&gy).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&gx).map(|(a, b)| a * b).sum();
            assert_eq!(lhs, rhs);
            let mut gx2 = vec![7.0; x.len()];
            let (gw2, gb2) = conv2d_backward(&g, &x, &gy, &w, Some(&mut gx2), true).unwrap();
            assert_eq!(gx, gx2);
            // and gx is exact per element: the adjoint of each unit input
            for (j, &v) in gx.iter().enumerate() {
                let mut e = vec![0.0; x.len()];
                e[j] = 1.0;
                let ye = naive(&g, &e, &w);
                let d: f64 = ye.iter().zip(&gy).map(|(a, b)| a * b).sum();
                assert_eq!(
                    v,
                    d,
                    "gx[{j}] {:?}",
                    (kh, kw, sh, sw, ph, pw, dh, dw, groups)
                );
            }
            // the weight gradient alone unfolds x; with gx (stride 1) it comes from gy's unfold
            let (gw, gb) = conv2d_backward_weight(&g, &x, &gy);
            let rhs2: f64 = w.iter().zip(&gw).map(|(a, b)| a * b).sum();
            assert_eq!(lhs, rhs2);
            assert_eq!((&gw, &gb), (&gw2, &gb2));
            for (j, &v) in gw.iter().enumerate() {
                let mut e = vec![0.0; w.len()];
                e[j] = 1.0;
                let ye = naive(&g, &x, &e);
                let d: f64 = ye.iter().zip(&gy).map(|(a, b)| a * b).sum();
                assert_eq!(v, d, "gw[{j}]");
            }
        }
    }

    /// The parallel paths (image ranges, per-chunk partials, split GEMMs) give the same bits at
    /// 1 and 2 threads, and stay exact against the naive sum and its adjoints.
    #[test]
    fn same_bits_at_any_thread_count() {
        let g = ConvGeom {
            n: 13,
            cin: 16,
            h: 8,
            w: 8,
            cout: 32,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            ph: 1,
            pw: 1,
            dh: 1,
            dw: 1,
            groups: 1,
            ho: 8,
            wo: 8,
        };
        assert!(g.macs() >= PAR_MIN_MACS);
        let x: Vec<f64> = (0..g.n * g.cin * 64)
            .map(|i| ((i * 37 % 11) as f64) - 5.0)
            .collect();
        let w: Vec<f64> = (0..g.cout * g.k())
            .map(|i| ((i * 13 % 7) as f64) - 3.0)
            .collect();
        let gy: Vec<f64> = (0..g.n * g.cout * 64)
            .map(|i| ((i * 7 % 5) as f64) - 2.0)
            .collect();
        let mut y = vec![0.0; gy.len()];
        conv2d_forward(&g, &x, &w, None, &mut y);
        assert_eq!(y, naive(&g, &x, &w));
        let xf: Vec<f32> = x.iter().map(|&v| v as f32 * 0.37).collect();
        let wf: Vec<f32> = w.iter().map(|&v| v as f32 * 0.11).collect();
        let gyf: Vec<f32> = gy.iter().map(|&v| v as f32 * 0.29).collect();
        let mut runs = Vec::new();
        for threads in [1, 2] {
            crate::threads::set_num_threads(threads);
            let mut y = vec![0f32; gyf.len()];
            conv2d_forward(&g, &xf, &wf, Some(&[0.5; 32]), &mut y);
            let mut gx = vec![1f32; xf.len()];
            let r = conv2d_backward(&g, &xf, &gyf, &wf, Some(&mut gx), true).unwrap();
            runs.push((y, gx, r));
        }
        assert_eq!(runs[0], runs[1]);
    }
}
