//! Writer helpers shared by the connectors' native-file writers (the simulator's side):
//! file naming, the date span of a file, exact money in micros or cents, splitting an
//! integer total into parts that add up exactly, and the decimal/thousands formatting the
//! platforms use in their exports (see docs/connectors.md, "Cross-cutting guidance").

use chrono::NaiveDate;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::Platform;
use crate::schema::AdDailyRow;

/// `<platform>_<account>_<first>_<last>[_pN].<ext>`.
pub(crate) fn file_name(
    p: Platform,
    account: &str,
    first: NaiveDate,
    last: NaiveDate,
    page: Option<usize>,
    ext: &str,
) -> String {
    let safe: String = account
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    match page {
        Some(n) => format!("{}_{safe}_{first}_{last}_p{n}.{ext}", p.as_str()),
        None => format!("{}_{safe}_{first}_{last}.{ext}", p.as_str()),
    }
}

/// First and last date of non-empty `rows`.
pub(crate) fn date_span(rows: &[AdDailyRow]) -> (NaiveDate, NaiveDate) {
    let first = rows.iter().map(|r| r.date).min().unwrap_or_default();
    let last = rows.iter().map(|r| r.date).max().unwrap_or_default();
    (first, last)
}

/// Units to whole micros (exact for amounts with ≤ 6 decimals).
pub(crate) fn to_micros(v: f64) -> i64 {
    (v * 1e6).round() as i64
}

/// Units to whole cents.
pub(crate) fn cents(v: f64) -> i64 {
    (v * 100.0).round() as i64
}

/// Money rounded to whole cents, absent money counting as 0 (what a UI export shows).
pub(crate) fn to_cents_amount(v: Option<f64>) -> Option<f64> {
    Some(cents(v.unwrap_or(0.0)) as f64 / 100.0)
}

/// Splits a non-negative `total` into `k` non-negative parts that add up to it exactly. All
/// parts but the last are multiples of `quantum` (1 for counts, 10 000 micros = one cent for
/// money), so money splits are whole cents whenever the total is.
pub(crate) fn split_int(total: i64, k: usize, quantum: i64, rng: &mut ChaCha8Rng) -> Vec<i64> {
    if k <= 1 {
        return vec![total];
    }
    let weights: Vec<i64> = (0..k).map(|_| rng.gen_range(1..=10)).collect();
    let sum: i64 = weights.iter().sum();
    let mut parts = Vec::with_capacity(k);
    let mut used = 0i64;
    for w in &weights[..k - 1] {
        let share = (total as i128 * *w as i128 / sum as i128) as i64;
        let p = share / quantum * quantum;
        parts.push(p);
        used += p;
    }
    parts.push(total - used);
    parts
}

/// Micros as a plain decimal without trailing zeros (`12340000` → `12.34`).
pub(crate) fn fmt_micros(m: i64) -> String {
    let sign = if m < 0 { "-" } else { "" };
    let a = m.unsigned_abs();
    let (int, frac) = (a / 1_000_000, a % 1_000_000);
    if frac == 0 {
        format!("{sign}{int}")
    } else {
        let f = format!("{frac:06}");
        format!("{sign}{int}.{}", f.trim_end_matches('0'))
    }
}

/// Cents with two decimals, optionally with `,` thousands separators (`102050` → `1,020.50`).
pub(crate) fn fmt_cents(c: i64, sep: bool) -> String {
    let int = c / 100;
    let frac = (c % 100).abs();
    let int_s = if sep { thousands(int) } else { int.to_string() };
    format!("{int_s}.{frac:02}")
}

/// An integer with `,` thousands separators (`12345` → `12,345`).
pub(crate) fn thousands(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut s = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if v < 0 {
        s.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            s.push(',');
        }
        s.push(ch);
    }
    s
}

/// `<platform>_<account>_<first>_<last>[_pN].json` with the account id as given: the JSON
/// writers of LinkedIn, TikTok, Snapchat, Pinterest and X (unlike [`file_name`], which makes
/// the account id file-system safe).
pub(crate) fn json_file_name(
    p: Platform,
    account: &str,
    first: NaiveDate,
    last: NaiveDate,
    page: Option<usize>,
) -> String {
    match page {
        Some(n) => format!("{}_{account}_{first}_{last}_p{n}.json", p.as_str()),
        None => format!("{}_{account}_{first}_{last}.json", p.as_str()),
    }
}

/// A JSON number: an integer when whole, so counts never print as `3.0`.
pub(crate) fn json_number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// Money as a decimal string: two decimals for whole cents, otherwise the shortest exact form
/// (how LinkedIn and TikTok print money).
pub(crate) fn money_text(v: f64) -> String {
    if (v * 100.0).round() / 100.0 == v {
        format!("{v:.2}")
    } else {
        format!("{v}")
    }
}

/// `row` without the entity ids and names (campaign, ad group, ad name) that stats endpoints
/// leave to the entity endpoints: what LinkedIn, Snapchat and X reports carry of them.
pub(crate) fn without_entities(row: &AdDailyRow) -> AdDailyRow {
    let mut r = row.clone();
    r.campaign_id = None;
    r.ad_group_id = None;
    r.campaign_name = None;
    r.ad_group_name = None;
    r.ad_name = None;
    r
}

/// Absent spend, conversions and conversion value as 0: for reports that always send them.
pub(crate) fn zero_missing_money(r: &mut AdDailyRow) {
    r.spend = Some(r.spend.unwrap_or(0.0));
    r.conversions = Some(r.conversions.unwrap_or(0.0));
    r.conversion_value = Some(r.conversion_value.unwrap_or(0.0));
}
