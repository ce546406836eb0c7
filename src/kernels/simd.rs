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
