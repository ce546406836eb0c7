//! torch's CPU random generator: mt19937, its 5056-byte state, and torch's exact sampling transforms.

// Every stream here reproduces PyTorch's CPU generator bit for bit after the same seed: the engine,
// the order in which draws are consumed, the 24/53-bit uniform construction, the cached Box–Muller
// sample, the size-dependent `normal_` paths (including the AVX `log`/`sincos` polynomials torch
// uses for float32) and the integer transforms of `random_`. Tests compare against golden values
// produced by real PyTorch (`tests/golden/random.json`).
//
// `!(x >= 0.0)` is deliberate throughout: it is also true for NaN, as torch's checks are. The
// constants keep the C source's digits so they narrow exactly as C narrows them.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::excessive_precision)]

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::shape;
use crate::tensor::Tensor;
use parking_lot::Mutex;
use std::sync::{Arc, LazyLock};

const MT_N: usize = 624;
const MT_M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UMASK: u32 = 0x8000_0000;
const LMASK: u32 = 0x7fff_ffff;

/// The seed of a fresh `torch.Generator()` (c10's `default_rng_seed_val`).
pub const DEFAULT_SEED: u64 = 67_280_421_310_721;

/// Size in bytes of `torch.Generator.get_state()` for the CPU generator.
pub const STATE_SIZE: usize = 5056;

// Byte offsets inside the state blob. torch memcpys a C struct (CPUGeneratorImplState wrapping the
// legacy TH layout), so these follow x86-64 C layout rules, padding included.
const OFF_SEED: usize = 0;
const OFF_LEFT: usize = 8;
const OFF_SEEDED: usize = 12;
const OFF_NEXT: usize = 16;
const OFF_STATE: usize = 24;
const OFF_NORMAL_X: usize = OFF_STATE + 8 * MT_N; // 5016
const OFF_NORMAL_Y: usize = OFF_NORMAL_X + 8;
const OFF_NORMAL_RHO: usize = OFF_NORMAL_Y + 8;
const OFF_NORMAL_VALID: usize = OFF_NORMAL_RHO + 8; // 5040, then 4 bytes of padding
const OFF_FLOAT_NORMAL: usize = 5048;
const OFF_FLOAT_NORMAL_VALID: usize = 5052; // then 3 bytes of padding

/// The 32-bit Mersenne Twister exactly as `at::mt19937` runs it (lazy regeneration on first draw).
#[derive(Clone)]
pub struct Mt19937 {
    seed: u64,
    left: i32,
    seeded: bool,
    next: u32,
    state: [u32; MT_N],
}

impl Mt19937 {
    pub fn new(seed: u64) -> Mt19937 {
        let mut state = [0u32; MT_N];
        // torch keeps the full 64-bit seed for initial_seed() but only the low 32 bits seed the engine.
        state[0] = seed as u32;
        for j in 1..MT_N {
            let prev = state[j - 1];
            state[j] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(j as u32);
        }
        Mt19937 {
            seed,
            left: 1,
            seeded: true,
            next: 0,
            state,
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        self.left -= 1;
        if self.left <= 0 || self.next as usize >= MT_N {
            // `left <= 0` only happens for hand-made states; regenerating keeps us in bounds.
            self.next_state();
        }
        let mut y = self.state[self.next as usize];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    fn next_state(&mut self) {
        #[inline(always)]
        fn twist(u: u32, v: u32) -> u32 {
            (((u & UMASK) | (v & LMASK)) >> 1) ^ if v & 1 != 0 { MATRIX_A } else { 0 }
        }
        let s = &mut self.state;
        self.left = MT_N as i32;
        self.next = 0;
        for i in 0..MT_N - MT_M {
            s[i] = s[i + MT_M] ^ twist(s[i], s[i + 1]);
        }
        for i in MT_N - MT_M..MT_N - 1 {
            s[i] = s[i + MT_M - MT_N] ^ twist(s[i], s[i + 1]);
        }
        s[MT_N - 1] = s[MT_M - 1] ^ twist(s[MT_N - 1], s[0]);
    }

    /// torch's `mt19937_engine::is_valid`, applied to states coming from `set_state`.
    fn is_valid(&self) -> bool {
        self.seeded && self.left > 0 && self.left as usize <= MT_N && self.next as usize <= MT_N
    }
}

/// torch's `CPUGeneratorImpl`: the engine plus the Box–Muller samples it caches between calls.
#[derive(Clone)]
pub struct Generator {
    engine: Mt19937,
    next_float_normal: Option<f32>,
    next_double_normal: Option<f64>,
}

impl Default for Generator {
    fn default() -> Self {
        Generator::new(DEFAULT_SEED)
    }
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            engine: Mt19937::new(seed),
            next_float_normal: None,
            next_double_normal: None,
        }
    }

    /// `manual_seed`: a fresh engine and no cached normal samples.
    pub fn manual_seed(&mut self, seed: u64) {
        *self = Generator::new(seed);
    }

    pub fn initial_seed(&self) -> u64 {
        self.engine.seed()
    }

    /// Reseeds from the OS entropy source and returns the new seed (torch's `Generator.seed()`).
    pub fn seed(&mut self) -> u64 {
        let s = nondeterministic_seed();
        self.manual_seed(s);
        s
    }

    /// One 32-bit draw (`CPUGeneratorImpl::random`).
    #[inline]
    pub fn random(&mut self) -> u32 {
        self.engine.next_u32()
    }

    /// Two draws, the first in the high half (`CPUGeneratorImpl::random64`).
    #[inline]
    pub fn random64(&mut self) -> u64 {
        let hi = self.engine.next_u32() as u64;
        let lo = self.engine.next_u32() as u64;
        (hi << 32) | lo
    }

    /// A float in [0, 1) from the low 24 bits of one draw (`uniform_real_distribution<float>`).
    #[inline]
    pub fn uniform_f32(&mut self) -> f32 {
        (self.random() & 0x00ff_ffff) as f32 * (1.0 / 16_777_216.0)
    }

    /// A double in [0, 1) from the low 53 bits of a 64-bit draw (`uniform_real_distribution<double>`).
    #[inline]
    pub fn uniform_f64(&mut self) -> f64 {
        (self.random64() & ((1u64 << 53) - 1)) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A standard normal double by Box–Muller, caching the second value of each pair
    /// (`at::normal_distribution<double>`, the path every element-wise `normal_` uses).
    pub fn standard_normal_f64(&mut self) -> f64 {
        if let Some(v) = self.next_double_normal.take() {
            return v;
        }
        let u1 = self.uniform_f64();
        let u2 = self.uniform_f64();
        let r = (-2.0 * (-u2).ln_1p()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u1;
        self.next_double_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// The cached Box–Muller samples (float, double), as `get_state` records them.
    pub fn cached_normals(&self) -> (Option<f32>, Option<f64>) {
        (self.next_float_normal, self.next_double_normal)
    }

    /// The state as torch lays it out: `CPUGeneratorImplState` memcpy'd into 5056 bytes.
    pub fn get_state(&self) -> Vec<u8> {
        let mut b = vec![0u8; STATE_SIZE];
        let e = &self.engine;
        b[OFF_SEED..OFF_SEED + 8].copy_from_slice(&e.seed.to_le_bytes());
        b[OFF_LEFT..OFF_LEFT + 4].copy_from_slice(&e.left.to_le_bytes());
        b[OFF_SEEDED..OFF_SEEDED + 4].copy_from_slice(&(e.seeded as i32).to_le_bytes());
        b[OFF_NEXT..OFF_NEXT + 8].copy_from_slice(&(e.next as u64).to_le_bytes());
        for (i, &w) in e.state.iter().enumerate() {
            let o = OFF_STATE + 8 * i;
            b[o..o + 8].copy_from_slice(&(w as u64).to_le_bytes());
        }
        // normal_x and normal_rho are dummies torch always writes as 0.0 (already zero).
        if let Some(y) = self.next_double_normal {
            b[OFF_NORMAL_Y..OFF_NORMAL_Y + 8].copy_from_slice(&y.to_le_bytes());
            b[OFF_NORMAL_VALID..OFF_NORMAL_VALID + 4].copy_from_slice(&1i32.to_le_bytes());
        }
        if let Some(f) = self.next_float_normal {
            b[OFF_FLOAT_NORMAL..OFF_FLOAT_NORMAL + 4].copy_from_slice(&f.to_le_bytes());
            b[OFF_FLOAT_NORMAL_VALID] = 1;
        }
        b
    }

    /// Restores a state from `get_state` (ours or real torch's), with torch's checks and messages.
    pub fn set_state(&mut self, b: &[u8]) -> Result<()> {
        if b.len() != STATE_SIZE {
            return Err(Error::runtime(format!(
                "Expected a CPUGeneratorImplState of size {STATE_SIZE} but found the input RNG state size to be {}",
                b.len()
            )));
        }
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
        let i32_at = |o: usize| i32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]));
        let mut state = [0u32; MT_N];
        for (i, w) in state.iter_mut().enumerate() {
            // The legacy layout stores 64-bit words; torch narrows them back to 32 bits.
            *w = u64_at(OFF_STATE + 8 * i) as u32;
        }
        let engine = Mt19937 {
            seed: u64_at(OFF_SEED),
            left: i32_at(OFF_LEFT),
            seeded: i32_at(OFF_SEEDED) != 0,
            next: u64_at(OFF_NEXT) as u32,
            state,
        };
        if !engine.is_valid() {
            return Err(Error::runtime("Invalid mt19937 state"));
        }
        self.engine = engine;
        self.next_double_normal = if i32_at(OFF_NORMAL_VALID) != 0 {
            Some(f64::from_bits(u64_at(OFF_NORMAL_Y)))
        } else {
            None
        };
        self.next_float_normal = if b[OFF_FLOAT_NORMAL_VALID] != 0 {
            Some(f32::from_le_bytes(
                b[OFF_FLOAT_NORMAL..OFF_FLOAT_NORMAL + 4]
                    .try_into()
                    .unwrap_or([0; 4]),
            ))
        } else {
            None
        };
        Ok(())
    }
}

/// 64 bits from the OS entropy source (torch reads /dev/urandom), falling back to the clock.
pub fn nondeterministic_seed() -> u64 {
    use std::io::Read;
    let mut buf = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(&mut buf).is_ok() {
            return u64::from_le_bytes(buf);
        }
    }
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    h.finish()
}

/// A generator shared between Python `Generator` objects and the ops that draw from it.
pub type SharedGenerator = Arc<Mutex<Generator>>;

// Like torch, the process-wide generator starts from a non-deterministic seed.
static DEFAULT_GENERATOR: LazyLock<SharedGenerator> =
    LazyLock::new(|| Arc::new(Mutex::new(Generator::new(nondeterministic_seed()))));

/// The process-wide CPU generator (`torch.default_generator`).
pub fn default_generator() -> &'static SharedGenerator {
    &DEFAULT_GENERATOR
}

/// `torch.manual_seed` on the default generator.
pub fn manual_seed(seed: u64) {
    default_generator().lock().manual_seed(seed);
}

/// `torch.seed()`: reseeds the default generator non-deterministically and returns the seed.
pub fn seed() -> u64 {
    default_generator().lock().seed()
}

/// `torch.initial_seed()`.
pub fn initial_seed() -> u64 {
    default_generator().lock().initial_seed()
}

// ------------------------------------------------------------------------------------------------
// Element order
// ------------------------------------------------------------------------------------------------

/// Element offsets of `t` in the order torch's TensorIterator visits them for a nullary op: dims are
/// sorted so the smallest stride is innermost (memory order for permuted layouts), ties keeping the
/// dim order. Random ops draw one value per element in this order, so it decides which element gets
/// which draw.
fn iteration_offsets(t: &Tensor) -> Vec<isize> {
    let shape = t.shape();
    let strides = t.strides();
    let nd = shape.len();
    // perm[0] is the innermost dim, as in TensorIterator::reorder_dimensions.
    let mut perm: Vec<usize> = (0..nd).rev().collect();
    let should_swap = |d0: usize, d1: usize| -> i32 {
        let (s0, s1) = (strides[d0], strides[d1]);
        if s0 == 0 || s1 == 0 {
            return 0;
        }
        if s0 < s1 {
            return -1;
        }
        if s0 > s1 {
            return 1;
        }
        if shape[d0] > shape[d1] {
            return 1;
        }
        0
    };
    for i in 1..nd {
        let mut dim1 = i;
        let mut dim0 = i;
        while dim0 > 0 {
            dim0 -= 1;
            let c = should_swap(perm[dim0], perm[dim1]);
            if c > 0 {
                perm.swap(dim0, dim1);
                dim1 = dim0;
            } else if c < 0 {
                break;
            }
        }
    }
    let n = t.numel();
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let mut idx = vec![0usize; nd];
    let mut off: isize = 0;
    loop {
        out.push(off);
        // Increment the innermost dim first (perm[0]).
        let mut k = 0;
        loop {
            if k == nd {
                return out;
            }
            let d = perm[k];
            idx[d] += 1;
            off += strides[d];
            if idx[d] < shape[d] {
                break;
            }
            off -= strides[d] * shape[d] as isize;
            idx[d] = 0;
            k += 1;
        }
    }
}

/// Writes `f()` into every element of `t`, in torch's iteration order, then bumps the version.
fn fill_with<T: Element>(t: &Tensor, mut f: impl FnMut() -> T) {
    if t.is_contiguous() {
        for v in t.as_mut_slice::<T>() {
            *v = f();
        }
    } else {
        let base = t.ptr::<T>();
        for off in iteration_offsets(t) {
            // SAFETY: every offset comes from the tensor's own shape and strides, so it addresses an
            // element of its storage; the caller holds the only writer (GIL or a fresh tensor).
            unsafe { *base.offset(off) = f() };
        }
    }
    t.storage().bump_version();
}

fn not_implemented_for(kernel: &str, dt: DType) -> Error {
    Error::not_implemented(format!(
        "\"{kernel}\" not implemented for '{}'",
        dt.scalar_name()
    ))
}

/// The C++ type name torch prints in bounds errors ("unsigned char", "long int").
fn cpp_type_name(dt: DType) -> &'static str {
    match dt {
        DType::Bool => "bool",
        DType::U8 => "unsigned char",
        DType::I32 => "int",
        DType::I64 => "long int",
        DType::F32 => "float",
        DType::F64 => "double",
    }
}

/// A double as C++ `ostream <<` prints it (`%g`, 6 significant digits), for torch's messages.
pub fn fmt_g(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let e = format!("{:.5e}", x);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", trim(mant), sign, exp.abs())
    } else {
        let decimals = (5 - exp).max(0) as usize;
        trim(&format!("{:.*}", decimals, x))
    }
}

// ------------------------------------------------------------------------------------------------
// uniform_ / rand
// ------------------------------------------------------------------------------------------------

/// `tensor.uniform_(from, to)`: float dtypes only, torch's bounds checks, one draw per element.
pub fn uniform_(t: &Tensor, from: f64, to: f64, g: &mut Generator) -> Result<()> {
    let dt = t.dtype();
    let (lo, hi) = match dt {
        DType::F32 => (f32::MIN as f64, f32::MAX as f64),
        DType::F64 => (f64::MIN, f64::MAX),
        _ => return Err(not_implemented_for("check_uniform_bounds", dt)),
    };
    let name = cpp_type_name(dt);
    if !(from >= lo && from <= hi) {
        return Err(Error::runtime(format!("from is out of bounds for {name}")));
    }
    if !(to >= lo && to <= hi) {
        return Err(Error::runtime(format!("to is out of bounds for {name}")));
    }
    if !(from <= to) {
        return Err(Error::runtime(format!(
            "uniform_ expects to return a [from, to) range, but found from={} > to={}",
            fmt_g(from),
            fmt_g(to)
        )));
    }
    if !(to - from <= hi) {
        return Err(Error::runtime(format!(
            "uniform_ expects to-from <= std::numeric_limits<{}>::max(), but found to={} and from={} which result \
             in to-from to exceed the limit",
            dt.scalar_name(),
            fmt_g(to),
            fmt_g(from)
        )));
    }
    if t.numel() == 0 {
        return Ok(());
    }
    match dt {
        DType::F32 => {
            let (f, tt) = (from as f32, to as f32);
            if t.is_contiguous() {
                let d = t.as_mut_slice::<f32>();
                for v in d.iter_mut() {
                    *v = g.uniform_f32();
                }
                affine_uniform_f32(d, f, tt);
                t.storage().bump_version();
            } else {
                let span = tt - f;
                fill_with::<f32>(t, || {
                    let x = g.uniform_f32().mul_add(span, f);
                    if x == tt {
                        f
                    } else {
                        x
                    }
                });
            }
        }
        _ => {
            if t.is_contiguous() {
                let d = t.as_mut_slice::<f64>();
                for v in d.iter_mut() {
                    *v = g.uniform_f64();
                }
                affine_uniform_f64(d, from, to);
                t.storage().bump_version();
            } else {
                let span = to - from;
                fill_with::<f64>(t, || {
                    let x = g.uniform_f64().mul_add(span, from);
                    if x == to {
                        from
                    } else {
                        x
                    }
                });
            }
        }
    }
    Ok(())
}

/// `torch.rand(shape, dtype)`.
pub fn rand(shape: &[usize], dtype: DType, g: &mut Generator) -> Result<Tensor> {
    let t = Tensor::empty(shape, dtype);
    uniform_(&t, 0.0, 1.0, g)?;
    Ok(t)
}

// ------------------------------------------------------------------------------------------------
// normal_ / randn
// ------------------------------------------------------------------------------------------------

/// Cephes-style float math exactly as torch's `avx_mathfun.h` evaluates it per AVX lane. torch's
/// float32 `normal_` on >= 16 contiguous elements runs these polynomials, not libm, so matching its
/// bits means repeating every float operation in the same order.
mod avx_math {
    // Constants are written as the C source's double literals, then narrowed to float like C does.
    const SQRTHF: f32 = std::f64::consts::FRAC_1_SQRT_2 as f32; // the source's 0.707106781186547524
    const LOG_P: [f32; 9] = [
        7.0376836292E-2_f64 as f32,
        -1.1514610310E-1_f64 as f32,
        1.1676998740E-1_f64 as f32,
        -1.2420140846E-1_f64 as f32,
        1.4249322787E-1_f64 as f32,
        -1.6668057665E-1_f64 as f32,
        2.0000714765E-1_f64 as f32,
        -2.4999993993E-1_f64 as f32,
        3.3333331174E-1_f64 as f32,
    ];
    const LOG_Q1: f32 = -2.12194440e-4_f64 as f32;
    const LOG_Q2: f32 = 0.693359375_f64 as f32;
    const MIN_NORM_POS: u32 = 0x0080_0000;
    const INV_MANT_MASK: u32 = !0x7f80_0000;

    const MINUS_DP1: f32 = -0.78515625_f64 as f32;
    const MINUS_DP2: f32 = -2.4187564849853515625e-4_f64 as f32;
    const MINUS_DP3: f32 = -3.77489497744594108e-8_f64 as f32;
    const SINCOF_P0: f32 = -1.9515295891E-4_f64 as f32;
    const SINCOF_P1: f32 = 8.3321608736E-3_f64 as f32;
    const SINCOF_P2: f32 = -1.6666654611E-1_f64 as f32;
    const COSCOF_P0: f32 = 2.443315711809948E-005_f64 as f32;
    const COSCOF_P1: f32 = -1.388731625493765E-003_f64 as f32;
    const COSCOF_P2: f32 = 4.166664568298827E-002_f64 as f32;
    const FOPI: f32 = 1.27323954473516_f64 as f32;

    // torch builds these intrinsics with GCC's default `-ffp-contract=fast` and FMA enabled, so a
    // multiply whose only use is an add/sub becomes one fused multiply-add (the first such multiply
    // in program order wins when both operands of an add are products). `mul_add` reproduces each
    // of those fusions; every other operation is rounded separately.

    /// `log256_ps` for one lane.
    #[inline(always)]
    pub fn log(x: f32) -> f32 {
        let invalid = x <= 0.0;
        // _mm256_max_ps(x, min_norm): returns the second operand when the first is NaN.
        let mn = f32::from_bits(MIN_NORM_POS);
        let mut x = if x > mn { x } else { mn };
        let imm0 = (x.to_bits() >> 23) as i32;
        x = f32::from_bits((x.to_bits() & INV_MANT_MASK) | 0.5f32.to_bits());
        let mut e = (imm0 - 0x7f) as f32;
        e += 1.0;
        let mask = x < SQRTHF;
        let tmp = if mask { x } else { 0.0 };
        x -= 1.0;
        e -= if mask { 1.0 } else { 0.0 };
        x += tmp;
        let z = x * x;
        let mut y = LOG_P[0];
        for &p in &LOG_P[1..] {
            y = y.mul_add(x, p);
        }
        y *= x;
        // y*z + e*q1: the earlier product (y*z) is the fused one.
        y = y.mul_add(z, e * LOG_Q1);
        // y - z*0.5
        y = (-z).mul_add(0.5, y);
        x += y;
        x = e.mul_add(LOG_Q2, x);
        if invalid {
            f32::NAN
        } else {
            x
        }
    }

    /// `sincos256_ps` for one lane: (sin, cos).
    #[inline(always)]
    pub fn sincos(x: f32) -> (f32, f32) {
        const SIGN: u32 = 0x8000_0000;
        let mut sign_bit_sin = x.to_bits() & SIGN;
        let mut x = f32::from_bits(x.to_bits() & !SIGN);
        let y = x * FOPI;
        // cvttps: truncation; out-of-range lanes give i32::MIN like the instruction.
        let mut imm2: i32 = if y.is_finite() && y.abs() < 2_147_483_648.0 {
            y as i32
        } else {
            i32::MIN
        };
        imm2 = imm2.wrapping_add(1) & !1;
        let y = imm2 as f32;
        let imm4 = imm2;
        let swap_sign_bit_sin = ((imm2 & 4) as u32) << 29;
        let poly_mask = (imm2 & 2) == 0;
        // The "extended precision modular arithmetic" x - y*DP1 - y*DP2 - y*DP3, each step fused.
        x = y.mul_add(MINUS_DP1, x);
        x = y.mul_add(MINUS_DP2, x);
        x = y.mul_add(MINUS_DP3, x);
        let imm4 = imm4.wrapping_sub(2);
        let sign_bit_cos = ((!imm4 & 4) as u32) << 29;
        sign_bit_sin ^= swap_sign_bit_sin;

        let z = x * x;
        let mut yc = COSCOF_P0.mul_add(z, COSCOF_P1);
        yc = yc.mul_add(z, COSCOF_P2);
        yc *= z;
        // yc*z - z*0.5: the earlier product (yc*z) is the fused one.
        yc = yc.mul_add(z, -(z * 0.5));
        yc += 1.0;

        let mut ys = SINCOF_P0.mul_add(z, SINCOF_P1);
        ys = ys.mul_add(z, SINCOF_P2);
        ys *= z;
        ys = ys.mul_add(x, x);

        // Blend exactly as the intrinsics do: and/andnot then subtract and add.
        let ysin2 = if poly_mask { ys } else { 0.0 };
        let ysin1 = if poly_mask { 0.0 } else { yc };
        let ys = ys - ysin2;
        let yc = yc - ysin1;
        let s = ysin1 + ysin2;
        let c = yc + ys;
        (
            f32::from_bits(s.to_bits() ^ sign_bit_sin),
            f32::from_bits(c.to_bits() ^ sign_bit_cos),
        )
    }
}

/// Box–Muller on 16 float uniforms in place (8 pairs), as torch's AVX `normal_fill_16` does it.
#[inline(always)]
fn normal_fill_16_f32(d: &mut [f32], mean: f32, std: f32) {
    let two_pi = (2.0 * std::f64::consts::PI) as f32;
    for j in 0..8 {
        let u1 = 1.0 - d[j];
        let u2 = d[j + 8];
        let radius = (-2.0f32 * avx_math::log(u1)).sqrt();
        let theta = two_pi * u2;
        let (s, c) = avx_math::sincos(theta);
        d[j] = (radius * c).mul_add(std, mean);
        d[j + 8] = (radius * s).mul_add(std, mean);
    }
}

/// Box–Muller on 16 double uniforms in place, torch's scalar `normal_fill_16` (libm log/sin/cos).
#[inline(always)]
fn normal_fill_16_f64(d: &mut [f64], mean: f64, std: f64) {
    for j in 0..8 {
        let u1 = 1.0 - d[j];
        let u2 = d[j + 8];
        let radius = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        d[j] = (radius * theta.cos()).mul_add(std, mean);
        d[j + 8] = (radius * theta.sin()).mul_add(std, mean);
    }
}

/// Whether the running CPU has FMA and AVX2, so the `mul_add`-heavy samplers can run as single
/// instructions instead of libm `fma` calls. Results are identical either way: a fused multiply-add is
/// exactly rounded in hardware and in libm alike.
#[inline]
fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines `$name(data, a, b)` running `$body` over `data` compiled with FMA/AVX2 when available.
macro_rules! fma_kernel {
    ($name:ident, $t:ty, |$d:ident, $a:ident, $b:ident| $body:block) => {
        fn $name($d: &mut [$t], $a: $t, $b: $t) {
            #[inline(always)]
            fn body($d: &mut [$t], $a: $t, $b: $t) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "fma,avx2")]
                unsafe fn fast($d: &mut [$t], $a: $t, $b: $t) {
                    body($d, $a, $b)
                }
                if has_fma() {
                    // SAFETY: the running CPU supports FMA and AVX2 (checked by has_fma).
                    return unsafe { fast($d, $a, $b) };
                }
            }
            body($d, $a, $b)
        }
    };
}

fma_kernel!(box_muller_blocks_f32, f32, |d, mean, std| {
    for block in d.chunks_exact_mut(16) {
        normal_fill_16_f32(block, mean, std);
    }
});
fma_kernel!(box_muller_blocks_f64, f64, |d, mean, std| {
    for block in d.chunks_exact_mut(16) {
        normal_fill_16_f64(block, mean, std);
    }
});
// x * (to - from) + from, which torch's build contracts into one fused multiply-add. Rounding can
// land on `to`; torch maps that back to `from` to keep [from, to).
fma_kernel!(affine_uniform_f32, f32, |d, from, to| {
    let span = to - from;
    for v in d.iter_mut() {
        let x = v.mul_add(span, from);
        *v = if x == to { from } else { x };
    }
});
fma_kernel!(affine_uniform_f64, f64, |d, from, to| {
    let span = to - from;
    for v in d.iter_mut() {
        let x = v.mul_add(span, from);
        *v = if x == to { from } else { x };
    }
});

/// torch's `normal_fill`: all uniforms first, Box–Muller per block of 16, and a ragged tail handled by
/// drawing 16 fresh uniforms over the last 16 slots (overwriting some finished values).
fn normal_fill<T: Copy>(data: &mut [T], mut uniform: impl FnMut() -> T, blocks: impl Fn(&mut [T])) {
    let n = data.len();
    for v in data.iter_mut() {
        *v = uniform();
    }
    blocks(data);
    if !n.is_multiple_of(16) {
        let tail = &mut data[n - 16..];
        for v in tail.iter_mut() {
            *v = uniform();
        }
        blocks(tail);
    }
}

/// `tensor.normal_(mean, std)`. Contiguous tensors of >= 16 elements take torch's vectorised path;
/// smaller or strided ones draw element by element from the cached double Box–Muller.
pub fn normal_(t: &Tensor, mean: f64, std: f64, g: &mut Generator) -> Result<()> {
    let dt = t.dtype();
    if !dt.is_float() {
        return Err(not_implemented_for("normal_kernel_cpu", dt));
    }
    if !(std >= 0.0) {
        return Err(Error::runtime(format!(
            "normal expects std >= 0.0, but found std {}",
            fmt_g(std)
        )));
    }
    let n = t.numel();
    if n == 0 {
        return Ok(());
    }
    if n >= 16 && t.is_contiguous() {
        match dt {
            DType::F32 => {
                let (m, s) = (mean as f32, std as f32);
                normal_fill(
                    t.as_mut_slice::<f32>(),
                    || g.uniform_f32(),
                    |d| box_muller_blocks_f32(d, m, s),
                );
            }
            _ => {
                normal_fill(
                    t.as_mut_slice::<f64>(),
                    || g.uniform_f64(),
                    |d| box_muller_blocks_f64(d, mean, std),
                );
            }
        }
        t.storage().bump_version();
    } else {
        match dt {
            // val * std + mean in double, which torch's build fuses into one multiply-add.
            DType::F32 => fill_with::<f32>(t, || g.standard_normal_f64().mul_add(std, mean) as f32),
            _ => fill_with::<f64>(t, || g.standard_normal_f64().mul_add(std, mean)),
        }
    }
    Ok(())
}

/// `torch.randn(shape, dtype)`.
pub fn randn(shape: &[usize], dtype: DType, g: &mut Generator) -> Result<Tensor> {
    let t = Tensor::empty(shape, dtype);
    normal_(&t, 0.0, 1.0, g)?;
    Ok(t)
}

/// `torch.normal(mean, std, size)` with float mean and std.
pub fn normal(
    mean: f64,
    std: f64,
    shape: &[usize],
    dtype: DType,
    g: &mut Generator,
) -> Result<Tensor> {
    let t = Tensor::empty(shape, dtype);
    normal_(&t, mean, std, g)?;
    Ok(t)
}

/// The values of `t` broadcast to `shape`, in row-major order, as f64 (exact for every dtype here
/// except int64 beyond 2^53, which torch would also round when mixing with floats).
fn broadcast_f64(t: &Tensor, shape: &[usize]) -> Vec<f64> {
    let n = shape::numel(shape);
    let nd = shape.len();
    let tn = t.ndim();
    // Strides of t aligned to `shape`, 0 where t is broadcast.
    let mut st = vec![0isize; nd];
    for i in 0..tn {
        let d = nd - tn + i;
        st[d] = if t.shape()[i] == 1 { 0 } else { t.strides()[i] };
    }
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; nd];
    let mut off: isize = t.offset() as isize;
    crate::dispatch!(t.dtype(), T => {
        let base = t.storage().ptr() as *const T;
        for _ in 0..n {
            // SAFETY: off stays inside t's storage: it is t's own offset plus in-range index * stride.
            out.push(unsafe { *base.offset(off) }.to_f64());
            for d in (0..nd).rev() {
                idx[d] += 1;
                off += st[d];
                if idx[d] < shape[d] {
                    break;
                }
                off -= st[d] * shape[d] as isize;
                idx[d] = 0;
            }
        }
    });
    out
}

/// Checks a std tensor the way torch does before drawing.
fn check_std_tensor(std: &Tensor) -> Result<()> {
    if broadcast_f64(std, std.shape()).iter().any(|&x| !(x >= 0.0)) {
        return Err(Error::runtime("normal expects all elements of std >= 0.0"));
    }
    Ok(())
}

/// Rounds `v` computed in f64 to `dt` (exact IEEE rounding for f32, since f64 carries enough bits).
fn round_to(dt: DType, v: f64) -> f64 {
    if dt == DType::F32 {
        v as f32 as f64
    } else {
        v
    }
}

/// `torch.normal(mean, std)` with tensor mean and/or std: standard normals of the broadcast shape,
/// then `mul_(std)` and `add_(mean)` as two separately rounded in-place ops (torch's recipe).
/// `out_dtype` is mean's dtype when mean is a tensor, else std's.
pub fn normal_tensor(
    mean: std::result::Result<&Tensor, f64>,
    std: std::result::Result<&Tensor, f64>,
    g: &mut Generator,
) -> Result<Tensor> {
    let (dt, shape): (DType, Vec<usize>) = match (&mean, &std) {
        (Ok(m), Ok(s)) => (
            m.dtype(),
            shape::broadcast_shapes(m.shape(), s.shape())?.to_vec(),
        ),
        (Ok(m), Err(_)) => (m.dtype(), m.shape().to_vec()),
        (Err(_), Ok(s)) => (s.dtype(), s.shape().to_vec()),
        (Err(m), Err(s)) => return normal(*m, *s, &[], crate::dtype::default_dtype(), g),
    };
    match &std {
        Ok(s) => check_std_tensor(s)?,
        Err(s) if !(*s >= 0.0) => {
            return Err(Error::runtime(format!(
                "normal expects std >= 0.0, but found std {}",
                fmt_g(*s)
            )))
        }
        Err(_) => {}
    }
    if !dt.is_float() {
        return Err(not_implemented_for("normal_kernel_cpu", dt));
    }
    let out = Tensor::empty(&shape, dt);
    match &std {
        // Tensor mean with float std: normal_(0, std) then add_(mean).
        Err(s) => normal_(&out, 0.0, *s, g)?,
        Ok(_) => normal_(&out, 0.0, 1.0, g)?,
    }
    let n = out.numel();
    // mul_/add_ compute in the promoted dtype of the two operands, then round to out's dtype.
    let promote = |other: DType| {
        if other == DType::F64 || dt == DType::F64 {
            DType::F64
        } else {
            DType::F32
        }
    };
    let mut vals: Vec<f64> = broadcast_f64(&out, &shape);
    if let Ok(s) = &std {
        let sv = broadcast_f64(s, &shape);
        let cd = promote(s.dtype());
        for i in 0..n {
            vals[i] = round_to(dt, round_to(cd, vals[i] * round_to(cd, sv[i])));
        }
    }
    match &mean {
        Ok(m) => {
            let mv = broadcast_f64(m, &shape);
            let cd = promote(m.dtype());
            for i in 0..n {
                vals[i] = round_to(dt, round_to(cd, vals[i] + round_to(cd, mv[i])));
            }
        }
        Err(m) => {
            // A float mean is materialised as a tensor of out's dtype first (`at::full`).
            let m = round_to(dt, *m);
            for v in vals.iter_mut() {
                *v = round_to(dt, *v + m);
            }
        }
    }
    crate::dispatch_float!(dt, T => {
        let s = out.as_mut_slice::<T>();
        for (d, v) in s.iter_mut().zip(vals) {
            *d = T::from_f64(v);
        }
    }, _ => {});
    Ok(out)
}

// ------------------------------------------------------------------------------------------------
// random_ / randint
// ------------------------------------------------------------------------------------------------

/// (lowest, max) of a dtype as torch's bounds checks see them.
fn int_bounds(dt: DType) -> (i64, i64) {
    match dt {
        DType::Bool => (0, 1),
        DType::U8 => (0, 255),
        DType::I32 => (i32::MIN as i64, i32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    }
}

fn mantissa_digits(dt: DType) -> u32 {
    if dt == DType::F32 {
        24
    } else {
        53
    }
}

fn cast_through(dt: DType, v: i64) -> i64 {
    if dt == DType::F32 {
        v as f32 as i64
    } else {
        v as f64 as i64
    }
}

/// torch's `update_from`: the next `from` that stays >= from after a round trip through the float dtype.
fn update_from(dt: DType, from: i64) -> i64 {
    let from_plus_1 = cast_through(dt, from.wrapping_add(1));
    if from_plus_1 < from {
        let mut f = from.wrapping_add(1).wrapping_abs();
        let mut n: i32 = 0;
        loop {
            f >>= 1;
            if f == 0 {
                break;
            }
            n += 1;
        }
        let sh = n - mantissa_digits(dt) as i32 + 1;
        return from_plus_1.wrapping_add(if (0..63).contains(&sh) { 1i64 << sh } else { 0 });
    }
    from
}

/// torch's `update_to`: the previous `to` whose `to - 1` survives the float dtype without reaching `to`.
fn update_to(dt: DType, to: i64) -> i64 {
    let to_minus_1 = cast_through(dt, to.wrapping_sub(1));
    if to_minus_1 >= to {
        let mut t = to.wrapping_sub(1).wrapping_abs();
        let mut n: i32 = 0;
        loop {
            t >>= 1;
            if t == 0 {
                break;
            }
            n += 1;
        }
        let sh = n - mantissa_digits(dt) as i32 + 1;
        return to_minus_1.wrapping_sub(if (0..63).contains(&sh) { 1i64 << sh } else { 0 });
    }
    to
}

fn check_from_to_in_range(from: i64, to_inc: i64, dt: DType) -> Result<()> {
    let name = cpp_type_name(dt);
    let ok = |v: i64| -> bool {
        if dt.is_float() {
            let (lo, hi) = if dt == DType::F32 {
                (f32::MIN as f64, f32::MAX as f64)
            } else {
                (f64::MIN, f64::MAX)
            };
            (v as f64) >= lo && (v as f64) <= hi
        } else {
            let (lo, hi) = int_bounds(dt);
            v >= lo && v <= hi
        }
    };
    if !ok(from) {
        return Err(Error::runtime(format!("from is out of bounds for {name}")));
    }
    if !ok(to_inc) {
        return Err(Error::runtime(format!(
            "to - 1 is out of bounds for {name}"
        )));
    }
    Ok(())
}

/// Draws `(draw % range) + base` as torch's `uniform_int_from_to_distribution` does. PyTorch 2.15 takes
/// a 64-bit draw whenever the range is at least 2^28 (keeping the modulo bias small), for every dtype;
/// smaller ranges use one 32-bit draw.
fn fill_from_to(t: &Tensor, range: u64, base: i64, g: &mut Generator) {
    let dt = t.dtype();
    let wide = range >= (1u64 << 28);
    crate::dispatch!(dt, T => {
        fill_with::<T>(t, || {
            let v = if wide { g.random64() % range } else { (g.random() as u64) % range };
            T::from_i64(v.wrapping_add(base as u64) as i64)
        })
    });
}

/// `tensor.random_(from, to)`: [from, to), or [from, dtype max] when `to` is None, with torch's
/// checks. `from = i64::MIN` with no `to` is torch's full 64-bit range.
pub fn random_from_to_(t: &Tensor, from: i64, to: Option<i64>, g: &mut Generator) -> Result<()> {
    let dt = t.dtype();
    let mut from = from;
    match to {
        Some(to) => {
            let mut to = to;
            if from >= to {
                return Err(Error::runtime(format!(
                    "random_ expects 'from' to be less than 'to', but got from={from} >= to={to}"
                )));
            }
            if dt.is_float() {
                from = update_from(dt, from);
                to = update_to(dt, to);
                if from >= to {
                    return Err(Error::runtime(format!(
                        "random_ expects 'from' casted to dtype to be less than 'to' casted to dtype, but got \
                         from={from} >= to={to}"
                    )));
                }
            }
            check_from_to_in_range(from, to.wrapping_sub(1), dt)?;
            if t.numel() == 0 {
                return Ok(());
            }
            let range = (to as u64).wrapping_sub(from as u64);
            fill_from_to(t, range, from, g);
        }
        None if from != i64::MIN => {
            let to_inc = if dt.is_float() {
                let to_inc = 1i64 << mantissa_digits(dt);
                from = update_from(dt, from);
                if from >= to_inc {
                    return Err(Error::runtime(format!(
                        "random_ expects 'from' casted to dtype to be less than or equal to 'to_inc' casted to \
                         dtype, but got from={from} > to_inc={to_inc}"
                    )));
                }
                to_inc
            } else {
                int_bounds(dt).1
            };
            check_from_to_in_range(from, to_inc, dt)?;
            if t.numel() == 0 {
                return Ok(());
            }
            let range = (to_inc as u64).wrapping_sub(from as u64).wrapping_add(1);
            fill_from_to(t, range, from, g);
        }
        None => {
            if t.numel() == 0 {
                return Ok(());
            }
            match dt {
                DType::I64 | DType::F32 | DType::F64 => {
                    crate::dispatch!(dt, T => fill_with::<T>(t, || T::from_i64(g.random64() as i64)))
                }
                _ => {
                    return Err(Error::runtime(
                        "random_full_64_bits_range_kernel_cpu handles only int64, double, float and bfloat16",
                    ))
                }
            }
        }
    }
    Ok(())
}

/// `tensor.random_()` with no bounds: [0, 2^mantissa] for floats, [0, max] for integers.
pub fn random_(t: &Tensor, g: &mut Generator) -> Result<()> {
    if t.numel() == 0 {
        return Ok(());
    }
    match t.dtype() {
        DType::Bool => fill_with::<bool>(t, || g.random() & 1 == 1),
        DType::U8 => fill_with::<u8>(t, || (g.random() % 256) as u8),
        DType::I32 => fill_with::<i32>(t, || (g.random() % (1u32 << 31)) as i32),
        DType::I64 => fill_with::<i64>(t, || (g.random64() % (1u64 << 63)) as i64),
        DType::F32 => fill_with::<f32>(t, || ((g.random() as u64) % ((1u64 << 24) + 1)) as f32),
        DType::F64 => fill_with::<f64>(t, || (g.random64() % ((1u64 << 53) + 1)) as f64),
    }
    Ok(())
}

/// `torch.randint(low, high, shape, dtype)`.
pub fn randint(
    low: i64,
    high: i64,
    shape: &[usize],
    dtype: DType,
    g: &mut Generator,
) -> Result<Tensor> {
    let t = Tensor::empty(shape, dtype);
    random_from_to_(&t, low, Some(high), g)?;
    Ok(t)
}

// ------------------------------------------------------------------------------------------------
// randperm
// ------------------------------------------------------------------------------------------------

/// The permutation torch's `randperm_cpu` produces, as i64 values.
pub fn randperm_values(n: usize, g: &mut Generator) -> Vec<i64> {
    let mut r: Vec<i64> = (0..n as i64).collect();
    if (n as u64) < (u32::MAX / 20) as u64 {
        // Classic Fisher–Yates from the front with 32-bit draws.
        for i in 0..n.saturating_sub(1) {
            let z = (g.random() as u64 % (n - i) as u64) as usize;
            r.swap(i, i + z);
        }
    } else {
        // Large n: torch switches to the inside-out variant with 64-bit draws to avoid modulo bias.
        for i in 0..n {
            let z = (g.random64() % (i as u64 + 1)) as usize;
            r[i] = r[z];
            r[z] = i as i64;
        }
    }
    r
}

/// `torch.randperm(n, dtype)` (int64 by default).
pub fn randperm(n: i64, dtype: DType, g: &mut Generator) -> Result<Tensor> {
    if n < 0 {
        return Err(Error::runtime(format!(
            "Trying to create tensor with negative dimension {n}: [{n}]"
        )));
    }
    match dtype {
        DType::Bool => return Err(not_implemented_for("randperm", dtype)),
        DType::F32 if n > (1 << 24) + 1 => {
            return Err(Error::runtime(
                "n cannot be greater than 2^24+1 for Float type.",
            ))
        }
        DType::F64 if n > (1i64 << 53) + 1 => {
            return Err(Error::runtime(
                "n cannot be greater than 2^53+1 for Double type.",
            ))
        }
        DType::U8 if n > 256 => {
            return Err(Error::runtime(
                "value cannot be converted to type uint8_t without overflow",
            ))
        }
        DType::I32 if n > i32::MAX as i64 + 1 => {
            return Err(Error::runtime(
                "value cannot be converted to type int32_t without overflow",
            ))
        }
        _ => {}
    }
    let v = randperm_values(n as usize, g);
    let n = n as usize;
    crate::dispatch!(dtype, T => Tensor::from_vec(v.into_iter().map(T::from_i64).collect::<Vec<T>>(), &[n]))
}

// ------------------------------------------------------------------------------------------------
// bernoulli / exponential
// ------------------------------------------------------------------------------------------------

/// `tensor.bernoulli_(p)` with a float p: one 64-bit uniform per element, 1 where it is < p.
pub fn bernoulli_scalar_(t: &Tensor, p: f64, g: &mut Generator) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::runtime(format!(
            "bernoulli_ expects p to be in [0, 1], but got p={}",
            fmt_g(p)
        )));
    }
    if t.numel() == 0 {
        return Ok(());
    }
    crate::dispatch!(t.dtype(), T => fill_with::<T>(t, || T::from_bool(g.uniform_f64() < p)));
    Ok(())
}

fn p_in_range_error() -> Error {
    Error::runtime(
        "Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error message be improved?  If so, \
         please report an enhancement request to PyTorch.)",
    )
}

/// `tensor.bernoulli_(p_tensor)`: p broadcast to t; float64 p draws 64-bit uniforms, float32 p
/// draws 24-bit float uniforms compared in float.
pub fn bernoulli_tensor_(t: &Tensor, p: &Tensor, g: &mut Generator) -> Result<()> {
    if t.numel() == 0 {
        return Ok(());
    }
    if !p.dtype().is_float() {
        return Err(not_implemented_for("bernoulli_tensor_cpu_p_", p.dtype()));
    }
    // expand_inplace: p must broadcast to t's shape exactly.
    let bs = shape::broadcast_shapes(t.shape(), p.shape())?;
    if bs.as_slice() != t.shape() {
        return Err(Error::runtime(format!(
            "output with shape {} doesn't match the broadcast shape {}",
            shape::fmt_shape(t.shape()),
            shape::fmt_shape(&bs)
        )));
    }
    let pv = broadcast_f64(p, t.shape());
    // Validate lazily like torch (the check happens per element as it draws); check all up front so
    // the tensor is left untouched on error.
    if pv.iter().any(|&x| !(0.0..=1.0).contains(&x)) {
        return Err(p_in_range_error());
    }
    let mut it = pv.into_iter();
    let is_f64 = p.dtype() == DType::F64;
    // The values are assigned in t's iteration order; for same-layout tensors this is row-major too.
    let offsets_rowmajor = t.is_contiguous();
    if offsets_rowmajor {
        crate::dispatch!(t.dtype(), T => fill_with::<T>(t, || {
            let pv = it.next().unwrap_or(0.0);
            T::from_bool(if is_f64 { g.uniform_f64() < pv } else { g.uniform_f32() < pv as f32 })
        }));
    } else {
        // Write row-major (TensorIterator keeps both operands' common order; for a strided output and
        // a broadcast p, row-major is what it picks unless t is a permuted dense tensor).
        let vals: Vec<bool> = it
            .map(|pv| {
                if is_f64 {
                    g.uniform_f64() < pv
                } else {
                    g.uniform_f32() < pv as f32
                }
            })
            .collect();
        let nd = t.ndim();
        let shp = t.shape().to_vec();
        let st = t.strides().to_vec();
        crate::dispatch!(t.dtype(), T => {
            let base = t.ptr::<T>();
            let mut idx = vec![0usize; nd];
            let mut off: isize = 0;
            for v in vals {
                // SAFETY: off is an in-range index combination of t's own shape and strides.
                unsafe { *base.offset(off) = T::from_bool(v) };
                for d in (0..nd).rev() {
                    idx[d] += 1;
                    off += st[d];
                    if idx[d] < shp[d] {
                        break;
                    }
                    off -= st[d] * shp[d] as isize;
                    idx[d] = 0;
                }
            }
        });
        t.storage().bump_version();
    }
    Ok(())
}

/// `torch.bernoulli(p)`: a tensor of p's dtype and shape.
pub fn bernoulli(p: &Tensor, g: &mut Generator) -> Result<Tensor> {
    let out = Tensor::empty(p.shape(), p.dtype());
    bernoulli_tensor_(&out, p, g)?;
    Ok(out)
}

/// One Exp(lambda) double: `-1/lambda * log(1 - u)` on a 53-bit uniform.
#[inline]
fn exponential_sample(g: &mut Generator, lambda: f64) -> f64 {
    let u = g.uniform_f64();
    (-1.0 / lambda) * (-u).ln_1p()
}

/// `tensor.exponential_(lambd)`.
pub fn exponential_(t: &Tensor, lambda: f64, g: &mut Generator) -> Result<()> {
    if !(lambda > 0.0) {
        return Err(Error::runtime(format!(
            "exponential_ expects lambda > 0.0, but found lambda={}",
            fmt_g(lambda)
        )));
    }
    let dt = t.dtype();
    if !dt.is_float() {
        return Err(Error::runtime(format!(
            "Exponential distribution is a continuous probability distribution. dtype must be a floating point \
             but you specified {}",
            dt.scalar_name()
        )));
    }
    if t.numel() == 0 {
        return Ok(());
    }
    crate::dispatch_float!(dt, T => fill_with::<T>(t, || T::from_f64(exponential_sample(g, lambda))), _ => {});
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// multinomial
// ------------------------------------------------------------------------------------------------

/// `torch.multinomial(probs, num_samples, replacement)` with torch's two algorithms: without
/// replacement (or one sample) the exponential race `argmax/topk(p / Exp(1))`; with replacement a
/// binary search of the normalised cumulative distribution per 53-bit uniform.
pub fn multinomial(
    probs: &Tensor,
    n_sample: i64,
    replacement: bool,
    g: &mut Generator,
) -> Result<Tensor> {
    let nd = probs.ndim();
    if nd == 0 || nd > 2 {
        return Err(Error::runtime("prob_dist must be 1 or 2 dim"));
    }
    let dt = probs.dtype();
    if !dt.is_float() {
        return Err(Error::runtime(format!(
            "multinomial only supports floating-point dtypes for input, got: {}",
            dt.scalar_name()
        )));
    }
    if n_sample <= 0 {
        return Err(Error::runtime("cannot sample n_sample <= 0 samples"));
    }
    let n_cat = probs.shape()[nd - 1];
    if !replacement && n_sample as u64 > n_cat as u64 {
        return Err(Error::runtime(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement",
        ));
    }
    if n_cat > 1 << 24 {
        return Err(Error::runtime("number of categories cannot exceed 2^24"));
    }
    let n_dist = if nd == 2 { probs.shape()[0] } else { 1 };
    let ns = n_sample as usize;
    let out_shape: Vec<usize> = if nd == 2 { vec![n_dist, ns] } else { vec![ns] };
    if n_dist * ns == 0 {
        return Tensor::from_vec(Vec::<i64>::new(), &out_shape);
    }
    // Values in row-major order; f32 probabilities are exact in f64 and re-rounded where torch
    // computes in float.
    let p = broadcast_f64(probs, probs.shape());
    let is_f32 = dt == DType::F32;
    let mut result = vec![0i64; n_dist * ns];

    if !replacement || n_sample == 1 {
        if p.iter().any(|&x| !(0.0..f64::INFINITY).contains(&x)) {
            return Err(Error::runtime(
                "probability tensor contains either `inf`, `nan` or element < 0",
            ));
        }
        for r in 0..n_dist {
            let row = &p[r * n_cat..(r + 1) * n_cat];
            let s: f64 = if is_f32 {
                row.iter().map(|&x| x as f32).sum::<f32>() as f64
            } else {
                row.iter().sum()
            };
            if s == 0.0 {
                return Err(Error::runtime(
                    "invalid multinomial distribution (sum of probabilities <= 0)",
                ));
            }
        }
        // q = empty_like(probs).exponential_(1), drawn over the whole tensor, then q = p / q.
        let mut q: Vec<f64> = Vec::with_capacity(p.len());
        for &pv in &p {
            let e = exponential_sample(g, 1.0);
            q.push(if is_f32 {
                (pv as f32 / e as f32) as f64
            } else {
                pv / e
            });
        }
        for r in 0..n_dist {
            let row = &q[r * n_cat..(r + 1) * n_cat];
            if ns == 1 {
                // argmax: first index of the maximum (NaN would win, but q has none here).
                let mut best = 0usize;
                for (j, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = j;
                    }
                }
                result[r * ns] = best as i64;
            } else {
                let mut q: Vec<(f64, i64)> = row
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| (v, j as i64))
                    .collect();
                stl::topk_largest(&mut q, ns);
                for j in 0..ns {
                    result[r * ns + j] = q[j].1;
                }
            }
        }
    } else {
        let mut cum = vec![0f64; n_cat];
        for r in 0..n_dist {
            let row = &p[r * n_cat..(r + 1) * n_cat];
            // Running sum in the probability dtype, then each entry divided by the total.
            let mut sum = 0f64;
            for (j, &v) in row.iter().enumerate() {
                if !(v >= 0.0) {
                    return Err(Error::runtime(
                        "invalid multinomial distribution (encountering probability entry < 0)",
                    ));
                }
                if !v.is_finite() {
                    return Err(Error::runtime(
                        "invalid multinomial distribution (encountering probability entry = infinity or NaN)",
                    ));
                }
                sum = if is_f32 {
                    (sum as f32 + v as f32) as f64
                } else {
                    sum + v
                };
                cum[j] = sum;
            }
            if !(sum > 0.0) {
                return Err(Error::runtime(
                    "invalid multinomial distribution (sum of probabilities <= 0)",
                ));
            }
            for c in cum.iter_mut() {
                *c = if is_f32 {
                    (*c as f32 / sum as f32) as f64
                } else {
                    *c / sum
                };
            }
            // The last bucket is forced to 1 so every uniform lands somewhere.
            cum[n_cat - 1] = 1.0;
            for j in 0..ns {
                let u = g.uniform_f64();
                let (mut left, mut right) = (0usize, n_cat);
                while right > left {
                    let mid = left + (right - left) / 2;
                    if cum[mid] < u {
                        left = mid + 1;
                    } else {
                        right = mid;
                    }
                }
                result[r * ns + j] = left as i64;
            }
        }
    }
    Tensor::from_vec(result, &out_shape)
}

/// torch's CPU `topk` orders (value, index) pairs with libstdc++'s `nth_element`/`sort`/`partial_sort`,
/// so which of several equal values comes first (zero-probability categories in `multinomial`) is
/// decided by those exact algorithms. This is a faithful port of GCC's implementations.
mod stl {
    type E = (f64, i64);

    /// topk's comparator for `largest=True`: NaN first, then greater values.
    #[inline]
    fn comp(a: &E, b: &E) -> bool {
        (a.0.is_nan() && !b.0.is_nan()) || a.0 > b.0
    }

    fn lg(n: usize) -> usize {
        (usize::BITS - 1 - n.leading_zeros()) as usize
    }

    fn move_median_to_first(v: &mut [E], result: usize, a: usize, b: usize, c: usize) {
        if comp(&v[a], &v[b]) {
            if comp(&v[b], &v[c]) {
                v.swap(result, b);
            } else if comp(&v[a], &v[c]) {
                v.swap(result, c);
            } else {
                v.swap(result, a);
            }
        } else if comp(&v[a], &v[c]) {
            v.swap(result, a);
        } else if comp(&v[b], &v[c]) {
            v.swap(result, c);
        } else {
            v.swap(result, b);
        }
    }

    fn unguarded_partition(v: &mut [E], mut first: usize, mut last: usize, pivot: usize) -> usize {
        loop {
            while comp(&v[first], &v[pivot]) {
                first += 1;
            }
            last -= 1;
            while comp(&v[pivot], &v[last]) {
                last -= 1;
            }
            if first >= last {
                return first;
            }
            v.swap(first, last);
            first += 1;
        }
    }

    fn partition_pivot(v: &mut [E], first: usize, last: usize) -> usize {
        let mid = first + (last - first) / 2;
        move_median_to_first(v, first, first + 1, mid, last - 1);
        unguarded_partition(v, first + 1, last, first)
    }

    fn unguarded_linear_insert(v: &mut [E], mut last: usize) {
        let val = v[last];
        let mut next = last - 1;
        while comp(&val, &v[next]) {
            v[last] = v[next];
            last = next;
            next -= 1;
        }
        v[last] = val;
    }

    fn insertion_sort(v: &mut [E], first: usize, last: usize) {
        if first == last {
            return;
        }
        for i in first + 1..last {
            if comp(&v[i], &v[first]) {
                let val = v[i];
                v.copy_within(first..i, first + 1);
                v[first] = val;
            } else {
                unguarded_linear_insert(v, i);
            }
        }
    }

    fn push_heap(v: &mut [E], first: usize, mut hole: usize, top: usize, value: E) {
        let mut parent = hole.wrapping_sub(1) / 2;
        while hole > top && comp(&v[first + parent], &value) {
            v[first + hole] = v[first + parent];
            hole = parent;
            parent = hole.wrapping_sub(1) / 2;
        }
        v[first + hole] = value;
    }

    fn adjust_heap(v: &mut [E], first: usize, mut hole: usize, len: usize, value: E) {
        let top = hole;
        let mut second = hole;
        while second < len.saturating_sub(1) / 2 {
            second = 2 * (second + 1);
            if comp(&v[first + second], &v[first + second - 1]) {
                second -= 1;
            }
            v[first + hole] = v[first + second];
            hole = second;
        }
        if len & 1 == 0 && len >= 2 && second == (len - 2) / 2 {
            second = 2 * (second + 1);
            v[first + hole] = v[first + second - 1];
            hole = second - 1;
        }
        push_heap(v, first, hole, top, value);
    }

    fn make_heap(v: &mut [E], first: usize, last: usize) {
        let len = last - first;
        if len < 2 {
            return;
        }
        let mut parent = (len - 2) / 2;
        loop {
            let value = v[first + parent];
            adjust_heap(v, first, parent, len, value);
            if parent == 0 {
                return;
            }
            parent -= 1;
        }
    }

    fn pop_heap(v: &mut [E], first: usize, last: usize, result: usize) {
        let value = v[result];
        v[result] = v[first];
        adjust_heap(v, first, 0, last - first, value);
    }

    fn heap_select(v: &mut [E], first: usize, middle: usize, last: usize) {
        make_heap(v, first, middle);
        for i in middle..last {
            if comp(&v[i], &v[first]) {
                pop_heap(v, first, middle, i);
            }
        }
    }

    fn sort_heap(v: &mut [E], first: usize, mut last: usize) {
        while last - first > 1 {
            last -= 1;
            pop_heap(v, first, last, last);
        }
    }

    fn partial_sort(v: &mut [E], first: usize, middle: usize, last: usize) {
        heap_select(v, first, middle, last);
        sort_heap(v, first, middle);
    }

    fn nth_element(v: &mut [E], mut first: usize, nth: usize, mut last: usize) {
        if first == last || nth == last {
            return;
        }
        let mut depth = lg(last - first) * 2;
        while last - first > 3 {
            if depth == 0 {
                heap_select(v, first, nth + 1, last);
                v.swap(first, nth);
                return;
            }
            depth -= 1;
            let cut = partition_pivot(v, first, last);
            if cut <= nth {
                first = cut;
            } else {
                last = cut;
            }
        }
        insertion_sort(v, first, last);
    }

    fn introsort_loop(v: &mut [E], first: usize, mut last: usize, mut depth: usize) {
        while last - first > 16 {
            if depth == 0 {
                partial_sort(v, first, last, last);
                return;
            }
            depth -= 1;
            let cut = partition_pivot(v, first, last);
            introsort_loop(v, cut, last, depth);
            last = cut;
        }
    }

    fn sort(v: &mut [E], first: usize, last: usize) {
        if first == last {
            return;
        }
        introsort_loop(v, first, last, lg(last - first) * 2);
        if last - first > 16 {
            insertion_sort(v, first, first + 16);
            for i in first + 16..last {
                unguarded_linear_insert(v, i);
            }
        } else {
            insertion_sort(v, first, last);
        }
    }

    /// torch's `topk(k, largest=True, sorted=True)` on one row: the first k entries of `q` afterwards.
    pub fn topk_largest(q: &mut [E], k: usize) {
        let n = q.len();
        if k == 0 || n == 0 {
            return;
        }
        if k * 64 <= n {
            partial_sort(q, 0, k, n);
        } else {
            nth_element(q, 0, k - 1, n);
            sort(q, 0, k - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_reference_outputs() {
        // The reference mt19937 (init_genrand(5489)) starts 3499211612, 581869302, 3890346734, ...
        let mut e = Mt19937::new(5489);
        let first: Vec<u32> = (0..5).map(|_| e.next_u32()).collect();
        assert_eq!(
            first,
            vec![
                3_499_211_612,
                581_869_302,
                3_890_346_734,
                3_586_334_585,
                545_404_204
            ]
        );
        // The 10000th output of std::mt19937 with the default seed is 4123659995.
        let mut e = Mt19937::new(5489);
        let mut last = 0;
        for _ in 0..10_000 {
            last = e.next_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn state_round_trip_and_layout() {
        let mut g = Generator::new(42);
        let s0 = g.get_state();
        assert_eq!(s0.len(), STATE_SIZE);
        assert_eq!(u64::from_le_bytes(s0[0..8].try_into().unwrap()), 42);
        assert_eq!(i32::from_le_bytes(s0[8..12].try_into().unwrap()), 1);
        let _ = g.standard_normal_f64();
        let s1 = g.get_state();
        // torch after randn(3) with seed 42: left=617, next=8 and a cached double (3 draws = 2 pairs).
        let a = g.random();
        let mut h = Generator::new(7);
        h.set_state(&s1).unwrap();
        assert_eq!(h.random(), a);
        assert_eq!(h.get_state()[5040], 1);
        assert!(h.set_state(&s1[..10]).is_err());
        let mut bad = s1.clone();
        bad[12] = 0;
        assert!(h.set_state(&bad).is_err());
    }

    #[test]
    fn golden_torch_values() {
        // torch.manual_seed(0); torch.rand(3) / torch.rand(2, dtype=float64) / torch.randint(0,10,(5,)).
        let mut g = Generator::new(0);
        let t = rand(&[3], DType::F32, &mut g).unwrap();
        let bits: Vec<u32> = t.as_slice::<f32>().iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits, vec![0x3efe_1558, 0x3f44_aa2f, 0x3db5_33a8]);
        let mut g = Generator::new(0);
        let t = randperm(5, DType::I64, &mut g).unwrap();
        assert_eq!(t.as_slice::<i64>(), &[4, 0, 1, 3, 2]);
        // torch.randn(4, dtype=float64) with a Generator seeded 0 (element-wise Box–Muller path).
        let mut g = Generator::new(0);
        let t = randn(&[4], DType::F64, &mut g).unwrap();
        let bits: Vec<i64> = t
            .as_slice::<f64>()
            .iter()
            .map(|v| v.to_bits() as i64)
            .collect();
        assert_eq!(
            bits,
            vec![
                4609618848671514170,
                -4624414471694290966,
                -4611283420530143515,
                4603295193322370317
            ]
        );
    }

    #[test]
    fn float32_vectorised_paths_match_torch() {
        // torch.randn(17) with a Generator seeded 123: AVX log/sincos with FMA, plus the ragged tail.
        let mut g = Generator::new(123);
        let t = randn(&[17], DType::F32, &mut g).unwrap();
        let bits: Vec<u32> = t.as_slice::<f32>().iter().map(|v| v.to_bits()).collect();
        let want = [
            0x3eacbbc9u32,
            0xbf829ed3,
            0xbe2d02e0,
            0x3f6af29f,
            0x3fca5d36,
            0x3fa6887a,
            0x3fa33d12,
            0xbe4dc6a6,
            0xbe246ad5,
            0xbfc94144,
            0x3f77713c,
            0xbf92f662,
            0xbf9455c8,
            0x3ea6a423,
            0xbf21aa56,
            0xc035c276,
            0xbf48ec26,
        ];
        assert_eq!(bits, want);
        // torch.empty(5).uniform_(-7.1, 3.3): x * (to - from) + from as one fused multiply-add.
        let mut g = Generator::new(123);
        let t = Tensor::empty(&[5], DType::F32);
        uniform_(&t, -7.1, 3.3, &mut g).unwrap();
        let bits: Vec<u32> = t.as_slice::<f32>().iter().map(|v| v.to_bits()).collect();
        assert_eq!(
            bits,
            vec![0xc080a769, 0xbfdd26fd, 0xc08f71a9, 0x3d79d120, 0xc0ca94fb]
        );
    }

    #[test]
    fn randint_uses_64_bit_draws_from_range_2_pow_28() {
        // torch 2.15: randint(-2^31, 2^31-1, (3,), dtype=int32) after seed 1 takes six 32-bit draws.
        let mut g = Generator::new(1);
        let t = randint(-(1 << 31), (1 << 31) - 1, &[3], DType::I32, &mut g).unwrap();
        assert_eq!(t.as_slice::<i32>(), &[-368478959, 656622549, -1596702072]);
        let mut g = Generator::new(1);
        let _ = randint(0, (1 << 28) - 1, &[1], DType::I64, &mut g).unwrap();
        assert_eq!(g.get_state()[16], 1);
        let _ = randint(0, 1 << 28, &[1], DType::I64, &mut g).unwrap();
        assert_eq!(g.get_state()[16], 3);
    }

    #[test]
    fn topk_breaks_ties_like_libstdcxx() {
        // torch.topk(tensor([0,0,5,0,0,0,1,0]), 5).indices
        let v = [0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let mut q: Vec<(f64, i64)> = v.iter().enumerate().map(|(i, &x)| (x, i as i64)).collect();
        stl::topk_largest(&mut q, 5);
        let idx: Vec<i64> = q[..5].iter().map(|e| e.1).collect();
        assert_eq!(idx, vec![2, 6, 5, 4, 7]);
    }

    #[test]
    fn fmt_g_matches_ostream() {
        assert_eq!(fmt_g(-1.0), "-1");
        assert_eq!(fmt_g(1.5), "1.5");
        assert_eq!(fmt_g(3e38), "3e+38");
        assert_eq!(fmt_g(-1.5e-7), "-1.5e-07");
        assert_eq!(fmt_g(0.1), "0.1");
        assert_eq!(fmt_g(123456.0), "123456");
        assert_eq!(fmt_g(1234567.0), "1.23457e+06");
        assert_eq!(fmt_g(0.0001), "0.0001");
    }

    #[test]
    fn iteration_order_is_memory_order_for_transposes() {
        let t = Tensor::from_vec(vec![0f32; 6], &[2, 3]).unwrap();
        let tt = t.view_parts(
            [3usize, 2].into_iter().collect(),
            [1isize, 3].into_iter().collect(),
            0,
        );
        assert_eq!(iteration_offsets(&tt), vec![0, 1, 2, 3, 4, 5]);
    }
}
