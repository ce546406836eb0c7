//! A small strict JSON reader/writer for safetensors headers (objects keep their key order).

use crate::error::{Error, Result};

/// A parsed JSON value; numbers keep their text so integers never round through f64.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

/// Nesting beyond this is refused: headers are flat, and deep input must not exhaust the stack.
const MAX_DEPTH: usize = 64;

fn err(msg: impl Into<String>) -> Error {
    Error::runtime(msg.into())
}

impl Json {
    /// The value as a non-negative integer that fits in u64.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().ok()
            }
            _ => None,
        }
    }
}

/// Parses a complete JSON document; duplicate object keys are an error.
pub fn parse(text: &str) -> Result<Json> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(err(format!("unexpected trailing data at byte {}", p.i)));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn expect(&mut self, lit: &str) -> Result<()> {
        if self.s.get(self.i..self.i + lit.len()) == Some(lit.as_bytes()) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(err(format!("invalid JSON at byte {}", self.i)))
        }
    }
    fn value(&mut self, depth: usize) -> Result<Json> {
        if depth > MAX_DEPTH {
            return Err(err("JSON nested too deeply"));
        }
        match self.peek() {
            None => Err(err("unexpected end of JSON")),
            Some(b'{') => {
                self.i += 1;
                let mut items: Vec<(String, Json)> = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(items));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.ws();
                    self.expect(":")?;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    if items.iter().any(|(x, _)| *x == k) {
                        return Err(err(format!("duplicate key '{k}'")));
                    }
                    items.push((k, v));
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(items));
                        }
                        _ => return Err(err(format!("invalid JSON at byte {}", self.i))),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err(err(format!("invalid JSON at byte {}", self.i))),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.expect("true").map(|_| Json::Bool(true)),
            Some(b'f') => self.expect("false").map(|_| Json::Bool(false)),
            Some(b'n') => self.expect("null").map(|_| Json::Null),
            Some(b'-' | b'0'..=b'9') => {
                let st = self.i;
                while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek() {
                    self.i += 1;
                }
                let t =
                    std::str::from_utf8(&self.s[st..self.i]).map_err(|_| err("invalid number"))?;
                if t.parse::<f64>().is_err() {
                    return Err(err(format!("invalid JSON number '{t}'")));
                }
                Ok(Json::Num(t.to_string()))
            }
            Some(_) => Err(err(format!("invalid JSON at byte {}", self.i))),
        }
    }
    fn hex4(&mut self) -> Result<u32> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| err("truncated \\u escape"))?;
        let h = std::str::from_utf8(h).map_err(|_| err("invalid \\u escape"))?;
        let v = u32::from_str_radix(h, 16).map_err(|_| err("invalid \\u escape"))?;
        self.i += 4;
        Ok(v)
    }
    fn string(&mut self) -> Result<String> {
        if self.peek() != Some(b'"') {
            return Err(err(format!("expected a JSON string at byte {}", self.i)));
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            let st = self.i;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(
                std::str::from_utf8(&self.s[st..self.i])
                    .map_err(|_| err("header is not valid UTF-8"))?,
            );
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = self.peek().ok_or_else(|| err("unexpected end of JSON"))?;
                    self.i += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut c = self.hex4()?;
                            if (0xD800..0xDC00).contains(&c) {
                                self.expect("\\u")?;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(err("invalid surrogate pair in JSON string"));
                                }
                                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            out.push(char::from_u32(c).ok_or_else(|| err("invalid \\u escape"))?);
                        }
                        _ => return Err(err("invalid escape in JSON string")),
                    }
                }
                _ => return Err(err("unterminated JSON string")),
            }
        }
    }
}

/// Appends `s` as a JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let v = parse(r#"{"a": [1, 2.5, "x\u00e9"], "b": {"c": null, "d": true}}"#).unwrap();
        match v {
            Json::Obj(items) => assert_eq!(items[0].0, "a"),
            _ => panic!(),
        }
        assert!(parse(r#"{"a": 1, "a": 2}"#).is_err());
        assert!(parse("{").is_err());
        assert!(parse("[1,]").is_err());
        assert!(parse(&"[".repeat(1000)).is_err());
        let mut s = String::new();
        write_str(&mut s, "q\"\\\n\u{1}");
        assert_eq!(parse(&s).unwrap(), Json::Str("q\"\\\n\u{1}".into()));
    }
}
