//! The "Creatives at risk" and "How good are these forecasts" sections.

use chrono::{Duration, NaiveDate};
use maud::{Markup, PreEscaped, html};

use super::super::format::{self as f, MISSING};
use super::super::inputs::{
    CreativeHistory, CreativeInput, FatigueInputs, ReportInputs, Section, top_forecast,
    urgency_order, urgency_rank,
};
use super::super::svg::{Axis, Chart, Layer, Marker, Stroke, palette};
use super::{note, section};
use crate::fatigue::metrics::Curves;
use crate::fatigue::pipeline::is_prior;
use crate::fatigue::validation::Method;
use crate::schema::date_to_days;

/// Most creatives listed in the table (the rest are in scores.csv).
pub const TABLE_ROWS: usize = 200;
/// Days of history drawn before the as-of day.
const HISTORY_DAYS: i64 = 56;

fn action_words(a: &str) -> &'static str {
    match a {
        "refresh_now" => "Refresh now",
        "prepare_refresh" => "Prepare a refresh",
        "keep" => "Keep running",
        "insufficient_data" => "Wait for more data",
        _ => "—",
    }
}

fn status_words(s: &str) -> &'static str {
    match s {
        "fatigued" => "fatigued",
        "limited" => "limited",
        "healthy" => "healthy",
        _ => "insufficient data",
    }
}

/// The unit of a cost-like metric.
fn metric_label(kind: &str, currency: Option<&str>) -> String {
    let cur = currency.unwrap_or("currency units");
    match kind {
        "cpa" => format!("cost per conversion ({cur})"),
        "cpc" => format!("cost per click ({cur})"),
        "inv_ctr" => "impressions per click".into(),
        k => k.to_string(),
    }
}

fn expected_onset(c: &CreativeInput, horizon: usize) -> String {
    let s = &c.score;
    match (s.status.as_str(), s.expected_days_to_onset, s.p_onset_14d) {
        ("fatigued", _, _) => "already".into(),
        (_, Some(d), Some(p)) if p >= 0.5 => {
            f::date(s.as_of + Duration::days(d.ceil().max(1.0) as i64))
        }
        (_, Some(_), Some(_)) => format!(
            "after {}",
            f::date(s.as_of + Duration::days(horizon as i64))
        ),
        _ => MISSING.into(),
    }
}

fn creative_name(c: &CreativeInput) -> String {
    format!(
        "{} · {} · {}",
        c.score.ad_id, c.score.platform, c.score.account_id
    )
}

pub fn at_risk_section(inp: &ReportInputs) -> Markup {
    let how = "most urgent first. P(onset 7–14 d) is the chance the creative's cost first \
               reaches 2× its launch level in the week after next; the expected onset is the \
               day the cost is forecast to cross that line. Drivers are the creative's values that raise its \
               14-day risk most against a typical creative (in percentage points). The charts show the cost over time against the launch baseline and the 2× \
               line, with the likely onset days shaded (the middle half of the forecast).";
    let fi = match &inp.fatigue {
        Section::Ready(fi) => fi,
        Section::Missing(n) => return section("at-risk", how, note(n)),
    };
    let cur = inp.currency.as_deref();
    let order = urgency_order(&fi.creatives);
    let urgent = order
        .iter()
        .take_while(|&&i| urgency_rank(&fi.creatives[i].score) <= 2)
        .count();
    let shown = if urgent == 0 {
        order.len().min(20)
    } else {
        urgent.min(TABLE_ROWS)
    };
    let body = html! {
        @if fi.creatives.is_empty() {
            (note("No creative delivered in the days before the as-of day: nothing to score."))
        } @else {
            @if urgent == 0 {
                p { "No creative needs a refresh. The " (shown) " with the highest risk:" }
            }
            table.creatives {
                thead { tr {
                    th.num { "#" } th { "Creative (ad · platform · account)" } th { "Status" }
                    th.num { "P(onset 7–14 d)" } th.num { "P(onset ≤ 14 d)" }
                    th { "Expected onset" } th.num { "7-day spend" } th { "Drivers" } th { "Action" }
                } }
                tbody {
                    @for (rank, &i) in order.iter().take(shown).enumerate() {
                        @let c = &fi.creatives[i];
                        tr {
                            td.num { (rank + 1) }
                            td.mono { (creative_name(c)) }
                            td { span class={ "status " (c.score.status) } { (status_words(&c.score.status)) } }
                            td.num { (f::opt_percent(c.score.p_onset_7_14d, 0)) }
                            td.num { (f::opt_percent(c.score.p_onset_14d, 0)) }
                            td { (expected_onset(c, fi.horizon_days)) }
                            td.num { (f::money(c.spend_7d, cur)) }
                            td { @if c.score.drivers.is_empty() { (MISSING) } @else {
                                ul.drivers { @for d in c.score.drivers.split("; ") { li { (d) } } } } }
                            td { (action_words(&c.score.action)) }
                        }
                    }
                }
            }
            @if order.len() > shown {
                p.small { (f::count((order.len() - shown) as u64)) " more creatives (lower risk) are in scores.csv / scores.parquet next to this report." }
            }
            @let top = top_forecast(&fi.creatives, inp.top_n);
            @if !top.is_empty() {
                h3 { "The " (top.len()) " most urgent forecasts" }
                div.charts {
                    @for i in top {
                        @if let Some(h) = fi.histories.iter().find(|h| h.creative == i) {
                            figure {
                                figcaption.mono { (creative_name(&fi.creatives[i])) }
                                (PreEscaped(creative_chart(&fi.creatives[i], h, inp, fi).render()))
                            }
                        }
                    }
                }
            }
        }
    };
    section("at-risk", how, body)
}

/// The middle half of the onset day given an onset within the horizon, in days after the
/// as-of day: the first k with F(k) ≥ ¼·F(H) and the first with F(k) ≥ ¾·F(H), where
/// F(k) = 1 − S(k) from the creative's survival curve S(1..=H). None without a curve or risk.
pub fn onset_window(survival: &[f64]) -> Option<(usize, usize)> {
    let f_h = 1.0 - *survival.last()?;
    if !(f_h.is_finite() && f_h > 0.0) {
        return None;
    }
    let first = |share: f64| {
        survival
            .iter()
            .position(|s| 1.0 - s >= share * f_h - 1e-12)
            .map(|i| i + 1)
    };
    Some((first(0.25)?, first(0.75)?))
}

fn day_axis(title: &str, from: NaiveDate, to: NaiveDate) -> Axis {
    let (a, b) = (date_to_days(from) as f64, date_to_days(to) as f64);
    let mut ax = Axis::exact(title, a, b, |_| String::new());
    // Weekly ticks ending on `to`.
    let span = (b - a).max(1.0);
    let step = if span > 120.0 {
        28
    } else if span > 42.0 {
        14
    } else {
        7
    };
    ax.ticks = (0..)
        .map(|k| to - Duration::days(step * k))
        .take_while(|d| *d >= from)
        .map(|d| (date_to_days(d) as f64, f::short_date(d)))
        .collect();
    ax
}

fn creative_chart(
    c: &CreativeInput,
    h: &CreativeHistory,
    inp: &ReportInputs,
    fi: &FatigueInputs,
) -> Chart {
    let onset_ratio = inp.definitions.labels.onset_ratio;
    let from = inp.as_of - Duration::days(HISTORY_DAYS);
    let to = inp.as_of + Duration::days(fi.horizon_days as i64);
    let pts: Vec<(f64, f64)> = h
        .points
        .iter()
        .filter(|(d, _)| *d >= from)
        .map(|(d, v)| (date_to_days(*d) as f64, v.unwrap_or(f64::NAN)))
        .collect();
    let top_val = pts
        .iter()
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .fold(h.baseline * onset_ratio * 1.15, f64::max);
    let unit = metric_label(&h.metric_kind, inp.currency.as_deref());
    let decimals = if top_val >= 100.0 { 0 } else { 2 };
    let t = |d: NaiveDate| date_to_days(d) as f64;
    let p14 = c.score.p_onset_14d.unwrap_or(f64::NAN);
    // The forecast window: the middle half of the likely onset days, else the 7–14 day span.
    let (span, span_label) = match c.score.survival.as_deref().and_then(onset_window) {
        Some((a, b)) => (
            (a as f64 - 0.5, b as f64 + 0.5),
            format!(
                "likely onset, days {a}–{b} (P ≤ 14 d = {})",
                f::percent(p14, 0)
            ),
        ),
        None => (
            (7.0, 14.0),
            format!(
                "7–14 d window, P = {}",
                f::percent(c.score.p_onset_7_14d.unwrap_or(f64::NAN), 0)
            ),
        ),
    };
    Chart {
        title: format!(
            "Rolling {unit} of {} against its launch baseline",
            c.score.ad_id
        ),
        width: 460.0,
        height: 250.0,
        x: day_axis("day", from, to),
        y: Axis::linear(&unit, 0.0, top_val, |v| f::number(v, decimals)),
        layers: vec![
            Layer::Span {
                x0: t(inp.as_of) + span.0,
                x1: t(inp.as_of) + span.1,
                colour: palette::ORANGE,
                label: Some(span_label),
            },
            Layer::HLine {
                y: h.baseline,
                stroke: Stroke::dashed(palette::BLACK, "2 3"),
                label: Some("launch baseline".into()),
            },
            Layer::HLine {
                y: h.baseline * onset_ratio,
                stroke: Stroke::dashed(palette::VERMILLION, "8 4"),
                label: Some(format!("{}× baseline", f::number(onset_ratio, 1))),
            },
            Layer::VLine {
                x: t(inp.as_of),
                stroke: Stroke {
                    colour: palette::GREY,
                    dash: Some("1 3"),
                    width: 1.5,
                },
                label: None,
            },
            Layer::Line {
                points: pts,
                stroke: Stroke::solid(palette::BLUE),
                label: Some("rolling 7-day value".into()),
            },
        ],
    }
}

pub fn quality_section(inp: &ReportInputs) -> Markup {
    let how = "the models were fitted on older days and scored on the latest days they never \
               saw (the holdout). ROC: the higher the curve above the diagonal, the better the \
               model ranks creatives that fatigue within 14 days above those that do not (AUC 1 \
               is perfect, 0.5 is chance). Calibration: points on the diagonal mean a forecast \
               of 30% comes true 30% of the time. Backtest: forecast vs actual onset day. The \
               table compares the chosen model with simple rules it must beat.";
    let fi = match &inp.fatigue {
        Section::Ready(fi) => fi,
        Section::Missing(n) => return section("quality", how, note(n)),
    };
    let ev = match &fi.evaluation {
        Ok(ev) => ev,
        Err(n) => return section("quality", how, note(n)),
    };
    let champion = ev.model.as_str();
    let empty = Curves::default();
    let cc = ev.curves.get(champion).unwrap_or(&empty);
    // The best non-learned baseline by AUC@14, drawn for comparison.
    let baseline = ev
        .report
        .models
        .iter()
        .filter(|m| !m.learned)
        .filter_map(|m| m.metrics.auc_14.map(|a| (a, m.model.as_str())))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|x| x.1);
    let r = &ev.report;
    let body = html! {
        @let v = r.validation_done();
        @match v.method {
            Method::Holdout => {
                p { "Validation: holdout " (f::date_range(r.test.from, r.test.to)) " — " (f::count(r.test.rows as u64))
                    " creative-days, " (f::count(v.onsets as u64)) " creatives with an onset. Trained on "
                    (f::date_range(r.train.from, r.train.to)) " (" (f::count(r.train.rows as u64)) " creative-days); calibrated on "
                    (f::date_range(r.validation.from, r.validation.to)) ". Chosen model: " strong { (champion) } "." }
            }
            Method::RollingOrigin => {
                p { "Validation: " (v.folds) " rolling-origin folds (the history is too short for a holdout) — every model scored on "
                    (f::count(r.test.rows as u64)) " out-of-fold creative-days " (f::date_range(r.test.from, r.test.to)) " with "
                    (f::count(v.onsets as u64)) " creatives with an onset"
                    @if champion == "prior" { "" }
                    @else if is_prior(champion) { "; the prior's calibration was then refitted on all " (f::count((r.train.rows + r.validation.rows) as u64)) " labelled creative-days" }
                    @else { "; the served model was then refitted on all " (f::count((r.train.rows + r.validation.rows) as u64)) " labelled creative-days" }
                    ". Chosen model: " strong { (champion) } "." }
            }
            Method::None => {
                p { "Not validated: " (v.reason) ". The tenant is served by " strong { (champion) }
                    @if is_prior(champion) { ", the cold-start prior trained on simulated accounts" }
                    " until its own data holds enough onsets to compare models." }
            }
        }
        @if is_prior(champion) && v.method != Method::None {
            p { "The cold-start prior (trained on simulated accounts"
                @if champion != "prior" { ", its calibration refitted on this tenant's data" }
                ") scored best on these rows, so it serves this tenant." }
        }
        div.charts {
            figure { figcaption { "ROC of P(onset ≤ 14 d)" }
                     (PreEscaped(roc_chart(ev, champion, baseline).render())) }
            figure { figcaption { "Calibration of P(onset ≤ 14 d)" }
                     (PreEscaped(calibration_chart(cc).render())) }
            figure { figcaption { "Backtest: forecast vs actual onset day" }
                     (PreEscaped(backtest_chart(cc, fi.horizon_days).render())) }
        }
        table {
            thead { tr { th { "Model" } th { "Kind" } th.num { "AUC 7 d" } th.num { "AUC 14 d" }
                         th.num { "C-index" } th.num { "Brier (IBS)" } th.num { "Calib. error" }
                         th.num { "Onset error (days)" } th.num { "Precision at 50% recall" }
                         th.num { "Median warning (days)" } } }
            tbody {
                @for m in &r.models {
                    @let x = &m.metrics;
                    tr class=[(m.model == champion).then_some("champion")] {
                        td { (m.model) @if m.model == champion { " (chosen)" } }
                        td { @if m.learned { "learned" } @else if is_prior(&m.model) { "cold-start prior" } @else { "rule baseline" } }
                        td.num { (f::opt_number(x.auc_7, 3)) } td.num { (f::opt_number(x.auc_14, 3)) }
                        td.num { (f::opt_number(x.c_index, 3)) } td.num { (f::opt_number(x.ibs, 3)) }
                        td.num { (f::opt_number(x.ece, 3)) } td.num { (f::opt_number(x.onset_mae, 1)) }
                        td.num { (f::opt_percent(x.precision_at_recall_50, 0)) }
                        td.num { (f::opt_number(x.median_lead_days, 1)) }
                    }
                }
            }
        }
        p.small { "Higher is better for AUC, C-index and precision; lower is better for the Brier score, calibration error and onset error. Median warning: days between the first alert and the onset." }
    };
    section("quality", how, body)
}

fn unit_axis(title: &str) -> Axis {
    Axis::exact(title, 0.0, 1.0, |v| f::percent(v, 0))
}

fn roc_chart(
    ev: &crate::fatigue::pipeline::StoredEvaluation,
    champion: &str,
    baseline: Option<&str>,
) -> Chart {
    let pts = |name: &str| -> Vec<(f64, f64)> {
        ev.curves
            .get(name)
            .map(|c| c.roc_14.iter().map(|p| (p[0], p[1])).collect())
            .unwrap_or_default()
    };
    let auc = |name: &str| {
        ev.report
            .models
            .iter()
            .find(|m| m.model == name)
            .and_then(|m| m.metrics.auc_14)
            .map_or(String::new(), |a| format!(" (AUC {})", f::number(a, 2)))
    };
    let mut layers = vec![Layer::Line {
        points: vec![(0.0, 0.0), (1.0, 1.0)],
        stroke: Stroke {
            colour: palette::GREY,
            dash: Some("1 3"),
            width: 1.5,
        },
        label: Some("chance".into()),
    }];
    if let Some(b) = baseline {
        layers.push(Layer::Line {
            points: pts(b),
            stroke: Stroke::dashed(palette::ORANGE, "6 3"),
            label: Some(format!("{b}{}", auc(b))),
        });
    }
    layers.push(Layer::Line {
        points: pts(champion),
        stroke: Stroke::solid(palette::BLUE),
        label: Some(format!("{champion}{}", auc(champion))),
    });
    Chart {
        title: "ROC curve of the 14-day onset forecast on the holdout".into(),
        width: 400.0,
        height: 340.0,
        x: unit_axis("false alarms (% of creatives without onset)"),
        y: unit_axis("onsets caught (% of creatives with onset)"),
        layers,
    }
}

fn calibration_chart(c: &Curves) -> Chart {
    let pts: Vec<(f64, f64)> = c
        .calibration
        .iter()
        .map(|b| (b.mean_predicted, b.observed_rate))
        .collect();
    Chart {
        title: "Forecast probability against the observed onset rate, by decile bin".into(),
        width: 400.0,
        height: 340.0,
        x: unit_axis("forecast P(onset ≤ 14 d)"),
        y: unit_axis("observed onset rate"),
        layers: vec![
            Layer::Line {
                points: vec![(0.0, 0.0), (1.0, 1.0)],
                stroke: Stroke {
                    colour: palette::GREY,
                    dash: Some("1 3"),
                    width: 1.5,
                },
                label: Some("perfect calibration".into()),
            },
            Layer::Line {
                points: pts.clone(),
                stroke: Stroke {
                    colour: palette::BLUE,
                    dash: None,
                    width: 1.0,
                },
                label: None,
            },
            Layer::Points {
                points: pts,
                colour: palette::BLUE,
                marker: Marker::Circle,
                label: Some("bins of the chosen model".into()),
            },
        ],
    }
}

/// (realized day, mean forecast, lower quartile, upper quartile) per realized onset day.
pub fn backtest_by_day(onsets: &[[f64; 2]]) -> Vec<(f64, f64, f64, f64)> {
    let mut by: std::collections::BTreeMap<i64, Vec<f64>> = Default::default();
    for p in onsets {
        if p[0].is_finite() && p[1].is_finite() {
            by.entry(p[1].round() as i64).or_default().push(p[0]);
        }
    }
    by.into_iter()
        .map(|(d, mut v)| {
            v.sort_by(f64::total_cmp);
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            (
                d as f64,
                mean,
                super::super::quantile(&v, 0.25),
                super::super::quantile(&v, 0.75),
            )
        })
        .collect()
}

fn backtest_chart(c: &Curves, horizon: usize) -> Chart {
    let rows = backtest_by_day(&c.onsets);
    let hmax = horizon as f64;
    Chart {
        title: "Forecast onset day against the actual onset day on the holdout".into(),
        width: 400.0,
        height: 340.0,
        x: Axis::exact("actual onset (days after the forecast)", 0.0, hmax, |v| {
            f::number(v, 0)
        }),
        y: Axis::exact("forecast onset (days)", 0.0, hmax, |v| f::number(v, 0)),
        layers: vec![
            Layer::Band {
                x: rows.iter().map(|r| r.0).collect(),
                lower: rows.iter().map(|r| r.2).collect(),
                upper: rows.iter().map(|r| r.3).collect(),
                colour: palette::SKY,
                label: Some("middle half of forecasts".into()),
            },
            Layer::Line {
                points: vec![(0.0, 0.0), (hmax, hmax)],
                stroke: Stroke {
                    colour: palette::GREY,
                    dash: Some("1 3"),
                    width: 1.5,
                },
                label: Some("forecast = actual".into()),
            },
            Layer::Points {
                points: rows.iter().map(|r| (r.0, r.1)).collect(),
                colour: palette::BLUE,
                marker: Marker::Diamond,
                label: Some(format!(
                    "mean forecast ({} onsets)",
                    f::count(c.onsets.len() as u64)
                )),
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backtest_groups_by_actual_day_by_hand() {
        // Actual day 2: forecasts 1, 3 → mean 2, quartiles (linear) 1.5 and 2.5.
        // Actual day 5: forecast 4 alone → mean = quartiles = 4. NaN pairs are dropped.
        let b = backtest_by_day(&[[1.0, 2.0], [3.0, 2.0], [4.0, 5.0], [f64::NAN, 5.0]]);
        assert_eq!(b, vec![(2.0, 2.0, 1.5, 2.5), (5.0, 4.0, 4.0, 4.0)]);
    }

    #[test]
    fn onset_window_by_hand() {
        // S = .9, .8, .7, .6 (H = 4): F = .1, .2, .3, .4; F(H) = .4 → ¼ of it = .1 first
        // reached on day 1, ¾ = .3 on day 3.
        assert_eq!(onset_window(&[0.9, 0.8, 0.7, 0.6]), Some((1, 3)));
        // All risk on day 5: S = 1, 1, 1, 1, .5 → both quartiles on day 5.
        assert_eq!(onset_window(&[1.0, 1.0, 1.0, 1.0, 0.5]), Some((5, 5)));
        assert_eq!(onset_window(&[1.0, 1.0]), None);
        assert_eq!(onset_window(&[]), None);
    }

    #[test]
    fn metric_units_and_words() {
        assert_eq!(metric_label("cpc", Some("USD")), "cost per click (USD)");
        assert_eq!(
            metric_label("inv_ctr", Some("USD")),
            "impressions per click"
        );
        assert_eq!(action_words("prepare_refresh"), "Prepare a refresh");
    }
}
