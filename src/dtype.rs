//! dtypes, torch's promotion table, and the `Element` trait every kernel is generic over.

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    // Declared in promotion order: for this set of dtypes torch's table is "the later one wins".
    Bool,
    U8,
    I32,
    I64,
    F32,
    F64,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 => 1,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
    pub fn is_int(self) -> bool {
        matches!(self, DType::U8 | DType::I32 | DType::I64)
    }
    /// torch's name without the module: "float32".
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }
    /// The name torch uses in kernel errors ("Float", "Long").
    pub fn scalar_name(self) -> &'static str {
        match self {
            DType::Bool => "Bool",
            DType::U8 => "Byte",
            DType::I32 => "Int",
            DType::I64 => "Long",
            DType::F32 => "Float",
            DType::F64 => "Double",
        }
    }
    pub fn from_name(name: &str) -> Result<DType> {
        Ok(match name {
            "bool" => DType::Bool,
            "uint8" => DType::U8,
            "int32" => DType::I32,
            "int64" => DType::I64,
            "float32" => DType::F32,
            "float64" => DType::F64,
            other => {
                return Err(Error::not_implemented(format!(
                    "ferrotorch does not support dtype {other} yet (supported: float32, float64, int64, int32, uint8, bool)"
                )))
            }
        })
    }
    /// Category for promotion between tensors of different kinds: bool < integer < float.
    pub fn category(self) -> u8 {
        match self {
            DType::Bool => 0,
            DType::U8 | DType::I32 | DType::I64 => 1,
            DType::F32 | DType::F64 => 2,
        }
    }
}

/// torch.promote_types for the supported dtypes.
pub fn promote(a: DType, b: DType) -> DType {
    a.max(b)
}

/// A Rust element type a tensor can hold.
pub trait Element: Copy + Send + Sync + PartialOrd + Default + std::fmt::Debug + 'static {
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    fn to_i64(self) -> i64;
    fn from_i64(v: i64) -> Self;
    fn to_bool(self) -> bool;
    fn from_bool(v: bool) -> Self;
    fn zero() -> Self;
    fn one() -> Self;
}

macro_rules! impl_num_element {
    ($t:ty, $dt:expr) => {
        impl Element for $t {
            const DTYPE: DType = $dt;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_bool(self) -> bool {
                self != (0 as $t)
            }
            #[inline(always)]
            fn from_bool(v: bool) -> Self {
                (v as u8) as $t
            }
            #[inline(always)]
            fn zero() -> Self {
                0 as $t
            }
            #[inline(always)]
            fn one() -> Self {
                1 as $t
            }
        }
    };
}
impl_num_element!(f32, DType::F32);
impl_num_element!(f64, DType::F64);
impl_num_element!(i64, DType::I64);
impl_num_element!(i32, DType::I32);
impl_num_element!(u8, DType::U8);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    #[inline(always)]
    fn to_bool(self) -> bool {
        self
    }
    #[inline(always)]
    fn from_bool(v: bool) -> Self {
        v
    }
    fn zero() -> Self {
        false
    }
    fn one() -> Self {
        true
    }
}

/// Runs `$body` with `$T` bound to the Rust type of `$dt`.
#[macro_export]
macro_rules! dispatch {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            $crate::dtype::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::dtype::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::dtype::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::dtype::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::dtype::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::dtype::DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}

/// Like `dispatch!` for the two float dtypes; other dtypes run `$other`.
#[macro_export]
macro_rules! dispatch_float {
    ($dt:expr, $T:ident => $body:expr, _ => $other:expr) => {
        match $dt {
            $crate::dtype::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::dtype::DType::F64 => {
                type $T = f64;
                $body
            }
            _ => $other,
        }
    };
}

static DEFAULT_F64: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// torch.get_default_dtype(): float32 unless set to float64.
pub fn default_dtype() -> DType {
    if DEFAULT_F64.load(std::sync::atomic::Ordering::Relaxed) {
        DType::F64
    } else {
        DType::F32
    }
}

pub fn set_default_dtype(dt: DType) -> Result<()> {
    if !dt.is_float() {
        return Err(Error::type_(
            "only floating-point types are supported as the default type",
        ));
    }
    DEFAULT_F64.store(dt == DType::F64, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn promotion_order() {
        assert_eq!(promote(DType::U8, DType::I32), DType::I32);
        assert_eq!(promote(DType::I64, DType::F32), DType::F32);
        assert_eq!(promote(DType::Bool, DType::U8), DType::U8);
        assert_eq!(promote(DType::F64, DType::F32), DType::F64);
    }
}
