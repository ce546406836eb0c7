//! The safetensors format: 8-byte little-endian header length, a JSON header, then packed data.
//!
//! Reading validates everything before allocating: a tensor's bytes must lie inside the file,
//! entries must tile the data region exactly (no gaps, no overlaps), and shape × dtype size must
//! equal each entry's byte length, so a hostile file can never make us allocate more than its own
//! size or read out of bounds.

use super::json::{self, Json};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::ops::copy::clone_raw;
use crate::tensor::Tensor;

/// safetensors' own limit on the header size.
const MAX_HEADER: u64 = 100_000_000;

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::runtime(format!("invalid safetensors file: {msg}"))
}

/// The safetensors dtype code of a ferrotorch dtype.
pub fn dtype_code(dt: DType) -> &'static str {
    match dt {
        DType::Bool => "BOOL",
        DType::U8 => "U8",
        DType::I32 => "I32",
        DType::I64 => "I64",
        DType::F32 => "F32",
        DType::F64 => "F64",
    }
}

fn dtype_of(code: &str, name: &str) -> Result<DType> {
    Ok(match code {
        "BOOL" => DType::Bool,
        "U8" => DType::U8,
        "I32" => DType::I32,
        "I64" => DType::I64,
        "F32" => DType::F32,
        "F64" => DType::F64,
        "F16" | "BF16" | "I8" | "I16" | "U16" | "U32" | "U64" | "F8_E4M3" | "F8_E5M2" | "C64"
        | "F4" | "F6_E2M3" | "F6_E3M2" | "F8_E8M0" | "E8M0" | "F8_E4M3FNUZ" | "F8_E5M2FNUZ" => {
            return Err(Error::not_implemented(format!(
                "tensor '{name}' has safetensors dtype {code}, which ferrotorch does not support \
                 (supported: F32, F64, I64, I32, U8, BOOL)"
            )))
        }
        other => return Err(bad(format!("tensor '{name}' has unknown dtype '{other}'"))),
    })
}

/// One entry of the header, validated against the data region.
struct Entry {
    name: String,
    dtype: DType,
    shape: Vec<usize>,
    begin: usize,
    end: usize,
}

/// Parses a whole safetensors file held in memory: the tensors in header order and `__metadata__`.
pub fn load(bytes: &[u8]) -> Result<(Vec<(String, Tensor)>, Option<Vec<(String, String)>>)> {
    if bytes.len() < 8 {
        return Err(bad(format!(
            "the file is {} bytes long, too short for the 8-byte header length (truncated?)",
            bytes.len()
        )));
    }
    let mut n8 = [0u8; 8];
    n8.copy_from_slice(&bytes[..8]);
    let hlen = u64::from_le_bytes(n8);
    let avail = (bytes.len() - 8) as u64;
    if hlen > avail {
        return Err(bad(format!(
            "the header length {hlen} runs past the end of the file ({} bytes follow it; truncated?)",
            avail
        )));
    }
    if hlen > MAX_HEADER {
        return Err(bad(format!(
            "the header length {hlen} exceeds the limit of {MAX_HEADER} bytes"
        )));
    }
    let hlen = hlen as usize;
    let text = std::str::from_utf8(&bytes[8..8 + hlen])
        .map_err(|_| bad("the header is not valid UTF-8"))?;
    let header =
        json::parse(text).map_err(|e| bad(format!("the header is not valid JSON: {}", e.msg)))?;
    let Json::Obj(items) = header else {
        return Err(bad("the header is not a JSON object"));
    };
    let data = &bytes[8 + hlen..];
    let mut metadata = None;
    let mut entries = Vec::with_capacity(items.len());
    for (name, v) in items {
        if name == "__metadata__" {
            let Json::Obj(kv) = v else {
                return Err(bad("__metadata__ is not an object of strings"));
            };
            let mut m = Vec::with_capacity(kv.len());
            for (k, v) in kv {
                match v {
                    Json::Str(s) => m.push((k, s)),
                    _ => return Err(bad(format!("__metadata__ value of '{k}' is not a string"))),
                }
            }
            metadata = Some(m);
            continue;
        }
        entries.push(entry(name, v, data.len())?);
    }
    // Entries must tile the data region exactly: sorted by offset, each starts where the last ended.
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| (entries[i].begin, entries[i].end));
    let mut pos = 0usize;
    for &i in &order {
        let e = &entries[i];
        if e.begin != pos {
            return Err(bad(if e.begin < pos {
                format!(
                    "the data of tensor '{}' (bytes {}..{}) overlaps another tensor's",
                    e.name, e.begin, e.end
                )
            } else {
                format!(
                    "there is a gap of unused bytes before tensor '{}' (offset {}, expected {pos})",
                    e.name, e.begin
                )
            }));
        }
        pos = e.end;
    }
    if pos != data.len() {
        return Err(bad(format!(
            "the tensors cover {pos} bytes but the data region holds {} bytes",
            data.len()
        )));
    }
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let raw = &data[e.begin..e.end];
        let t = crate::dispatch!(e.dtype, T => from_bytes::<T>(raw, &e.shape, &e.name)?);
        out.push((e.name, t));
    }
    Ok((out, metadata))
}

fn entry(name: String, v: Json, data_len: usize) -> Result<Entry> {
    let Json::Obj(fields) = v else {
        return Err(bad(format!(
            "the header entry of '{name}' is not an object"
        )));
    };
    let (mut dtype, mut shape, mut offs) = (None, None, None);
    for (k, v) in fields {
        match k.as_str() {
            "dtype" => match v {
                Json::Str(s) => dtype = Some(s),
                _ => return Err(bad(format!("the dtype of '{name}' is not a string"))),
            },
            "shape" => shape = Some(v),
            "data_offsets" => offs = Some(v),
            other => {
                return Err(bad(format!(
                    "the header entry of '{name}' has an unknown field '{other}'"
                )))
            }
        }
    }
    let code = dtype.ok_or_else(|| bad(format!("tensor '{name}' has no dtype")))?;
    let dt = dtype_of(&code, &name)?;
    let Some(Json::Arr(dims)) = shape else {
        return Err(bad(format!("tensor '{name}' has no shape list")));
    };
    let mut shp = Vec::with_capacity(dims.len().min(64));
    if dims.len() > 64 {
        return Err(bad(format!(
            "tensor '{name}' has {} dimensions (at most 64)",
            dims.len()
        )));
    }
    let mut numel: usize = 1;
    for d in &dims {
        let d = d
            .as_u64()
            .and_then(|d| usize::try_from(d).ok())
            .ok_or_else(|| {
                bad(format!(
                    "tensor '{name}' has a shape entry that is not a non-negative integer"
                ))
            })?;
        numel = numel
            .checked_mul(d)
            .ok_or_else(|| bad(format!("the shape of tensor '{name}' overflows")))?;
        shp.push(d);
    }
    let Some(Json::Arr(o)) = offs else {
        return Err(bad(format!("tensor '{name}' has no data_offsets list")));
    };
    let ofs: Vec<usize> = o
        .iter()
        .map(|x| x.as_u64().and_then(|x| usize::try_from(x).ok()))
        .collect::<Option<Vec<_>>>()
        .filter(|v| v.len() == 2)
        .ok_or_else(|| {
            bad(format!(
                "the data_offsets of tensor '{name}' are not two non-negative integers"
            ))
        })?;
    let (begin, end) = (ofs[0], ofs[1]);
    if begin > end || end > data_len {
        return Err(bad(format!(
            "the data_offsets [{begin}, {end}] of tensor '{name}' are out of range (data region of {data_len} bytes)"
        )));
    }
    let nbytes = numel
        .checked_mul(dt.size())
        .ok_or_else(|| bad(format!("the size of tensor '{name}' overflows")))?;
    if nbytes != end - begin {
        return Err(bad(format!(
            "tensor '{name}' of shape {:?} and dtype {code} needs {nbytes} bytes but its data_offsets span {}",
            shp,
            end - begin
        )));
    }
    if begin % dt.size() != 0 {
        return Err(bad(format!(
            "the data of tensor '{name}' starts at byte {begin}, misaligned for {code} ({}-byte elements)",
            dt.size()
        )));
    }
    Ok(Entry {
        name,
        dtype: dt,
        shape: shp,
        begin,
        end,
    })
}

/// Copies little-endian bytes (length already checked) into a new tensor.
fn from_bytes<T: Element>(raw: &[u8], shape: &[usize], name: &str) -> Result<Tensor> {
    let n = raw.len() / std::mem::size_of::<T>();
    if T::DTYPE == DType::Bool {
        if let Some(b) = raw.iter().find(|&&b| b > 1) {
            return Err(bad(format!(
                "tensor '{name}' is BOOL but holds the byte {b} (only 0 and 1 are booleans)"
            )));
        }
    }
    let mut v: Vec<T> = Vec::with_capacity(n);
    // SAFETY: `raw` holds exactly n elements' bytes; every bit pattern is a valid T for the
    // numeric types and bool bytes were checked above. The host is little-endian like the format.
    unsafe {
        std::ptr::copy_nonoverlapping(raw.as_ptr(), v.as_mut_ptr() as *mut u8, raw.len());
        v.set_len(n);
    }
    Tensor::from_vec(v, shape)
}

/// Serialises named tensors (kept in order in the header) and string metadata.
///
/// The data is laid out largest element size first (stable), as the `safetensors` package does,
/// so every tensor starts aligned to its element size.
pub fn save(
    entries: &[(String, Tensor)],
    metadata: Option<&[(String, String)]>,
) -> Result<Vec<u8>> {
    for (i, (k, _)) in entries.iter().enumerate() {
        if k == "__metadata__" {
            return Err(Error::value(
                "a tensor cannot be named '__metadata__' in a safetensors file",
            ));
        }
        if entries[..i].iter().any(|(x, _)| x == k) {
            return Err(Error::value(format!("duplicate tensor name '{k}'")));
        }
    }
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(entries[i].1.dtype().size()));
    let mut offs = vec![(0usize, 0usize); entries.len()];
    let mut pos = 0usize;
    for &i in &order {
        let t = &entries[i].1;
        let nb = t
            .numel()
            .checked_mul(t.dtype().size())
            .ok_or_else(|| Error::runtime("tensor too large to save"))?;
        offs[i] = (pos, pos + nb);
        pos += nb;
    }
    let mut h = String::from("{");
    let mut first = true;
    if let Some(m) = metadata {
        h.push_str("\"__metadata__\":{");
        for (j, (k, v)) in m.iter().enumerate() {
            if j > 0 {
                h.push(',');
            }
            json::write_str(&mut h, k);
            h.push(':');
            json::write_str(&mut h, v);
        }
        h.push('}');
        first = false;
    }
    for (i, (k, t)) in entries.iter().enumerate() {
        if !first {
            h.push(',');
        }
        first = false;
        json::write_str(&mut h, k);
        let shape: Vec<String> = t.shape().iter().map(|d| d.to_string()).collect();
        h.push_str(&format!(
            ":{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            dtype_code(t.dtype()),
            shape.join(","),
            offs[i].0,
            offs[i].1
        ));
    }
    h.push('}');
    while h.len() % 8 != 0 {
        h.push(' ');
    }
    let mut out = Vec::with_capacity(8 + h.len() + pos);
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    for &i in &order {
        let t = &entries[i].1;
        let c = if t.is_contiguous() {
            t.clone()
        } else {
            clone_raw(t)
        };
        let nb = c.numel() * c.dtype().size();
        // SAFETY: a contiguous tensor's numel elements start at data_ptr inside its storage.
        let bytes = unsafe { std::slice::from_raw_parts(c.data_ptr_addr() as *const u8, nb) };
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_hostile() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).unwrap();
        let b = Tensor::from_vec(vec![7i64], &[]).unwrap();
        let c = Tensor::from_vec(vec![true, false], &[2, 1]).unwrap();
        let e = Tensor::from_vec(Vec::<f64>::new(), &[1, 0, 3]).unwrap();
        let ents = vec![
            ("a".to_string(), a),
            ("b".into(), b),
            ("c".into(), c),
            ("e".into(), e),
        ];
        let bytes = save(&ents, Some(&[("format".into(), "pt".into())])).unwrap();
        let (got, meta) = load(&bytes).unwrap();
        assert_eq!(meta.unwrap()[0].1, "pt");
        assert_eq!(
            got.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c", "e"]
        );
        assert_eq!(got[0].1.as_slice::<f32>(), &[1.0, 2.0, 3.0]);
        assert_eq!(got[1].1.shape(), &[] as &[usize]);
        assert_eq!(got[3].1.shape(), &[1, 0, 3]);
        for cut in [0, 5, 9, bytes.len() - 1] {
            assert!(load(&bytes[..cut]).is_err());
        }
        let mut huge = bytes.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(load(&huge).is_err());
    }
}
