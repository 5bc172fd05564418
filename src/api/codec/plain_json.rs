//! A direct reader for the creatives of a scoring body written the plain way: keys and strings
//! without escapes, integers where integers go, decimal numbers of at most 15 significant
//! digits, dates as `YYYY-MM-DD`. That is how clients write them, and reading it directly
//! takes a fraction of the general parser's time.
//!
//! It answers only where the general parse (serde_json into [`CreativeHistory`]) would give
//! the same values: anything else (an escape, an unknown, repeated or missing key, a number
//! out of its exact range, a syntax error) gives `None`, and the caller parses that creative
//! the general way, which accepts or refuses it with its own rules.
//!
//! [`CreativeHistory`]: crate::api::routes::fatigue::CreativeHistory

use crate::api::routes::fatigue::{HistoryDay, iso_date_bytes};

/// A creative's identifiers, borrowed from the body.
#[derive(Debug, PartialEq)]
pub(crate) struct PlainCreative<'a> {
    pub platform: &'a str,
    pub account_id: &'a str,
    pub ad_id: &'a str,
}

/// Reads `bytes`, one JSON object, as a creative; its days go into `days` (cleared first).
pub(crate) fn creative<'a>(
    bytes: &'a [u8],
    days: &mut Vec<HistoryDay>,
) -> Option<PlainCreative<'a>> {
    days.clear();
    let mut c = Cursor { b: bytes, i: 0 };
    let (mut platform, mut account_id, mut ad_id, mut history) = (None, None, None, false);
    c.eat(b'{')?;
    if c.peek()? != b'}' {
        loop {
            // Keys are compared as bytes: one that is not valid UTF-8 matches none.
            let key = c.raw_string()?;
            c.eat(b':')?;
            match key {
                b"platform" if platform.is_none() => platform = Some(c.string()?),
                b"account_id" if account_id.is_none() => account_id = Some(c.string()?),
                b"ad_id" if ad_id.is_none() => ad_id = Some(c.string()?),
                b"history" if !history => {
                    c.history(days)?;
                    history = true;
                }
                _ => return None,
            }
            if !c.next_member(b'}')? {
                break;
            }
        }
    } else {
        c.i += 1;
    }
    c.ws();
    if c.i != bytes.len() || !history {
        return None;
    }
    Some(PlainCreative {
        platform: platform?,
        account_id: account_id?,
        ad_id: ad_id?,
    })
}

/// Exact powers of ten: every one up to 10²² is a double.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    /// Skips JSON whitespace.
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace (not consumed).
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// After a member or element: true at `,` (another follows), false at `close`.
    fn next_member(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.i += 1;
                Some(true)
            }
            c if c == close => {
                self.i += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// The bytes of a string without escapes or control characters.
    fn raw_string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let rest = &self.b[self.i..];
        let end = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if rest[end] != b'"' {
            return None;
        }
        self.i += end + 1;
        Some(&rest[..end])
    }

    /// A string without escapes or control characters: its text.
    fn string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw_string()?).ok()
    }

    /// `null` (consumed) or not.
    fn null(&mut self) -> bool {
        self.ws();
        let is = self.b[self.i..].starts_with(b"null");
        if is {
            self.i += 4;
        }
        is
    }

    /// The digits of a JSON number: sign, significand digits as an integer (none past
    /// 2⁵³), the power of ten they are scaled by, and whether it was written as an integer.
    fn number_parts(&mut self) -> Option<(bool, u64, i32, bool)> {
        self.ws();
        let negative = self.b.get(self.i) == Some(&b'-');
        if negative {
            self.i += 1;
        }
        let mut sig: u64 = 0;
        let mut exp: i32 = 0;
        let digit = |sig: &mut u64, c: u8| -> Option<()> {
            *sig = sig.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            (*sig < 1 << 53).then_some(())
        };
        // Integer part: 0 or a digit 1–9 then digits.
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while let Some(&c @ b'0'..=b'9') = self.b.get(self.i) {
                    digit(&mut sig, c)?;
                    self.i += 1;
                }
            }
            _ => return None,
        }
        let mut integer = true;
        if self.b.get(self.i) == Some(&b'.') {
            integer = false;
            self.i += 1;
            let from = self.i;
            while let Some(&c @ b'0'..=b'9') = self.b.get(self.i) {
                digit(&mut sig, c)?;
                exp -= 1;
                self.i += 1;
            }
            if self.i == from {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            integer = false;
            self.i += 1;
            let minus = match self.b.get(self.i) {
                Some(b'-') => {
                    self.i += 1;
                    true
                }
                Some(b'+') => {
                    self.i += 1;
                    false
                }
                _ => false,
            };
            let from = self.i;
            let mut e: i32 = 0;
            while let Some(&c @ b'0'..=b'9') = self.b.get(self.i) {
                e = e.checked_mul(10)?.checked_add(i32::from(c - b'0'))?;
                self.i += 1;
            }
            if self.i == from {
                return None;
            }
            exp = exp.checked_add(if minus { -e } else { e })?;
        }
        Some((negative, sig, exp, integer))
    }

    /// An integer written as one (no fraction, no exponent).
    fn int(&mut self) -> Option<i64> {
        let (negative, sig, _, integer) = self.number_parts()?;
        if !integer {
            return None;
        }
        let v = sig as i64;
        Some(if negative { -v } else { v })
    }

    /// A number whose value is exact to compute: significand below 2⁵³ scaled by an exact
    /// power of ten, so one rounding gives the nearest double, as every correct parser does.
    fn number(&mut self) -> Option<f64> {
        let (negative, sig, exp, _) = self.number_parts()?;
        let pow = *POW10.get(exp.unsigned_abs() as usize)?;
        let v = if exp >= 0 {
            sig as f64 * pow
        } else {
            sig as f64 / pow
        };
        Some(if negative { -v } else { v })
    }

    /// `[` days `]`, each a [`HistoryDay`] object.
    fn history(&mut self, days: &mut Vec<HistoryDay>) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            days.push(self.day()?);
            if !self.next_member(b']')? {
                return Some(());
            }
        }
    }

    fn day(&mut self) -> Option<HistoryDay> {
        self.eat(b'{')?;
        let (mut date, mut impressions, mut clicks, mut spend) = (None, None, None, None);
        let (mut reach, mut conversions, mut value) = (None, None, None);
        let optional_int = |c: &mut Self| {
            if c.null() {
                Some(None)
            } else {
                c.int().map(Some)
            }
        };
        let optional_number = |c: &mut Self| {
            if c.null() {
                Some(None)
            } else {
                c.number().map(Some)
            }
        };
        if self.peek()? == b'}' {
            return None;
        }
        loop {
            let key = self.raw_string()?;
            self.eat(b':')?;
            match key {
                // ASCII digits and dashes only: no UTF-8 to check.
                b"date" if date.is_none() => date = Some(iso_date_bytes(self.raw_string()?)?),
                b"impressions" if impressions.is_none() => impressions = Some(self.int()?),
                b"clicks" if clicks.is_none() => clicks = Some(self.int()?),
                b"spend" if spend.is_none() => spend = Some(self.number()?),
                b"reach" if reach.is_none() => reach = Some(optional_int(self)?),
                b"conversions" if conversions.is_none() => {
                    conversions = Some(optional_number(self)?);
                }
                b"conversion_value" if value.is_none() => value = Some(optional_number(self)?),
                _ => return None,
            }
            if !self.next_member(b'}')? {
                break;
            }
        }
        Some(HistoryDay {
            date: date?,
            impressions: impressions?,
            clicks: clicks?,
            spend: spend?,
            reach: reach.flatten(),
            conversions: conversions.flatten(),
            conversion_value: value.flatten(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::routes::fatigue::CreativeHistory;

    /// What the general parse gives: the identifiers and days, or nothing on an error.
    fn general(text: &str) -> Option<(String, String, String, Vec<String>)> {
        let c: CreativeHistory = serde_json::from_str(text).ok()?;
        let days = c.history.iter().map(|d| format!("{d:?}")).collect();
        Some((c.platform, c.account_id, c.ad_id, days))
    }

    /// Where the direct reader answers, the general parse gives the same values (bit for bit:
    /// the days are compared through their debug form, which prints every double exactly
    /// enough to round-trip); `plain` says whether it must answer.
    fn same(text: &str, plain: bool) {
        let mut days = Vec::new();
        let got = creative(text.as_bytes(), &mut days);
        assert_eq!(got.is_some(), plain, "answered? {text}");
        if let Some(c) = got {
            let want = general(text).unwrap_or_else(|| panic!("general parse refuses {text}"));
            let days: Vec<String> = days.iter().map(|d| format!("{d:?}")).collect();
            let got = (
                c.platform.to_string(),
                c.account_id.to_string(),
                c.ad_id.to_string(),
                days,
            );
            assert_eq!(got, want, "{text}");
        }
    }

    fn with_day(day: &str) -> String {
        format!(r#"{{"platform":"meta","account_id":"9","ad_id":"a","history":[{day}]}}"#)
    }

    #[test]
    fn plain_creatives_read_like_the_general_parse() {
        same(
            r#"{"platform":"meta","account_id":"9000","ad_id":"load-1","history":[{"date":"2026-08-01","impressions":4000,"clicks":66,"spend":30.0,"conversions":2.0},{"date":"2026-08-02","impressions":3960,"clicks":64,"spend":31.25,"reach":1200,"conversions":null,"conversion_value":12.5}]}"#,
            true,
        );
        // Whitespace everywhere, keys in another order, an empty history.
        same(
            " {\n\t\"history\" : [ ] , \"ad_id\" : \"x y\" ,\r\n \"account_id\":\"ü\", \"platform\":\"tiktok\" } ",
            true,
        );
        for v in [
            "0",
            "-0",
            "7",
            "-7",
            "1.5",
            "0.1",
            "0.3",
            "2.675",
            "1e3",
            "1E-3",
            "1.25e+2",
            "123456789012345",
            "9007199254740991",
            "0.000001",
            "4.35",
            "99.99",
            "1e22",
            "1e-22",
            "-0.0",
            "5e-324",
        ] {
            let plain = v != "5e-324";
            same(
                &with_day(&format!(
                    r#"{{"date":"2026-01-02","impressions":1,"clicks":0,"spend":{v}}}"#
                )),
                plain,
            );
            same(
                &with_day(&format!(
                    r#"{{"date":"2026-01-02","impressions":1,"clicks":0,"spend":1,"conversions":{v},"conversion_value":{v}}}"#
                )),
                plain,
            );
        }
    }

    #[test]
    fn anything_else_is_left_to_the_general_parse() {
        let day = |s: &str| {
            with_day(&format!(
                r#"{{"date":"2026-01-02","impressions":1,"clicks":0,"spend":{s}}}"#
            ))
        };
        for text in [
            // Escapes in keys or strings.
            r#"{"platform":"meta","account_id":"9","ad_\u0069d":"a","history":[]}"#.to_string(),
            r#"{"platform":"meta","account_id":"9\"","ad_id":"a","history":[]}"#.to_string(),
            // Unknown, repeated or missing keys.
            r#"{"platform":"meta","account_id":"9","ad_id":"a","history":[],"x":1}"#.to_string(),
            r#"{"platform":"meta","platform":"meta","account_id":"9","ad_id":"a","history":[]}"#
                .to_string(),
            r#"{"platform":"meta","account_id":"9","history":[]}"#.to_string(),
            with_day(r#"{"date":"2026-01-02","impressions":1,"clicks":0}"#),
            with_day(
                r#"{"date":"2026-01-02","impressions":1,"impressions":1,"clicks":0,"spend":1}"#,
            ),
            with_day(r#"{"date":"2026-01-02","impressions":1,"clicks":0,"spend":1,"cpm":1}"#),
            with_day("{}"),
            // Numbers outside the exact range, or not numbers of the field's kind.
            day("1e23"),
            day("9007199254740993"),
            day("0.12345678901234567"),
            day("1e400"),
            day("01"),
            day("1."),
            day(".5"),
            day("+1"),
            day("-"),
            day("\"1\""),
            day("true"),
            day("null"),
            with_day(r#"{"date":"2026-01-02","impressions":1.0,"clicks":0,"spend":1}"#),
            with_day(r#"{"date":"2026-01-02","impressions":1e2,"clicks":0,"spend":1}"#),
            with_day(r#"{"date":"2026-01-02","impressions":1,"clicks":0,"spend":1,"reach":2.5}"#),
            // Dates in another form.
            with_day(r#"{"date":"2026-1-02","impressions":1,"clicks":0,"spend":1}"#),
            with_day(r#"{"date":"2026-02-30","impressions":1,"clicks":0,"spend":1}"#),
            // Syntax errors and trailing text.
            r#"{"platform":"meta","account_id":"9","ad_id":"a","history":[],}"#.to_string(),
            r#"{"platform":"meta","account_id":"9","ad_id":"a","history":[]} x"#.to_string(),
            r#"{"platform":"meta" "account_id":"9","ad_id":"a","history":[]}"#.to_string(),
            r#"{"platform":"meta","account_id":"9","ad_id":"a","history":[{}]"#.to_string(),
            "{\"platform\":\"me\tta\",\"account_id\":\"9\",\"ad_id\":\"a\",\"history\":[]}"
                .to_string(),
        ] {
            same(&text, false);
        }
    }

    /// Decimal numbers of every length up to 15 digits at every scale the reader takes equal
    /// the general parse's (a deterministic spread of significands).
    #[test]
    fn decimals_equal_the_general_parse_bit_for_bit() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = 1 + (x % 15) as u32;
            let sig = (x >> 8) % 10u64.pow(digits);
            let point = (x >> 40) as usize % (digits as usize + 1);
            let s = sig.to_string();
            let text = if point == 0 || point >= s.len() {
                s.clone()
            } else {
                format!("{}.{}", &s[..s.len() - point], &s[s.len() - point..])
            };
            let exp = ((x >> 50) % 15) as i32 - 7;
            let text = if exp == 0 {
                text
            } else {
                format!("{text}e{exp}")
            };
            let mut c = Cursor {
                b: text.as_bytes(),
                i: 0,
            };
            let got = c.number().expect(&text);
            let want: f64 = serde_json::from_str(&text).expect(&text);
            assert_eq!(got.to_bits(), want.to_bits(), "{text}");
            assert_eq!(
                got.to_bits(),
                text.parse::<f64>().expect(&text).to_bits(),
                "{text}"
            );
        }
    }
}
