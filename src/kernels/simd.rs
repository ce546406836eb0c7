//! Runs a kernel body compiled for AVX-512 when the CPU has it (the wheel targets baseline x86-64).

/// Whether the AVX-512 (F + VL) build of a kernel may run here; cached by std after the first call.
#[inline]
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `fn $name<T: Float>(args) -> R` that runs the `#[inline(always)]` generic `$body` compiled with
/// AVX-512 when available. Rust never contracts a·b+c into an FMA on its own, and the bodies fix
/// their summation order in code, so both builds give the same bits; only the vector width differs.
macro_rules! simd_dispatch {
    ($vis:vis fn $name:ident<T: Float>($($a:ident : $at:ty),* $(,)?) $(-> $r:ty)? = $body:ident) => {
        $vis fn $name<T: Float>($($a: $at),*) $(-> $r)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                unsafe fn fast<T: Float>($($a: $at),*) $(-> $r)? {
                    $body::<T>($($a),*)
                }
                if $crate::kernels::simd::has_avx512() {
                    // SAFETY: the CPU features were detected at run time.
                    return unsafe { fast::<T>($($a),*) };
                }
            }
            $body::<T>($($a),*)
        }
    };
}
pub(crate) use simd_dispatch;

/// `fn $name<T: $bound>(args) -> R` that runs the `#[inline(always)]` generic `$body` compiled with
/// AVX2+FMA when available (4-wide f64 vectors for loops the compiler vectorises); same bits, as
/// for `simd_dispatch`.
macro_rules! avx2_dispatch {
    ($(#[$m:meta])* $vis:vis fn $name:ident<T: $bound:path>($($a:ident : $at:ty),* $(,)?) $(-> $r:ty)? = $body:ident) => {
        $(#[$m])*
        $vis fn $name<T: $bound>($($a: $at),*) $(-> $r)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn fast<T: $bound>($($a: $at),*) $(-> $r)? {
                    $body::<T>($($a),*)
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU features were detected at run time.
                    return unsafe { fast::<T>($($a),*) };
                }
            }
            $body::<T>($($a),*)
        }
    };
}
pub(crate) use avx2_dispatch;

/// Runs `f` compiled for AVX-512 when the CPU has it: `f` (a closure, inlined here) and the
/// `#[inline(always)]` code it calls get the wider vectors; same bits, as for `simd_dispatch`.
#[inline(always)]
pub fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn fast<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if has_avx512() {
            // SAFETY: the CPU features were detected at run time.
            return unsafe { fast(f) };
        }
    }
    f()
}
