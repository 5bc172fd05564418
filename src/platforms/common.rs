//! Parsing helpers shared by the connectors: numbers that arrive as JSON numbers or strings
//! (with `"-"`/`"--"` for missing, thousands separators, `%` suffixes), micros, money
//! validation, dates with or without time and offset, and CSV tables with preambles, footers
//! and a UTF-8 BOM. Located reads: [`JsonNum`]'s `*_at` methods and the [`CsvRow`] accessor
//! put every error at its line or JSON path and field; [`export_rows`] reads the UI exports
//! whose columns map one-to-one onto the unified row (LinkedIn, TikTok); [`scope_unless`]
//! asks for `--account-id` / `--currency` only when the file lacks the column.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike};
use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::{Location, NativeRow, ParseError, ParseOptions, Platform};
use crate::schema::AdDailyRow;

/// The first `max` bytes as text (lossy), without a UTF-8 BOM. For content sniffing.
pub fn text_head(bytes: &[u8], max: usize) -> String {
    let b = strip_bom(bytes);
    String::from_utf8_lossy(&b[..b.len().min(max)]).into_owned()
}

/// Bytes without a leading UTF-8 byte-order mark.
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// `s.trim()`, skipping the character-by-character check in the common case of a value that
/// starts and ends with a visible ASCII character (every number and id cell of a large report).
pub fn trim(s: &str) -> &str {
    let visible = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x80);
    let bytes = s.as_bytes();
    if visible(bytes.first()) && visible(bytes.last()) {
        s
    } else {
        s.trim()
    }
}

/// Whether a text cell means "no value": empty, `-`, `--`, `null`, `N/A`.
pub fn is_missing(s: &str) -> bool {
    matches!(
        trim(s),
        "" | "-" | "--" | "null" | "NULL" | "N/A" | "n/a" | "—"
    )
}

/// Whether a CSV export writes decimals with a comma (`"0,19"`, `"9,38%"`, `1.234,56`), as
/// exports in many locales do whatever their delimiter: some cell among the first thousand
/// records is a number with a comma followed by one, two or more than three digits (or a
/// percent), and no cell is a number with a decimal point. A comma followed by exactly three
/// digits (`1,234`) is a thousands separator either way and decides nothing.
pub fn sniff_decimal_comma(bytes: &[u8]) -> bool {
    fn numeric(cell: &str) -> Option<(&str, bool)> {
        let t = cell.trim().trim_start_matches(['-', '+']);
        let (t, pct) = match t.strip_suffix('%') {
            Some(x) => (x.trim_end(), true),
            None => (t, false),
        };
        (!t.is_empty()
            && t.bytes().next().is_some_and(|b| b.is_ascii_digit())
            && t.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b',' | b'.' | b' ')))
        .then_some((t, pct))
    }
    let head = &bytes[..bytes.len().min(1 << 20)];
    let (mut comma, mut point) = (0usize, 0usize);
    for delim in [b',', b';', b'\t'] {
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(delim)
            .has_headers(false)
            .flexible(true)
            .from_reader(head);
        // A record the delimiter does not split is not read with the right one.
        for rec in rdr.records().take(1000).flatten().filter(|r| r.len() > 1) {
            for cell in rec.iter() {
                let Some((t, pct)) = numeric(cell) else {
                    continue;
                };
                let frac = |sep: char| t.rsplit_once(sep).map(|(_, f)| f.len());
                match (frac(','), frac('.')) {
                    (Some(n), None) if n != 3 || pct => comma += 1,
                    (Some(_), Some(_)) if t.rfind(',') > t.rfind('.') => comma += 1,
                    (None, Some(n)) if n != 3 || pct => point += 1,
                    (Some(_), Some(_)) => point += 1,
                    _ => {}
                }
            }
        }
    }
    comma > 0 && point == 0
}

/// Parses a decimal number written by a platform or a spreadsheet export: optional quotes
/// already removed by the CSV reader, thousands separators (`1,234.5`, `1 234,5` when
/// `decimal_comma`), a trailing `%`, surrounding spaces. Returns `None` for a missing marker.
pub fn parse_decimal(s: &str, decimal_comma: bool) -> Result<Option<f64>, String> {
    let t = trim(s);
    if is_missing(t) {
        return Ok(None);
    }
    let t = trim(t.strip_suffix('%').unwrap_or(t));
    // Hot path (every metric cell of a million-row export): plain digits with `,` thousands
    // separators are read without building a cleaned copy. Same result as the general path:
    // the separators are dropped and at most 15 digits are exact in an f64.
    if let Some(v) = plain_count(t, decimal_comma) {
        return Ok(Some(v as f64));
    }
    let cleaned: Cow<'_, str> = if decimal_comma {
        Cow::Owned(
            t.chars()
                .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '.'))
                .map(|c| if c == ',' { '.' } else { c })
                .collect(),
        )
    } else if t.contains(',') || t.contains(' ') {
        Cow::Owned(t.chars().filter(|c| !matches!(c, ',' | ' ')).collect())
    } else {
        Cow::Borrowed(t)
    };
    match cleaned.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        Ok(_) => Err(format!("not a finite number: {s:?}")),
        Err(_) => Err(format!("expected a number, got {s:?}")),
    }
}

/// A non-negative whole count (impressions, clicks, reach...). Accepts `"1,234"` and `"12.0"`;
/// rejects fractions and negatives. `None` for a missing marker.
pub fn parse_count(s: &str, decimal_comma: bool) -> Result<Option<i64>, String> {
    if let Some(v) = plain_count(trim(s), decimal_comma) {
        return Ok(Some(v));
    }
    match parse_decimal(s, decimal_comma)? {
        None => Ok(None),
        Some(v) => count_from_f64(v).map(Some),
    }
}

/// `t` (already trimmed) as a whole number when it is only ASCII digits, with `,` thousands
/// separators unless `decimal_comma`; at most 15 digits so the value is exactly what parsing
/// through an f64 would give. `None` sends the caller down the general path.
fn plain_count(t: &str, decimal_comma: bool) -> Option<i64> {
    let mut v: i64 = 0;
    let mut digits = 0u32;
    for &b in t.as_bytes() {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if digits > 15 {
                    return None;
                }
                v = v * 10 + i64::from(b - b'0');
            }
            b',' if !decimal_comma => {}
            _ => return None,
        }
    }
    (digits > 0).then_some(v)
}

pub fn count_from_f64(v: f64) -> Result<i64, String> {
    if v < 0.0 {
        Err(format!("count is negative: {v}"))
    } else if v.fract() != 0.0 {
        Err(format!("count is not a whole number: {v}"))
    } else if v > 9.0e15 {
        Err(format!("count is implausibly large: {v}"))
    } else {
        Ok(v as i64)
    }
}

/// Money in currency units must be finite and non-negative.
pub fn check_money(v: f64) -> Result<f64, String> {
    if !v.is_finite() {
        Err(format!("amount is not a finite number: {v}"))
    } else if v < 0.0 {
        Err(format!("amount is negative: {v}"))
    } else {
        Ok(v)
    }
}

/// Micros (millionths of a currency unit) to units.
pub fn micros_to_units(micros: f64) -> f64 {
    micros / 1_000_000.0
}

/// Attaches a location and field to a message from the helpers above.
pub fn at<T>(
    r: Result<T, String>,
    loc: impl FnOnce() -> Location,
    field: &str,
) -> Result<T, ParseError> {
    r.map_err(|m| ParseError::new(loc(), Some(field), m))
}

/// A JSON scalar that platforms send as a number, a string holding a number, `"-"`, or null.
/// Borrowed from the input where possible so large reports parse without copying.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum JsonNum<'a> {
    #[default]
    Null,
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
}

impl<'a> JsonNum<'a> {
    /// [`JsonNum::to_f64`] with the error placed at `loc` and `field`.
    pub fn f64_at(
        &self,
        loc: impl FnOnce() -> Location,
        field: &str,
    ) -> Result<Option<f64>, ParseError> {
        at(self.to_f64(), loc, field)
    }

    /// [`JsonNum::to_count`] with the error placed at `loc` and `field`.
    pub fn count_at(
        &self,
        loc: impl FnOnce() -> Location,
        field: &str,
    ) -> Result<Option<i64>, ParseError> {
        at(self.to_count(), loc, field)
    }

    /// [`JsonNum::to_money`] with the error placed at `loc` and `field`.
    pub fn money_at(
        &self,
        loc: impl FnOnce() -> Location,
        field: &str,
    ) -> Result<Option<f64>, ParseError> {
        at(self.to_money(), loc, field)
    }

    /// [`JsonNum::micros_to_money`] with the error placed at `loc` and `field`.
    pub fn micros_money_at(
        &self,
        loc: impl FnOnce() -> Location,
        field: &str,
    ) -> Result<Option<f64>, ParseError> {
        at(self.micros_to_money(), loc, field)
    }

    /// As a float; `None` for null or a missing marker.
    pub fn to_f64(&self) -> Result<Option<f64>, String> {
        match self {
            JsonNum::Null => Ok(None),
            JsonNum::Int(i) => Ok(Some(*i as f64)),
            JsonNum::Float(f) if f.is_finite() => Ok(Some(*f)),
            JsonNum::Float(f) => Err(format!("not a finite number: {f}")),
            JsonNum::Str(s) => parse_decimal(s, false),
        }
    }

    /// As a non-negative whole count; `None` for null or a missing marker.
    pub fn to_count(&self) -> Result<Option<i64>, String> {
        match self {
            JsonNum::Int(i) if *i >= 0 => Ok(Some(*i)),
            JsonNum::Int(i) => Err(format!("count is negative: {i}")),
            // Meta sends every count as a string of digits: skip the float round trip.
            JsonNum::Str(s) => match plain_count(trim(s), false) {
                Some(v) => Ok(Some(v)),
                None => match parse_decimal(s, false)? {
                    None => Ok(None),
                    Some(v) => count_from_f64(v).map(Some),
                },
            },
            other => match other.to_f64()? {
                None => Ok(None),
                Some(v) => count_from_f64(v).map(Some),
            },
        }
    }

    /// As non-negative money in currency units; `None` for null or a missing marker.
    pub fn to_money(&self) -> Result<Option<f64>, String> {
        self.to_f64()?.map(check_money).transpose()
    }

    /// Micros as non-negative money in currency units.
    pub fn micros_to_money(&self) -> Result<Option<f64>, String> {
        self.to_money().map(|o| o.map(micros_to_units))
    }

    /// As an id string (ids arrive as numbers or strings; never via floats).
    pub fn to_id(&self) -> Option<String> {
        self.id_str().map(Cow::into_owned)
    }

    /// [`JsonNum::to_id`] borrowing the text when the id arrived as a string.
    pub fn id_str(&self) -> Option<Cow<'_, str>> {
        match self {
            JsonNum::Null => None,
            JsonNum::Int(i) => Some(Cow::Owned(i.to_string())),
            JsonNum::Float(f) => Some(Cow::Owned(format!("{f}"))),
            JsonNum::Str(s) if trim(s).is_empty() => None,
            JsonNum::Str(s) => Some(Cow::Borrowed(trim(s))),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for JsonNum<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = JsonNum<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, a string holding a number, or null")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(JsonNum::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                // Beyond i64 keep the digits (ids), never round through a float.
                Ok(i64::try_from(v)
                    .map(JsonNum::Int)
                    .unwrap_or_else(|_| JsonNum::Str(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(JsonNum::Float(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JsonNum::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JsonNum::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(JsonNum::Str(Cow::Owned(v)))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(JsonNum::Null)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(JsonNum::Null)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Parses a report day. Accepts `YYYY-MM-DD`, `YYYY/MM/DD`, `MM/DD/YYYY`, `YYYY-MM-DD HH:MM:SS`,
/// English UI dates (`Sep 1, 2026`, `September 1, 2026`, `Mon, Sep 1, 2026`) and RFC 3339
/// timestamps with an offset. For a timestamp the day is the **local** day in the offset it is
/// written in (platforms write day boundaries in the account's time zone); a bucket that starts
/// late in the evening (local hour ≥ 12, seen when the requested zone differs from the
/// account's) is taken as the following day, the one it mostly covers.
pub fn parse_day(s: &str) -> Result<NaiveDate, String> {
    let t = s.trim();
    // Report days have 4-digit years; chrono would otherwise accept signed or 5+ digit years.
    let lead = t.bytes().take_while(u8::is_ascii_digit).count();
    if t.starts_with(['+', '-']) || lead > 4 {
        return Err(format!("not a date: {s:?}"));
    }
    for fmt in ["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, fmt) {
            return Ok(d);
        }
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return local_day(dt).ok_or_else(|| format!("date out of range: {s:?}"));
        }
    }
    let with_offset = DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"));
    if let Ok(dt) = with_offset {
        return local_day(dt.naive_local()).ok_or_else(|| format!("date out of range: {s:?}"));
    }
    let no_weekday = match t.split_once(", ") {
        Some((w, rest)) if w.len() <= 9 && w.chars().all(|c| c.is_ascii_alphabetic()) => rest,
        _ => t,
    };
    for fmt in ["%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(no_weekday, fmt) {
            return Ok(d);
        }
    }
    Err(format!("not a date: {s:?}"))
}

fn local_day(dt: NaiveDateTime) -> Option<NaiveDate> {
    if dt.hour() >= 12 {
        dt.date().succ_opt()
    } else {
        Some(dt.date())
    }
}

/// A report day: plain `YYYY-MM-DD` (what these reports send) is read directly, being the
/// hot path of million-row files; anything else goes through [`parse_day`].
pub(crate) fn day(s: &str) -> Result<NaiveDate, String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as u32;
        }
        Some(v)
    };
    if b.len() == 10
        && b.get(4) == Some(&b'-')
        && b.get(7) == Some(&b'-')
        && let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10))
    {
        return NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(|| format!("not a date: {s:?}"));
    }
    parse_day(s)
}

/// Conversions may be fractional but never negative.
pub(crate) fn nonneg(v: f64) -> Result<f64, String> {
    if v < 0.0 {
        Err(format!("value is negative: {v}"))
    } else {
        Ok(v)
    }
}

/// Joins the present segment values with `|`; `None` when there are none.
pub(crate) fn join_segment<'s>(parts: impl IntoIterator<Item = Option<&'s str>>) -> Option<String> {
    let mut s = String::new();
    for p in parts.into_iter().flatten() {
        if !s.is_empty() {
            s.push('|');
        }
        s.push_str(p);
    }
    (!s.is_empty()).then_some(s)
}

/// A CSV report: header row located after any preamble, records with their 1-based line
/// numbers. Handles a UTF-8 BOM and `,`, `;` or tab delimiters (chosen from the header line).
///
/// Records are stored compactly (a million-row export held as one `StringRecord` per row
/// cost ~3× the file): the cells of every record are concatenated into one `String` and each
/// record keeps only its line, where its text starts, and its cells' end offsets (relative to
/// that start, as `u32`) in one shared vector.
pub struct CsvTable {
    pub headers: Vec<String>,
    /// 1-based line of the header row.
    pub header_line: u64,
    pub delimiter: u8,
    /// The unescaped text of every cell of every record, back to back.
    text: String,
    /// End offset of each cell, relative to its record's `text_start`.
    cell_ends: Vec<u32>,
    records: Vec<RecordMeta>,
}

/// Where one record lives in a [`CsvTable`]'s shared buffers.
struct RecordMeta {
    line: u64,
    /// Offset of the record's first cell in `CsvTable::text`.
    text_start: usize,
    /// Index of the record's first cell in `CsvTable::cell_ends`.
    first_cell: usize,
}

impl CsvTable {
    /// Reads `bytes` as CSV. The header row is the first line for which `is_header` returns
    /// true (given the line's cells); lines above it are preamble (title, date range).
    /// Records for which `is_footer` returns true, and every record after the first such one,
    /// are dropped (totals, copyright lines). Short rows are an error with their line.
    pub fn read(
        bytes: &[u8],
        is_header: impl Fn(&[String]) -> bool,
        is_footer: impl Fn(&csv::StringRecord) -> bool,
    ) -> Result<CsvTable, ParseError> {
        let mut table = Self::scan(bytes, is_header, is_footer, |_, _| {})?;
        table.text.shrink_to_fit();
        table.cell_ends.shrink_to_fit();
        table.records.shrink_to_fit();
        Ok(table)
    }

    /// Like [`CsvTable::read`], but without keeping the records: `setup` gets the table once
    /// its header is read (to find columns), then `each` gets every record in turn, so a
    /// million-row export never sits in memory as records next to the rows made from them.
    /// Errors take the same precedence as `read` then a loop over [`CsvTable::rows`]: a
    /// malformed or short record anywhere, then `setup`'s error, then the first record `each`
    /// rejects (after which `each` is not called again).
    pub fn stream<S>(
        bytes: &[u8],
        is_header: impl Fn(&[String]) -> bool,
        is_footer: impl Fn(&csv::StringRecord) -> bool,
        decimal_comma: bool,
        setup: impl FnOnce(&CsvTable) -> Result<S, ParseError>,
        mut each: impl FnMut(&mut S, CsvRow<'_>) -> Result<(), ParseError>,
    ) -> Result<S, ParseError> {
        let mut setup = Some(setup);
        let mut state: Option<Result<S, ParseError>> = None;
        Self::scan(bytes, is_header, is_footer, |t, header| {
            if header {
                if let Some(f) = setup.take() {
                    state = Some(f(t));
                }
                return;
            }
            if let Some(Ok(s)) = &mut state
                && let Some(row) = t.rows(decimal_comma).next()
                && let Err(e) = each(s, row)
            {
                state = Some(Err(e));
            }
            t.text.clear();
            t.cell_ends.clear();
            t.records.clear();
        })?;
        state.unwrap_or_else(|| Err(ParseError::file("no header row found")))
    }

    /// Reads the header, then every record into the compact store; `event(table, true)` is
    /// called once after the header, `event(table, false)` after each record is stored.
    fn scan(
        bytes: &[u8],
        is_header: impl Fn(&[String]) -> bool,
        is_footer: impl Fn(&csv::StringRecord) -> bool,
        mut event: impl FnMut(&mut CsvTable, bool),
    ) -> Result<CsvTable, ParseError> {
        let bytes = lf_only(strip_bom(bytes));
        let bytes: &[u8] = &bytes;
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64
                + 1;
            ParseError::new(
                Location::Line { line, column: None },
                None,
                "file is not valid UTF-8 text",
            )
        })?;
        // Find the header line among the first 50 lines by trying each delimiter.
        let mut found: Option<(u64, u8, usize)> = None; // (line, delimiter, byte offset)
        let mut offset = 0usize;
        for (i, line) in text.split_inclusive('\n').take(50).enumerate() {
            for delim in [b',', b';', b'\t'] {
                let cells = split_line(line, delim);
                if cells.len() >= 2 && is_header(&cells) {
                    found = Some((i as u64 + 1, delim, offset));
                    break;
                }
            }
            if found.is_some() {
                break;
            }
            offset += line.len();
        }
        let (header_line, delimiter, start) = found.ok_or_else(|| {
            ParseError::file("no header row found in the first 50 lines (wrong platform or not a report export?)")
        })?;
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(true)
            .from_reader(&text.as_bytes()[start..]);
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| {
                ParseError::new(
                    Location::Line {
                        line: header_line,
                        column: None,
                    },
                    None,
                    format!("unreadable header row: {e}"),
                )
            })?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        // A record is on average a little longer than its cells; the file size bounds the text.
        let mut table = CsvTable {
            headers,
            header_line,
            delimiter,
            text: String::with_capacity(text.len().saturating_sub(start)),
            cell_ends: Vec::new(),
            records: Vec::new(),
        };
        let headers_len = table.headers.len();
        event(&mut table, true);
        let mut rec = csv::StringRecord::new();
        loop {
            let more = rdr.read_record(&mut rec).map_err(|e| {
                let line = e
                    .position()
                    .map(|p| p.line() + header_line - 1)
                    .unwrap_or(header_line);
                ParseError::new(
                    Location::Line { line, column: None },
                    None,
                    format!("malformed CSV: {e}"),
                )
            })?;
            if !more {
                break;
            }
            let line = rec
                .position()
                .map(|p| p.line() + header_line - 1)
                .unwrap_or(0);
            if rec.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            if is_footer(&rec) {
                break;
            }
            if rec.len() < headers_len {
                return Err(ParseError::new(
                    Location::Line { line, column: None },
                    None,
                    format!(
                        "row has {} cells, the header has {} (truncated file?)",
                        rec.len(),
                        headers_len
                    ),
                ));
            }
            table.push(line, &rec)?;
            event(&mut table, false);
        }
        Ok(table)
    }

    /// Appends one record to the compact store.
    fn push(&mut self, line: u64, rec: &csv::StringRecord) -> Result<(), ParseError> {
        let text_start = self.text.len();
        let first_cell = self.cell_ends.len();
        if self.records.is_empty() {
            // Most exports have one record per line: size the per-cell index once.
            self.cell_ends.reserve(rec.len() * 1024);
        }
        for cell in rec.iter() {
            self.text.push_str(cell);
            let end = u32::try_from(self.text.len() - text_start).map_err(|_| {
                ParseError::new(
                    Location::Line { line, column: None },
                    None,
                    "record is longer than 4 GiB",
                )
            })?;
            self.cell_ends.push(end);
        }
        self.records.push(RecordMeta {
            line,
            text_start,
            first_cell,
        });
        Ok(())
    }

    /// Number of records (header, preamble, blank lines and footers excluded).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the table has no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Index of the first header equal to one of `names` (case-insensitive, trimmed).
    pub fn col(&self, names: &[&str]) -> Option<usize> {
        names
            .iter()
            .find_map(|n| self.headers.iter().position(|h| h.eq_ignore_ascii_case(n)))
    }

    /// Like [`CsvTable::col`] but an error naming the missing column when absent.
    pub fn require(&self, names: &[&str]) -> Result<usize, ParseError> {
        self.col(names).ok_or_else(|| {
            ParseError::new(
                Location::Line {
                    line: self.header_line,
                    column: None,
                },
                Some(names[0]),
                format!(
                    "required column missing (have: {})",
                    self.headers.join(", ")
                ),
            )
        })
    }

    /// The header text of column `c` (`?` if out of range), used as the field in errors.
    pub fn header(&self, c: usize) -> &str {
        self.headers.get(c).map(String::as_str).unwrap_or("?")
    }

    /// The records as typed accessors. `decimal_comma` says whether numbers use `,` as the
    /// decimal separator (the `;`-delimited exports of European locales); it is the caller's
    /// choice because some platforms never localise numbers whatever the delimiter.
    pub fn rows(&self, decimal_comma: bool) -> impl Iterator<Item = CsvRow<'_>> {
        self.records.iter().enumerate().map(move |(i, m)| {
            let end_cell = self
                .records
                .get(i + 1)
                .map_or(self.cell_ends.len(), |next| next.first_cell);
            let end_text = self
                .records
                .get(i + 1)
                .map_or(self.text.len(), |next| next.text_start);
            CsvRow {
                table: self,
                line: m.line,
                text: self.text.get(m.text_start..end_text).unwrap_or(""),
                ends: self.cell_ends.get(m.first_cell..end_cell).unwrap_or(&[]),
                decimal_comma,
            }
        })
    }
}

/// One CSV record with its line, read through the column indices found by [`CsvTable::col`].
/// Every cell is trimmed; every error carries the record's line and a field name (the
/// column's header unless the caller names it), so connectors stop repeating the same closures.
#[derive(Clone, Copy)]
pub struct CsvRow<'a> {
    table: &'a CsvTable,
    /// 1-based line of the record.
    pub line: u64,
    /// The record's cells, back to back.
    text: &'a str,
    /// End of each cell in `text`.
    ends: &'a [u32],
    decimal_comma: bool,
}

impl<'a> CsvRow<'a> {
    /// The record's location for errors.
    pub fn loc(&self) -> Location {
        Location::Line {
            line: self.line,
            column: None,
        }
    }

    /// The trimmed cell of column `c`; empty when the record is short.
    pub fn cell(&self, c: usize) -> &'a str {
        let Some(&end) = self.ends.get(c) else {
            return "";
        };
        let start = match c.checked_sub(1) {
            Some(p) => self.ends.get(p).copied().unwrap_or(0),
            None => 0,
        };
        trim(self.text.get(start as usize..end as usize).unwrap_or(""))
    }

    /// The cell as text, `None` when the column is absent or the cell is a missing marker.
    pub fn text(&self, c: Option<usize>) -> Option<String> {
        self.text_ref(c).map(str::to_string)
    }

    /// [`CsvRow::text`] borrowed from the record.
    pub fn text_ref(&self, c: Option<usize>) -> Option<&'a str> {
        c.map(|c| self.cell(c)).filter(|s| !is_missing(s))
    }

    /// The header of column `c`.
    pub fn header(&self, c: usize) -> &'a str {
        self.table.header(c)
    }

    /// An error at this record for `field`.
    pub fn error(&self, field: &str, msg: impl Into<String>) -> ParseError {
        ParseError::new(self.loc(), Some(field), msg)
    }

    /// Attaches this record's location and `field` to a helper's message.
    pub fn at<T>(&self, r: Result<T, String>, field: &str) -> Result<T, ParseError> {
        at(r, || self.loc(), field)
    }

    /// The cell of column `c` as a count; errors name `field`.
    pub fn count_as(&self, c: usize, field: &str) -> Result<Option<i64>, ParseError> {
        self.at(parse_count(self.cell(c), self.decimal_comma), field)
    }

    /// The cell of column `c` as a decimal passed through `check`; errors name `field`.
    pub fn decimal_as(
        &self,
        c: usize,
        field: &str,
        check: impl Fn(f64) -> Result<f64, String>,
    ) -> Result<Option<f64>, ParseError> {
        self.at(
            parse_decimal(self.cell(c), self.decimal_comma).and_then(|v| v.map(check).transpose()),
            field,
        )
    }

    /// The cell of column `c` as money (finite, non-negative); errors name `field`.
    pub fn money_as(&self, c: usize, field: &str) -> Result<Option<f64>, ParseError> {
        self.decimal_as(c, field, check_money)
    }

    /// A count from an optional column; `None` when the column is absent. Errors name the header.
    pub fn count(&self, c: Option<usize>) -> Result<Option<i64>, ParseError> {
        match c {
            Some(c) => self.count_as(c, self.header(c)),
            None => Ok(None),
        }
    }

    /// Money from an optional column; `None` when the column is absent. Errors name the header.
    pub fn money(&self, c: Option<usize>) -> Result<Option<f64>, ParseError> {
        match c {
            Some(c) => self.money_as(c, self.header(c)),
            None => Ok(None),
        }
    }
}

/// A scope value (`--account-id`, `--currency`) needed only when the file lacks the column
/// `col` that carries it: `None` when the column is there, else what `require` gives.
pub fn scope_unless<T>(
    col: Option<usize>,
    require: impl FnOnce() -> Result<T, ParseError>,
) -> Result<Option<T>, ParseError> {
    match col {
        Some(_) => Ok(None),
        None => require().map(Some),
    }
}

/// The columns of a UI export whose cells map one-to-one onto [`AdDailyRow`] fields, each as
/// alternative header names (first found wins). Used by the LinkedIn and TikTok exports,
/// which differ only in these names.
pub struct ExportColumns<'n> {
    /// The day column, required.
    pub date: &'n [&'n str],
    /// Field named in a bad-date error; `None` names the header as found.
    pub date_field: Option<&'n str>,
    /// The ad id column, required (names are not unique).
    pub ad: &'n [&'n str],
    /// Required.
    pub impressions: &'n [&'n str],
    pub clicks: &'n [&'n str],
    pub spend: &'n [&'n str],
    pub reach: &'n [&'n str],
    pub conversions: &'n [&'n str],
    pub conversion_value: &'n [&'n str],
    pub video_views: &'n [&'n str],
    /// Without this column the currency comes from `--currency`.
    pub currency: &'n [&'n str],
    pub campaign_id: &'n [&'n str],
    pub ad_group_id: &'n [&'n str],
    pub campaign_name: &'n [&'n str],
    pub ad_group_name: &'n [&'n str],
    pub ad_name: &'n [&'n str],
}

/// Reads the records of `table` through `cols` into rows of `platform` for the account in
/// `opts` (these exports carry none). A `;`-delimited file is read with decimal commas; an
/// empty clicks cell is 0, other absent metrics stay unknown.
pub fn export_rows(
    table: &CsvTable,
    platform: Platform,
    cols: &ExportColumns,
    opts: &ParseOptions,
) -> Result<Vec<NativeRow>, ParseError> {
    let account = opts.require_account_id(platform)?;
    let currency_c = table.col(cols.currency);
    let date_c = table.require(cols.date)?;
    let ad_c = table.require(cols.ad)?;
    let impr_c = table.require(cols.impressions)?;
    let [clicks_c, spend_c, reach_c, conv_c, value_c, video_c] = [
        cols.clicks,
        cols.spend,
        cols.reach,
        cols.conversions,
        cols.conversion_value,
        cols.video_views,
    ]
    .map(|n| table.col(n));
    let names = [
        cols.campaign_id,
        cols.ad_group_id,
        cols.campaign_name,
        cols.ad_group_name,
        cols.ad_name,
    ]
    .map(|n| table.col(n));
    let fallback_currency = scope_unless(currency_c, || opts.require_currency(platform))?;
    let mut out = Vec::with_capacity(table.len());
    for r in table.rows(table.delimiter == b';') {
        let ad_id = r
            .text(Some(ad_c))
            .ok_or_else(|| r.error(r.header(ad_c), "missing"))?;
        let date_field = cols.date_field.unwrap_or_else(|| r.header(date_c));
        let date = r.at(parse_day(r.cell(date_c)), date_field)?;
        let mut row = AdDailyRow::new(platform, account.clone(), ad_id, date);
        row.impressions = r
            .count(Some(impr_c))?
            .ok_or_else(|| r.error("Impressions", "missing"))?;
        row.clicks = r.count(clicks_c)?.unwrap_or(0);
        row.spend = r.money(spend_c)?;
        row.reach = r.count(reach_c)?;
        row.conversions = r.money(conv_c)?;
        row.conversion_value = r.money(value_c)?;
        row.video_views = r.count(video_c)?;
        row.campaign_id = r.text(names[0]);
        row.ad_group_id = r.text(names[1]);
        row.campaign_name = r.text(names[2]);
        row.ad_group_name = r.text(names[3]);
        row.ad_name = r.text(names[4]);
        row.currency = match &fallback_currency {
            Some(c) => Some(c.clone()),
            None => Some(
                r.text(currency_c)
                    .ok_or_else(|| r.error("Currency", "missing"))?,
            ),
        };
        out.push(NativeRow::from(row));
    }
    Ok(out)
}

/// The bytes with CRLF line ends turned into LF. `csv` reports record lines one too low
/// after a CRLF (it counts the `\n` only when the next record starts), so `CsvTable` line
/// numbers are right only for LF files; the platforms' exports often use CRLF.
fn lf_only(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !bytes.windows(2).any(|w| w == b"\r\n") {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(b);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// Splits one line into trimmed cells, honouring double quotes (for header sniffing only).
pub fn split_line(line: &str, delim: u8) -> Vec<String> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => rec.iter().map(|c| c.trim().to_string()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_with_separators_and_markers() {
        assert_eq!(parse_decimal("1,020.50", false), Ok(Some(1020.5)));
        assert_eq!(parse_decimal("1 234,56", true), Ok(Some(1234.56)));
        assert_eq!(parse_decimal("3.25%", false), Ok(Some(3.25)));
        assert_eq!(parse_decimal("-", false), Ok(None));
        assert_eq!(parse_decimal("--", false), Ok(None));
        assert!(parse_decimal("abc", false).is_err());
        assert!(parse_decimal("NaN", false).is_err());
        assert_eq!(parse_count("12", false), Ok(Some(12)));
        assert!(parse_count("1.5", false).is_err());
        assert!(parse_count("-3", false).is_err());
    }

    #[test]
    fn trim_matches_str_trim() {
        for s in [
            "",
            " ",
            "12",
            " 12",
            "12 ",
            "\t1\n",
            "\u{a0}7\u{a0}",
            "é",
            " é ",
            "a\u{2003}",
            "-",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn days_in_every_delivered_shape() {
        let d = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        for s in [
            "2026-09-01",
            "2026-09-01 00:00:00",
            "2026-09-01T00:00:00.000-07:00",
            "2026-08-31T22:00:00.000-09:00",
            "Sep 1, 2026",
            "September 1, 2026",
            "Tue, Sep 1, 2026",
            "09/01/2026",
        ] {
            assert_eq!(parse_day(s), Ok(d), "{s}");
        }
        assert!(parse_day("yesterday").is_err());
        // The last representable day in the evening would roll past chrono's range.
        assert!(parse_day("+262142-12-31 23:00:00").is_err());
    }

    #[test]
    fn json_numbers_as_strings() {
        let v: Vec<JsonNum> = serde_json::from_str(r#"[1, "2", 3.5, "-", null, "1,000"]"#).unwrap();
        assert_eq!(v[0].to_count(), Ok(Some(1)));
        assert_eq!(v[1].to_count(), Ok(Some(2)));
        assert_eq!(v[2].to_f64(), Ok(Some(3.5)));
        assert_eq!(v[3].to_f64(), Ok(None));
        assert_eq!(v[4].to_f64(), Ok(None));
        assert_eq!(v[5].to_count(), Ok(Some(1000)));
        assert!(JsonNum::Str("-5".into()).to_money().is_err());
    }
}
