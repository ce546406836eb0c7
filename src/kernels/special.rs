//! Special functions std lacks (erf), from the libm port of musl so values match C's.

pub fn erf(x: f64) -> f64 {
    libm::erf(x)
}
