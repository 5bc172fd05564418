//! The "Budget" section: response curves with their intervals, the shifts table and the
//! forecast of the next periods under the current and the recommended split.

use maud::{Markup, PreEscaped, html};

use super::super::format::{self as f, MISSING};
use super::super::inputs::{BudgetInputs, EntityCurve, ReportInputs, Section};
use super::super::svg::{Axis, Chart, Layer, Marker, Stroke, palette};
use super::note;
use crate::budget::fit::PeriodForecast;
use crate::schema::date_to_days;

/// A people's word for the outcome column.
pub fn outcome_word(outcome: &str) -> &str {
    match outcome {
        "conversions" => "conversions",
        "conversion_value" => "in conversion value",
        o => o,
    }
}

fn binding_words(b: &str) -> &str {
    match b {
        "none" => "none (curves balanced)",
        "min" => "minimum spend",
        "max" => "maximum spend",
        "shift_min" => "largest allowed cut",
        "shift_max" => "largest allowed increase",
        "fixed" => "fixed",
        "zero" => "held at zero",
        other => other,
    }
}

pub fn section(inp: &ReportInputs) -> Markup {
    let how = "each curve is the expected outcome per period at a given spend per period, with \
               the shaded band as its uncertainty; the dashed lines mark today's spend and the \
               recommended spend. The table lists each move; the last chart forecasts the next \
               periods under both splits (same total spend).";
    let b = match &inp.budget {
        Section::Ready(b) => b,
        Section::Missing(n) => return super::section("budget", how, note(n)),
    };
    let cur = inp.currency.as_deref();
    let word = outcome_word(&b.outcome);
    let mut order: Vec<usize> = (0..b.plan.entities.len()).collect();
    order.sort_by(|&x, &y| {
        b.plan.entities[y]
            .delta
            .abs()
            .total_cmp(&b.plan.entities[x].delta.abs())
    });
    let pct = |v: f64, of: f64| {
        if of.abs() > 0.0 {
            f::signed_percent(v / of, 1)
        } else {
            MISSING.into()
        }
    };
    let body = html! {
        p { "Recommended split of the current total of " strong { (f::money(b.plan.total_budget, cur)) }
            " per " (b.period) " (budget model " span.mono { (b.card.version) } "): expected "
            (f::number(b.plan.expected_outcome, 1)) " " (word) " per " (b.period) " instead of "
            (f::number(b.plan.expected_outcome_current, 1)) " — " (f::signed_number(b.lift.point, 1))
            " (" (f::number(b.interval * 100.0, 0)) "% interval " (f::signed_number(b.lift.lo, 1))
            " to " (f::signed_number(b.lift.hi, 1)) ")."
            @if let Some(m) = b.max_shift_pct {
                " Each entity moves at most " (f::number(m, 0)) "% from its current spend, and \
                  entities with no spend stay at none."
            } }
        @if !b.curves.is_empty() {
            div.charts {
                @for c in &b.curves {
                    figure {
                        figcaption.mono { (c.id) }
                        (PreEscaped(curve_chart(c, b, cur).render()))
                    }
                }
            }
            @if b.curves.len() < b.plan.entities.len() {
                p.small { "Curves of the " (b.curves.len()) " entities with the most spend; all "
                          (b.plan.entities.len()) " are in the table below and in plan.csv." }
            }
        }
        h3 { "Shifts" }
        table {
            thead { tr { th { "Entity" } th.num { "Current" } th.num { "Recommended" }
                         th.num { "Change" } th.num { "Change %" }
                         th.num { "Expected " (word) " (current → recommended)" }
                         th.num { "Marginal return" } th { "Limit reached" } } }
            tbody {
                @for &i in &order {
                    @let e = &b.plan.entities[i];
                    tr {
                        td.mono { (e.id) }
                        td.num { (f::money(e.current, cur)) }
                        td.num { (f::money(e.recommended, cur)) }
                        td.num { (f::signed_money(e.delta, cur)) }
                        td.num { (pct(e.delta, e.current)) }
                        td.num { (f::number(e.expected_outcome_current, 1)) " → "
                                 (f::number(e.expected_outcome_recommended, 1)) }
                        td.num { (f::opt_number(e.marginal_return, 4)) }
                        td { (binding_words(&e.binding)) }
                    }
                }
            }
            tfoot { tr {
                th { "Total" } th.num { (f::money(b.plan.entities.iter().map(|e| e.current).sum(), cur)) }
                th.num { (f::money(b.plan.entities.iter().map(|e| e.recommended).sum(), cur)) }
                th.num { (f::signed_money(b.plan.entities.iter().map(|e| e.delta).sum(), cur)) }
                th {} th.num { (f::number(b.plan.expected_outcome_current, 1)) " → "
                               (f::number(b.plan.expected_outcome, 1)) }
                th {} th {}
            } }
        }
        p.small { "Marginal return: extra " (word) " from one more currency unit at the recommended spend. Amounts are per " (b.period) "." }
        @if !b.forecast_current.is_empty() {
            h3 { "Next " (b.forecast_current.len()) " " (b.period) "s" }
            figure { figcaption { "Forecast total " (word) " per " (b.period) }
                     (PreEscaped(forecast_chart(b).render())) }
            table {
                thead { tr { th { (b.period) " starting" } th.num { "Spend" }
                             th.num { "Current split" } th.num { "Recommended split" } th.num { "Difference" } } }
                tbody {
                    @for (c, r) in b.forecast_current.iter().zip(&b.forecast_recommended) {
                        tr { td { (f::date(c.period)) } td.num { (f::money(c.spend, cur)) }
                             td.num { (range(c)) } td.num { (range(r)) }
                             td.num { (f::signed_number(r.outcome - c.outcome, 1)) } }
                    }
                }
            }
        }
        @for n in &b.notes { p.small { "Note: " (n) } }
    };
    super::section("budget", how, body)
}

fn range(p: &PeriodForecast) -> String {
    format!(
        "{} ({}–{})",
        f::number(p.outcome, 1),
        f::number(p.outcome_lo, 1),
        f::number(p.outcome_hi, 1)
    )
}

fn curve_chart(c: &EntityCurve, b: &BudgetInputs, cur: Option<&str>) -> Chart {
    let xmax = c.spend.last().copied().unwrap_or(1.0);
    let ymax =
        c.hi.iter()
            .chain(&c.outcome)
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
    let at = |s: f64| {
        // Linear interpolation on the grid (the grid is fine; the curve is smooth).
        let i = c
            .spend
            .partition_point(|x| *x < s)
            .min(c.spend.len().saturating_sub(1));
        if i == 0 {
            return c.outcome.first().copied().unwrap_or(f64::NAN);
        }
        let (x0, x1) = (c.spend[i - 1], c.spend[i]);
        let w = if x1 > x0 { (s - x0) / (x1 - x0) } else { 0.0 };
        c.outcome[i - 1] + w * (c.outcome[i] - c.outcome[i - 1])
    };
    let level = f::number(b.interval * 100.0, 0);
    let money_tick = |v: f64| f::money(v, cur);
    Chart {
        title: format!("Response curve of {}", c.id),
        width: 460.0,
        height: 260.0,
        x: Axis::exact(
            &format!(
                "spend per {} ({})",
                b.period,
                cur.unwrap_or("currency units")
            ),
            0.0,
            xmax,
            money_tick,
        ),
        y: Axis::linear(
            &format!("{} per {}", b.outcome.replace('_', " "), b.period),
            0.0,
            ymax.max(1e-9),
            |v| f::number(v, if ymax >= 100.0 { 0 } else { 1 }),
        ),
        layers: vec![
            Layer::Band {
                x: c.spend.clone(),
                lower: c.lo.clone(),
                upper: c.hi.clone(),
                colour: palette::SKY,
                label: Some(format!("{level}% interval")),
            },
            Layer::Line {
                points: c
                    .spend
                    .iter()
                    .copied()
                    .zip(c.outcome.iter().copied())
                    .collect(),
                stroke: Stroke::solid(palette::BLUE),
                label: Some("expected".into()),
            },
            Layer::VLine {
                x: c.current,
                stroke: Stroke::dashed(palette::BLACK, "2 3"),
                label: Some("current".into()),
            },
            Layer::VLine {
                x: c.recommended,
                stroke: Stroke::dashed(palette::VERMILLION, "8 4"),
                label: Some("recommended".into()),
            },
            Layer::Points {
                points: vec![(c.current, at(c.current))],
                colour: palette::BLACK,
                marker: Marker::Square,
                label: None,
            },
            Layer::Points {
                points: vec![(c.recommended, at(c.recommended))],
                colour: palette::VERMILLION,
                marker: Marker::Diamond,
                label: None,
            },
        ],
    }
}

fn forecast_chart(b: &BudgetInputs) -> Chart {
    let x = |p: &PeriodForecast| date_to_days(p.period) as f64;
    let all = b.forecast_current.iter().chain(&b.forecast_recommended);
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, z), p| {
        (a.min(p.outcome_lo), z.max(p.outcome_hi))
    });
    let (x0, x1) = (
        b.forecast_current.first().map_or(0.0, x),
        b.forecast_current.last().map_or(1.0, x),
    );
    let mut xa = Axis::exact(
        &format!("{} starting", b.period),
        x0,
        x1.max(x0 + 1.0),
        |_| String::new(),
    );
    xa.ticks = b
        .forecast_current
        .iter()
        .map(|p| (x(p), f::short_date(p.period)))
        .collect();
    let level = f::number(b.interval * 100.0, 0);
    let line = |v: &[PeriodForecast]| v.iter().map(|p| (x(p), p.outcome)).collect::<Vec<_>>();
    Chart {
        title: "Forecast outcome per period under the current and the recommended split".into(),
        width: 1100.0,
        height: 320.0,
        x: xa,
        y: Axis::linear(
            &format!("{} per {}", b.outcome.replace('_', " "), b.period),
            lo.min(0.0),
            hi,
            |v| f::number(v, if hi >= 100.0 { 0 } else { 1 }),
        ),
        layers: vec![
            Layer::Band {
                x: b.forecast_current.iter().map(x).collect(),
                lower: b.forecast_current.iter().map(|p| p.outcome_lo).collect(),
                upper: b.forecast_current.iter().map(|p| p.outcome_hi).collect(),
                colour: palette::GREY,
                label: Some(format!("current, {level}% interval")),
            },
            Layer::Band {
                x: b.forecast_recommended.iter().map(x).collect(),
                lower: b
                    .forecast_recommended
                    .iter()
                    .map(|p| p.outcome_lo)
                    .collect(),
                upper: b
                    .forecast_recommended
                    .iter()
                    .map(|p| p.outcome_hi)
                    .collect(),
                colour: palette::SKY,
                label: Some(format!("recommended, {level}% interval")),
            },
            Layer::Line {
                points: line(&b.forecast_current),
                stroke: Stroke::dashed(palette::BLACK, "6 3"),
                label: Some("current split".into()),
            },
            Layer::Line {
                points: line(&b.forecast_recommended),
                stroke: Stroke::solid(palette::BLUE),
                label: Some("recommended split".into()),
            },
            Layer::Points {
                points: line(&b.forecast_current),
                colour: palette::BLACK,
                marker: Marker::Square,
                label: None,
            },
            Layer::Points {
                points: line(&b.forecast_recommended),
                colour: palette::BLUE,
                marker: Marker::Circle,
                label: None,
            },
        ],
    }
}
