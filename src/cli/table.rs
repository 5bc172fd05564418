//! Plain-text tables and number formatting for people (thousands separators, fixed decimals).

/// Formats an integer with thousands separators: `1234567` → `1,234,567`.
pub fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats a number with thousands separators and `places` decimals: `11483.74` → `11,483.7`.
pub fn decimal(v: f64, places: usize) -> String {
    let scale = 10f64.powi(places as i32);
    let units = (v.abs() * scale).round() as i64;
    let sign = if v < 0.0 && units > 0 { "-" } else { "" };
    let whole = thousands(units / scale as i64);
    if places == 0 {
        return format!("{sign}{whole}");
    }
    format!("{sign}{whole}.{:0places$}", units % scale as i64)
}

/// Formats money with thousands separators and two decimals: `1234.5` → `1,234.50`.
pub fn money(v: f64) -> String {
    decimal(v, 2)
}

/// Renders rows as an aligned text table; columns whose header starts with '>' are
/// right-aligned (the marker is not printed).
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let right: Vec<bool> = headers.iter().map(|h| h.starts_with('>')).collect();
    let heads: Vec<&str> = headers.iter().map(|h| h.trim_start_matches('>')).collect();
    let mut widths: Vec<usize> = heads.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let w = widths[i];
            let pad = w.saturating_sub(c.chars().count());
            if i > 0 {
                s.push_str("  ");
            }
            if right[i] {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(heads.clone());
    out.push_str(&line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(-1234567), "-1,234,567");
        assert_eq!(money(1234.5), "1,234.50");
        assert_eq!(money(0.005), "0.01");
        assert_eq!(money(-0.5), "-0.50");
        assert_eq!(decimal(11483.74, 1), "11,483.7");
        assert_eq!(decimal(2.5, 0), "3");
    }
}
