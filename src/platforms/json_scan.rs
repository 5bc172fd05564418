//! A small pull reader over JSON text, for the connectors whose reports are large enough that
//! reading them through `serde_json`'s derived structs dominated `normalize` (Meta Insights
//! pages: about 940 bytes and 60 strings per ad-day).
//!
//! The caller walks the document: [`Cursor::next_key`] / [`Cursor::next_item`] iterate objects
//! and arrays, typed reads take the values it needs, and [`Cursor::skip_value`] passes over the
//! rest (still checked to be valid JSON). Strings without escapes are borrowed slices of the
//! input; only the strings that are read are checked to be UTF-8 (as `serde_json` does, skipped
//! strings and keys are not). Strict JSON (RFC 8259): no trailing commas, no comments, control
//! characters and bad escapes rejected, nesting limited to 128 levels. Errors carry the line and
//! column where reading stopped; nothing here panics on any input.

use std::borrow::Cow;

use super::common::JsonNum;
use super::{Location, ParseError};

/// Deepest nesting accepted (as `serde_json`).
const MAX_DEPTH: usize = 128;

pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

/// 1-based line and column of byte `pos`.
fn line_col(bytes: &[u8], pos: usize) -> (u64, u64) {
    let before = bytes.get(..pos).unwrap_or(bytes);
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, (before.len() - start) as u64 + 1)
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor {
            bytes,
            pos: 0,
            depth: 0,
        }
    }

    /// Byte offset of the next non-blank character.
    pub(crate) fn offset(&mut self) -> usize {
        self.ws();
        self.pos
    }

    /// Byte offset of the next unread character.
    pub(crate) fn here(&self) -> usize {
        self.pos
    }

    /// The input between two offsets.
    pub(crate) fn slice(&self, from: usize, to: usize) -> &'a [u8] {
        self.bytes.get(from..to).unwrap_or(&[])
    }

    /// The input between two offsets as text; an error at `from` when it is not UTF-8.
    fn text(&self, from: usize, to: usize) -> Result<&'a str, ParseError> {
        std::str::from_utf8(self.slice(from, to)).map_err(|e| {
            let at = Cursor {
                bytes: self.bytes,
                pos: from + e.valid_up_to(),
                depth: 0,
            };
            at.error("invalid unicode code point")
        })
    }

    /// An error at the current position.
    pub(crate) fn error(&self, msg: impl std::fmt::Display) -> ParseError {
        let (line, column) = line_col(self.bytes, self.pos);
        ParseError::new(
            Location::Line {
                line,
                column: Some(column),
            },
            None,
            format!("invalid JSON: {msg} at line {line} column {column}"),
        )
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next non-blank byte, not consumed.
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), ParseError> {
        if self.eat(b) {
            Ok(())
        } else if self.pos >= self.bytes.len() {
            Err(self.error("EOF while parsing a value"))
        } else {
            Err(self.error(format!("expected `{}`", b as char)))
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("recursion limit exceeded"));
        }
        Ok(())
    }

    /// Consumes `{`; `what` names the expected object in the error.
    pub(crate) fn begin_object(&mut self, what: &str) -> Result<(), ParseError> {
        if !self.eat(b'{') {
            return Err(self.error(format!("invalid type: expected {what}")));
        }
        self.enter()
    }

    /// Consumes `[`; `what` names the expected array in the error.
    pub(crate) fn begin_array(&mut self, what: &str) -> Result<(), ParseError> {
        if !self.eat(b'[') {
            return Err(self.error(format!("invalid type: expected {what}")));
        }
        self.enter()
    }

    /// The next member's key (its `:` consumed), or `None` at the object's `}`. `first` is
    /// true before the first member and set false here. Keys are compared as bytes, so they
    /// are unescaped but not checked to be UTF-8.
    pub(crate) fn next_key(
        &mut self,
        first: &mut bool,
    ) -> Result<Option<Cow<'a, [u8]>>, ParseError> {
        // The hot path of a page (dozens of keys per row): compact JSON is read without the
        // general `eat`/`expect` steps.
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(None);
            }
            Some(b',') if !*first => {
                self.pos += 1;
                self.ws();
            }
            _ if *first => {}
            _ => self.expect(b',')?,
        }
        *first = false;
        if self.bytes.get(self.pos) != Some(&b'"') {
            return Err(self.error("key must be a string"));
        }
        let key = self.raw_string()?;
        if self.bytes.get(self.pos) == Some(&b':') {
            self.pos += 1;
        } else {
            self.expect(b':')?;
        }
        Ok(Some(key))
    }

    /// Whether another array item follows (its `,` consumed); false at the array's `]`.
    pub(crate) fn next_item(&mut self, first: &mut bool) -> Result<bool, ParseError> {
        if self.eat(b']') {
            self.depth -= 1;
            return Ok(false);
        }
        if !*first {
            self.expect(b',')?;
        }
        *first = false;
        Ok(true)
    }

    /// After the document: only blanks may follow.
    pub(crate) fn end(&mut self) -> Result<(), ParseError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters")),
        }
    }

    /// `null`, consumed, or false when the next value is something else.
    pub(crate) fn null(&mut self) -> Result<bool, ParseError> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), ParseError> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(())
        } else if end > self.bytes.len() {
            Err(self.error("EOF while parsing a value"))
        } else {
            Err(self.error("expected value"))
        }
    }

    /// A string's bytes, unescaped but not checked to be UTF-8: for values that are only
    /// compared with known names (keys, action types).
    pub(crate) fn raw_string(&mut self) -> Result<Cow<'a, [u8]>, ParseError> {
        if self.peek() != Some(b'"') {
            return Err(self.error("invalid type: expected a string"));
        }
        let start = self.pos + 1;
        let stop = self.scan_plain_from(start);
        if self.bytes.get(stop) == Some(&b'"') {
            self.pos = stop + 1;
            return Ok(Cow::Borrowed(self.slice(start, stop)));
        }
        Ok(Cow::Owned(self.string()?.into_owned().into_bytes()))
    }

    /// A string value: borrowed when it has no escapes.
    pub(crate) fn string(&mut self) -> Result<Cow<'a, str>, ParseError> {
        if !self.eat(b'"') {
            return Err(self.error("invalid type: expected a string"));
        }
        let start = self.pos;
        let stop = self.scan_plain();
        if self.bytes.get(stop) == Some(&b'"') {
            let s = self.text(start, stop)?;
            self.pos = stop + 1;
            return Ok(Cow::Borrowed(s));
        }
        let mut out = String::from(self.text(start, stop)?);
        self.pos = stop;
        loop {
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.escape()?;
                    out.push(c);
                }
                _ => {
                    let from = self.pos;
                    let to = self.scan_plain();
                    if to == from {
                        return Err(self.string_stop());
                    }
                    out.push_str(self.text(from, to)?);
                    self.pos = to;
                }
            }
        }
    }

    /// End of the run of plain string bytes starting at `pos` (not `"`, `\` or a control
    /// character).
    fn scan_plain(&self) -> usize {
        self.scan_plain_from(self.pos)
    }

    /// [`Cursor::scan_plain`] from `i`, eight bytes at a time: in each 64-bit word a byte
    /// equal to `"` or `\`, or below 0x20, sets its top bit (the classic "has zero byte"
    /// trick; only bytes above the first hit can be flagged falsely, so the lowest flag is
    /// exact). Strings are mostly short, but keys, ids and names still span a word or two.
    fn scan_plain_from(&self, mut i: usize) -> usize {
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        while let Some(word) = self.bytes.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            let x = u64::from_le_bytes(w);
            let q = x ^ (LO * u64::from(b'"'));
            let b = x ^ (LO * u64::from(b'\\'));
            let hit = ((q.wrapping_sub(LO) & !q)
                | (b.wrapping_sub(LO) & !b)
                | (x.wrapping_sub(LO * 0x20) & !x))
                & HI;
            if hit != 0 {
                return i + (hit.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        let rest = self.bytes.get(i..).unwrap_or(&[]);
        i + rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .unwrap_or(rest.len())
    }

    /// The error for a string that stopped at a control character or the end of input.
    fn string_stop(&self) -> ParseError {
        if self.pos >= self.bytes.len() {
            self.error("EOF while parsing a string")
        } else {
            self.error("control character (\\u0000-\\u001F) found while parsing a string")
        }
    }

    /// One escape after its `\`.
    fn escape(&mut self) -> Result<char, ParseError> {
        let Some(&b) = self.bytes.get(self.pos) else {
            return Err(self.error("EOF while parsing a string"));
        };
        self.pos += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                if (0xD800..0xDC00).contains(&hi) {
                    if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return Err(self.error("lone leading surrogate in hex escape"));
                    }
                    self.pos += 2;
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(self.error("lone leading surrogate in hex escape"));
                    }
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    char::from_u32(c).ok_or_else(|| self.error("invalid unicode code point"))?
                } else {
                    char::from_u32(hi).ok_or_else(|| self.error("invalid unicode code point"))?
                }
            }
            _ => return Err(self.error("invalid escape")),
        })
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(self.error("EOF while parsing a string"));
            };
            let d = (b as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid escape"))?;
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }

    /// A string or `null`.
    pub(crate) fn opt_string(&mut self) -> Result<Option<Cow<'a, str>>, ParseError> {
        if self.null()? {
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// A number, a string (holding a number or an id) or `null`, as [`JsonNum`] reads them.
    pub(crate) fn num(&mut self) -> Result<JsonNum<'a>, ParseError> {
        match self.peek() {
            Some(b'"') => self.string().map(JsonNum::Str),
            Some(b'n') => self.literal(b"null").map(|_| JsonNum::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            None => Err(self.error("EOF while parsing a value")),
            Some(_) => {
                Err(self
                    .error("invalid type: expected a number, a string holding a number, or null"))
            }
        }
    }

    /// A JSON number: an integer that fits `i64` as `Int`, a larger non-negative one as its
    /// digits (ids, never rounded through a float), anything else as `Float`.
    fn number(&mut self) -> Result<JsonNum<'a>, ParseError> {
        let start = self.pos;
        let integer = self.number_token()?;
        let token = self.text(start, self.pos)?;
        if integer {
            if let Ok(v) = token.parse::<i64>() {
                return Ok(JsonNum::Int(v));
            }
            if token.parse::<u64>().is_ok() {
                return Ok(JsonNum::Str(Cow::Borrowed(token)));
            }
        }
        token
            .parse::<f64>()
            .map(JsonNum::Float)
            .map_err(|_| self.error("invalid number"))
    }

    /// Consumes a number's characters, checking its grammar; true when it has no fraction
    /// or exponent.
    fn number_token(&mut self) -> Result<bool, ParseError> {
        let digits = |c: &mut Self| -> usize {
            let from = c.pos;
            while let Some(b'0'..=b'9') = c.bytes.get(c.pos) {
                c.pos += 1;
            }
            c.pos - from
        };
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let lead = self.bytes.get(self.pos).copied();
        let n = digits(self);
        if n == 0 {
            return Err(self.error("invalid number"));
        }
        if lead == Some(b'0') && n > 1 {
            return Err(self.error("invalid number"));
        }
        let mut integer = true;
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            integer = false;
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            integer = false;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        Ok(integer)
    }

    /// Passes over one value of any kind, checking it is valid JSON.
    pub(crate) fn skip_value(&mut self) -> Result<(), ParseError> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{') => {
                self.begin_object("an object")?;
                let mut first = true;
                while self.skip_key(&mut first)? {
                    self.skip_value()?;
                }
                Ok(())
            }
            Some(b'[') => {
                self.begin_array("an array")?;
                let mut first = true;
                while self.next_item(&mut first)? {
                    self.skip_value()?;
                }
                Ok(())
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number_token().map(|_| ()),
            None => Err(self.error("EOF while parsing a value")),
            Some(_) => Err(self.error("expected value")),
        }
    }

    /// [`Cursor::next_key`] without building the key.
    fn skip_key(&mut self, first: &mut bool) -> Result<bool, ParseError> {
        if self.eat(b'}') {
            self.depth -= 1;
            return Ok(false);
        }
        if !*first {
            self.expect(b',')?;
        }
        *first = false;
        if self.peek() != Some(b'"') {
            return Err(self.error("key must be a string"));
        }
        self.skip_string()?;
        self.expect(b':')?;
        Ok(true)
    }

    fn skip_string(&mut self) -> Result<(), ParseError> {
        self.expect(b'"')?;
        loop {
            self.pos = self.scan_plain();
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape()?;
                }
                _ => return Err(self.string_stop()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads any document back into a `serde_json::Value` through the cursor.
    fn value(c: &mut Cursor) -> Result<serde_json::Value, ParseError> {
        use serde_json::Value;
        Ok(match c.peek() {
            Some(b'{') => {
                c.begin_object("an object")?;
                let mut m = serde_json::Map::new();
                let mut first = true;
                while let Some(k) = c.next_key(&mut first)? {
                    let v = value(c)?;
                    m.insert(String::from_utf8_lossy(&k).into_owned(), v);
                }
                Value::Object(m)
            }
            Some(b'[') => {
                c.begin_array("an array")?;
                let mut v = Vec::new();
                let mut first = true;
                while c.next_item(&mut first)? {
                    v.push(value(c)?);
                }
                Value::Array(v)
            }
            Some(b'"') => Value::String(c.string()?.into_owned()),
            Some(b't' | b'f') => {
                let start = c.offset();
                c.skip_value()?;
                Value::Bool(c.slice(start, c.pos) == b"true")
            }
            _ => match c.num()? {
                JsonNum::Null => Value::Null,
                JsonNum::Int(i) => Value::from(i),
                JsonNum::Float(f) => Value::from(f),
                JsonNum::Str(s) => Value::from(s.parse::<u64>().unwrap_or_default()),
            },
        })
    }

    fn read(text: &str) -> Result<serde_json::Value, ParseError> {
        let mut c = Cursor::new(text.as_bytes());
        let v = value(&mut c)?;
        c.end()?;
        Ok(v)
    }

    #[test]
    fn reads_what_serde_json_reads() {
        for text in [
            r#"{"a":[1,-2,3.5e2,"x\"y\\z\u00e9\ud83d\ude00",true,false,null,{}],"b":{"c":[]}}"#,
            " [ 0 , -0.0 , 18446744073709551615 , 1e-7 , \"\\n\\t\\/\" ] ",
            r#""é plain""#,
        ] {
            let want: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(read(text).unwrap(), want, "{text}");
            let mut c = Cursor::new(text.as_bytes());
            c.skip_value().unwrap();
            c.end().unwrap();
        }
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        for text in [
            r#"{"a":1,}"#,
            "[1,]",
            "[1 2]",
            "{\"a\" 1}",
            "{1:2}",
            "01",
            "1.",
            "-",
            "1e",
            "\"a\u{1}b\"",
            r#""\x""#,
            r#""\ud800""#,
            r#""\ud800\u0041""#,
            "\"abc",
            "[",
            "{\"a\":",
            "tru",
            "nul",
            "[] x",
            &"[".repeat(200),
        ] {
            assert!(
                serde_json::from_str::<serde_json::Value>(text).is_err(),
                "{text}"
            );
            let e = read(text).unwrap_err();
            assert!(matches!(e.location, Location::Line { .. }), "{text}: {e}");
            let mut c = Cursor::new(text.as_bytes());
            assert!(c.skip_value().and_then(|_| c.end()).is_err(), "{text}");
        }
    }

    #[test]
    fn plain_runs_end_at_the_first_delimiter() {
        let text = b"abcdefghij\"klmnopq\\rs\x01tuvwxyz\xc3\xa9\"";
        let c = Cursor::new(text);
        for i in 0..text.len() {
            let want = (i..text.len())
                .find(|&j| matches!(text[j], b'"' | b'\\' | 0..=0x1f))
                .unwrap_or(text.len());
            assert_eq!(c.scan_plain_from(i), want, "from {i}");
        }
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = read("{\n  \"a\": [1,\n  2,,\n]}").unwrap_err();
        assert_eq!(
            e.location,
            Location::Line {
                line: 3,
                column: Some(5)
            },
            "{e}"
        );
        // Invalid UTF-8 in a string that is read; strings that are skipped are not checked.
        let mut c = Cursor::new(b"{\"a\":\n\"x\xff\"}");
        let e = value(&mut c).unwrap_err();
        assert_eq!(
            e.location,
            Location::Line {
                line: 2,
                column: Some(3)
            },
            "{e}"
        );
        let mut c = Cursor::new(b"{\"a\":\n\"x\xff\"}");
        c.skip_value().unwrap();
    }
}
