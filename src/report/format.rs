//! Numbers, money, percentages and dates as people read them in the report: thousands
//! separators, a currency symbol or code, a true minus sign, and "—" where a value is missing
//! or not finite (never "NaN" or "inf").

use chrono::NaiveDate;

/// Shown for a missing or non-finite value.
pub const MISSING: &str = "—";

/// `v` with `decimals` decimals and a comma every three integer digits: 1234567.891 → "1,234,567.89".
pub fn number(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return MISSING.to_string();
    }
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s.as_str(), None),
    };
    let mut out = String::with_capacity(s.len() + int.len() / 3 + 1);
    // Rounding can turn -0.004 into "0.00": no sign on a zero.
    let zero = s.bytes().all(|b| b == b'0' || b == b'.');
    if v < 0.0 && !zero {
        out.push('−');
    }
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// An optional number.
pub fn opt_number(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| MISSING.to_string(), |v| number(v, decimals))
}

/// A whole count: 12345 → "12,345".
pub fn count(n: u64) -> String {
    number(n as f64, 0)
}

/// The symbol of a few common currencies, else the ISO code followed by a space.
fn currency_prefix(currency: Option<&str>) -> String {
    match currency {
        Some("USD") => "$".into(),
        Some("EUR") => "€".into(),
        Some("GBP") => "£".into(),
        Some("JPY") => "¥".into(),
        Some(c) if !c.is_empty() => format!("{c} "),
        _ => String::new(),
    }
}

/// Money in currency units: whole units from 1,000 up, cents below. `None` currency prints
/// the bare number (mixed or unknown currencies). −1234.5 USD → "−$1,235".
pub fn money(v: f64, currency: Option<&str>) -> String {
    if !v.is_finite() {
        return MISSING.to_string();
    }
    let decimals = if v.abs() >= 1000.0 { 0 } else { 2 };
    let n = number(v.abs(), decimals);
    let zero = n.bytes().all(|b| b == b'0' || b == b'.');
    let sign = if v < 0.0 && !zero { "−" } else { "" };
    format!("{sign}{}{n}", currency_prefix(currency))
}

/// A change in money with its sign always shown: +$1,200 / −$35.00 / $0.00.
pub fn signed_money(v: f64, currency: Option<&str>) -> String {
    let m = money(v, currency);
    if v.is_finite() && v > 0.0 && m != money(0.0, currency) {
        format!("+{m}")
    } else {
        m
    }
}

/// A probability or share as a percentage: 0.1234 → "12.3%".
pub fn percent(p: f64, decimals: usize) -> String {
    if !p.is_finite() {
        return MISSING.to_string();
    }
    format!("{}%", number(p * 100.0, decimals))
}

/// An optional probability.
pub fn opt_percent(p: Option<f64>, decimals: usize) -> String {
    p.map_or_else(|| MISSING.to_string(), |p| percent(p, decimals))
}

/// A relative change with its sign: 0.052 → "+5.2%".
pub fn signed_percent(p: f64, decimals: usize) -> String {
    let s = percent(p, decimals);
    if p.is_finite() && p > 0.0 && s != percent(0.0, decimals) {
        format!("+{s}")
    } else {
        s
    }
}

/// A signed number: 12.5 → "+12.5", −3 → "−3.0".
pub fn signed_number(v: f64, decimals: usize) -> String {
    let s = number(v, decimals);
    if v.is_finite() && v > 0.0 && s != number(0.0, decimals) {
        format!("+{s}")
    } else {
        s
    }
}

/// A day as people write it: 2026-11-05 → "5 Nov 2026".
pub fn date(d: NaiveDate) -> String {
    d.format("%-d %b %Y").to_string()
}

/// A short day for chart ticks: "5 Nov".
pub fn short_date(d: NaiveDate) -> String {
    d.format("%-d %b").to_string()
}

/// A date range: "1 Jan 2026 – 30 Jun 2026".
pub fn date_range(from: NaiveDate, to: NaiveDate) -> String {
    format!("{} – {}", date(from), date(to))
}

/// A number of days: 1 → "1 day", 9.46 → "9.5 days".
pub fn days(v: f64) -> String {
    if !v.is_finite() {
        return MISSING.to_string();
    }
    if (v - 1.0).abs() < 1e-9 {
        "1 day".into()
    } else if v.fract().abs() < 1e-9 {
        format!("{} days", number(v, 0))
    } else {
        format!("{} days", number(v, 1))
    }
}

/// A registry timestamp (RFC 3339) as "5 Nov 2026 14:03 UTC"; other text as given.
pub fn timestamp(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%-d %b %Y %H:%M UTC")
            .to_string(),
        Err(_) => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_by_hand() {
        assert_eq!(number(1234567.891, 2), "1,234,567.89");
        assert_eq!(number(999.0, 0), "999");
        assert_eq!(number(1000.0, 0), "1,000");
        assert_eq!(number(-1234.5, 1), "−1,234.5");
        // −0.004 rounds to 0.00: no minus sign on zero.
        assert_eq!(number(-0.004, 2), "0.00");
        assert_eq!(number(f64::NAN, 2), MISSING);
        assert_eq!(number(f64::INFINITY, 0), MISSING);
        assert_eq!(count(12345), "12,345");
        assert_eq!(signed_number(12.5, 1), "+12.5");
        assert_eq!(signed_number(-3.0, 1), "−3.0");
        assert_eq!(opt_number(None, 1), MISSING);
    }

    #[test]
    fn money_by_hand() {
        // From 1,000 up whole units (1,234.6 → 1,235), below that cents (12.345 → 12.35).
        assert_eq!(money(1234.6, Some("USD")), "$1,235");
        assert_eq!(money(-1234.6, Some("USD")), "−$1,235");
        assert_eq!(money(12.345, Some("EUR")), "€12.35");
        assert_eq!(money(99.5, Some("CHF")), "CHF 99.50");
        assert_eq!(money(2500.0, None), "2,500");
        assert_eq!(signed_money(1200.0, Some("GBP")), "+£1,200");
        assert_eq!(signed_money(-35.0, Some("GBP")), "−£35.00");
        assert_eq!(signed_money(0.0, Some("USD")), "$0.00");
    }

    #[test]
    fn percents_dates_days_by_hand() {
        assert_eq!(percent(0.1234, 1), "12.3%");
        assert_eq!(percent(1.0, 0), "100%");
        assert_eq!(signed_percent(0.052, 1), "+5.2%");
        assert_eq!(signed_percent(-0.052, 1), "−5.2%");
        assert_eq!(opt_percent(None, 1), MISSING);
        let d = NaiveDate::from_ymd_opt(2026, 11, 5).unwrap();
        assert_eq!(date(d), "5 Nov 2026");
        assert_eq!(short_date(d), "5 Nov");
        assert_eq!(
            date_range(d, NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()),
            "5 Nov 2026 – 24 Dec 2026"
        );
        assert_eq!(days(1.0), "1 day");
        assert_eq!(days(14.0), "14 days");
        assert_eq!(days(9.46), "9.5 days");
        assert_eq!(timestamp("2026-11-05T14:03:09Z"), "5 Nov 2026 14:03 UTC");
        assert_eq!(timestamp("unknown"), "unknown");
    }
}
