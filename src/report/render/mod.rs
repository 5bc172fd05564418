//! The report page: one HTML document with inline CSS and inline SVG charts, no scripts and
//! no external references, so it opens offline and prints to PDF (each section starts a new
//! page). Sections: summary, creatives at risk, forecast quality, budget, definitions — each
//! opens with a one-line "how to read it". Pure: the same inputs give the same page.

mod budget;
mod fatigue;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::format::{self as f, MISSING};
use super::inputs::{ReportInputs, Section, at_risk};
use crate::registry::ModelCard;

const CSS: &str = include_str!("report.css");

/// Section ids and titles, in page order (tests check every one is present).
pub const SECTIONS: [(&str, &str); 5] = [
    ("summary", "Summary"),
    ("at-risk", "Creatives at risk"),
    ("quality", "How good are these forecasts"),
    ("budget", "Budget"),
    ("definitions", "Definitions and assumptions"),
];

/// The whole page.
pub fn page(inp: &ReportInputs) -> String {
    let title = format!(
        "OmniFy forecast report — {} — {}",
        inp.tenant,
        f::date(inp.as_of)
    );
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { "Forecast report: " (inp.tenant) }
                    p.meta {
                        "Data as of " strong { (f::date(inp.as_of)) }
                        " · made " (f::timestamp(&inp.created))
                        " · OmniFy " (env!("CARGO_PKG_VERSION"))
                    }
                    nav {
                        @for (id, name) in SECTIONS {
                            a href={ "#" (id) } { (name) }
                        }
                    }
                }
                main {
                    (summary(inp))
                    (fatigue::at_risk_section(inp))
                    (fatigue::quality_section(inp))
                    (budget::section(inp))
                    (definitions(inp))
                }
            }
        }
    }
    .into_string()
}

/// A section with its title and how-to-read line.
fn section(id: &str, how: &str, body: Markup) -> Markup {
    let name = SECTIONS.iter().find(|s| s.0 == id).map_or(id, |s| s.1);
    html! {
        section id=(id) {
            h2 { (name) }
            p.how { strong { "How to read it: " } (how) }
            (body)
        }
    }
}

/// A note shown where data cannot be.
fn note(text: &str) -> Markup {
    html! { p.note role="note" { (text) } }
}

fn kpi(label: &str, value: &str, sub: &str) -> Markup {
    html! {
        div.kpi {
            div.label { (label) }
            div.value { (value) }
            @if !sub.is_empty() { div.sub { (sub) } }
        }
    }
}

fn summary(inp: &ReportInputs) -> Markup {
    let cur = inp.currency.as_deref();
    let fat = match &inp.fatigue {
        Section::Ready(fi) => {
            let risk: Vec<_> = fi.creatives.iter().filter(|c| at_risk(&c.score)).collect();
            let fatigued: Vec<_> = fi
                .creatives
                .iter()
                .filter(|c| c.score.status == "fatigued")
                .collect();
            let spend: f64 = risk.iter().map(|c| c.spend_7d).sum();
            let fspend: f64 = fatigued.iter().map(|c| c.spend_7d).sum();
            html! {
                (kpi("Creatives at risk in the next 7–14 days",
                     &f::count(risk.len() as u64),
                     &format!("of {} scored creatives", f::count(fi.creatives.len() as u64))))
                (kpi("7-day spend behind them", &f::money(spend, cur),
                     &format!("{} to {}", f::short_date(inp.as_of - chrono::Duration::days(6)),
                              f::short_date(inp.as_of))))
                (kpi("Already fatigued", &f::count(fatigued.len() as u64),
                     &format!("{} spent in the last 7 days", f::money(fspend, cur))))
            }
        }
        Section::Missing(n) => html! { (kpi("Creative fatigue", MISSING, n)) },
    };
    let bud = match &inp.budget {
        Section::Ready(b) => {
            let moved: f64 = b.plan.entities.iter().map(|e| e.delta.max(0.0)).sum();
            let base = b.plan.expected_outcome_current;
            let rel = |v: f64| if base.abs() > 0.0 { v / base } else { f64::NAN };
            html! {
                (kpi(&format!("Recommended budget shift per {}", b.period),
                     &f::money(moved, cur),
                     &format!("of {} per {} moved between {} entities",
                              f::money(b.plan.total_budget, cur), b.period,
                              f::count(b.plan.entities.len() as u64))))
                (kpi(&format!("Expected lift, {} per {}", budget::outcome_word(&b.outcome), b.period),
                     &f::signed_number(b.lift.point, 1),
                     &format!("{} ({}% interval {} to {})",
                              f::signed_percent(rel(b.lift.point), 1),
                              f::number(b.interval * 100.0, 0),
                              f::signed_number(b.lift.lo, 1), f::signed_number(b.lift.hi, 1))))
            }
        }
        Section::Missing(n) => html! { (kpi("Budget shift", MISSING, n)) },
    };
    let body = html! {
        div.kpis { (fat) (bud) }
        h3 { "Data coverage" }
        table {
            thead { tr { th { "Platform" } th.num { "Rows" } th.num { "Creatives" }
                         th { "Date range" } th.num { "Spend" } } }
            tbody {
                @for c in &inp.coverage {
                    tr { td { (c.platform) } td.num { (f::count(c.rows)) }
                         td.num { (f::count(c.creatives)) }
                         td { (f::date_range(c.from, c.to)) }
                         td.num { (f::money(c.spend, cur)) } }
                }
            }
            tfoot {
                tr { th { "All platforms" }
                     th.num { (f::count(inp.coverage.iter().map(|c| c.rows).sum())) }
                     th.num { (f::count(inp.coverage.iter().map(|c| c.creatives).sum())) }
                     th { @if let (Some(a), Some(b)) = (inp.coverage.iter().map(|c| c.from).min(),
                                                        inp.coverage.iter().map(|c| c.to).max()) {
                            (f::date_range(a, b)) } }
                     th.num { (f::money(inp.coverage.iter().map(|c| c.spend).sum(), cur)) } }
            }
        }
        @if inp.currency.is_none() {
            p.small { "Amounts are in each account's own currency (more than one currency, or none reported)." }
        }
        h3 { "Models in use" }
        table {
            thead { tr { th { "Model" } th { "Version" } th { "Family" } th { "Trained" }
                         th { "Training data" } th.num { "Holdout score" } } }
            tbody {
                @for (kind, card) in [("Creative fatigue", inp.fatigue.ready().map(|x| &x.card)),
                                      ("Budget response", inp.budget.ready().map(|x| &x.card))] {
                    @match card {
                        Some(c) => tr { td { (kind) } td.mono { (c.version) } td.wrap { (family(c)) }
                                        td { (f::timestamp(&c.created)) } td { (card_range(c)) }
                                        td.num { (card_score(c)) } },
                        None => tr { td { (kind) } td colspan="5" { "no champion model" } },
                    }
                }
            }
        }
    };
    section(
        "summary",
        "the headline numbers first — how many creatives need a refresh soon and what budget \
         move the response curves recommend — then how much data stands behind them and which \
         model versions produced them.",
        body,
    )
}

/// The model family, breakable after commas (budget cards list every curve family).
fn family(c: &ModelCard) -> String {
    c.model.replace(',', ", ")
}

fn card_range(c: &ModelCard) -> String {
    match (c.data_from, c.data_to) {
        (Some(a), Some(b)) => format!("{} ({} rows)", f::date_range(a, b), f::count(c.rows)),
        _ => format!("{} rows", f::count(c.rows)),
    }
}

fn card_score(c: &ModelCard) -> String {
    match c.score() {
        Some(v) => format!("{} {}", c.selection_metric, f::number(v, 3)),
        None => MISSING.into(),
    }
}

fn definitions(inp: &ReportInputs) -> Markup {
    let d = &inp.definitions;
    let l = &d.labels;
    let s = &d.scoring;
    let body = html! {
        h3 { "Creative fatigue" }
        ul {
            li { strong { "Cost-like metric: " } "cost per conversion when the launch window has at least "
                 (f::number(l.cpa_min_conversions, 0)) " conversions, else cost per click with at least "
                 (f::count(l.cpc_min_clicks as u64)) " clicks, else impressions per click (sources without cost) with at least "
                 (f::count(l.inv_ctr_min_clicks as u64)) " clicks." }
            li { strong { "Launch baseline: " } "the metric over the creative's first active days until it reaches "
                 (f::count(l.baseline_min_impressions as u64)) " impressions, within its first "
                 (l.baseline_max_active_days) " active days; otherwise the creative has insufficient data." }
            li { strong { "Rolling value: " } "the metric over the last " (l.rolling_days)
                 " calendar days (a ratio of sums, not a mean of daily ratios)." }
            li { strong { "Onset of fatigue: " } "the first day the rolling value is at least "
                 (f::number(l.onset_ratio, 1)) "× the baseline and stays there " (l.onset_consecutive_days)
                 " consecutive days. From " (f::number(l.limited_ratio, 1)) "× up to that the creative is "
                 em { "limited" } "." }
            li { strong { "Seasonal adjustment: " }
                 @if l.seasonal_adjustment {
                     "on — the ratio is divided by the account's own movement"
                     @if l.account_index_leave_one_out { " (without the creative itself)" }
                     ", so an account-wide rise is not counted as fatigue."
                 } @else { "off — raw ratios." } }
            li { strong { "Stopped creatives: " } "no delivery for " (l.stop_after_days)
                 " days before the end of the data; they are censored, not counted as healthy." }
            li { strong { "Forecast: " } "the probability of onset within 7 and 14 days (horizon "
                 (d.horizon_days) " days). Action " em { "refresh now" } " when P(onset ≤ 7 days) ≥ "
                 (f::percent(s.refresh_now_p7, 0)) "; " em { "prepare a refresh" } " when P(onset ≤ 14 days) ≥ "
                 (f::percent(s.prepare_refresh_p14, 0)) "." }
        }
        h3 { "Attribution caveats" }
        ul {
            li { "Conversions and conversion value are what each platform attributes to its own ads, with its own windows (click and view-through); the same sale can be claimed by more than one platform, so totals across platforms overstate real sales." }
            li { "Budget response curves are fitted per entity against that entity's attributed outcome: they describe association in past data, not the result of an experiment; effects across channels (one channel's spend lifting another's results) are not modelled." }
            li { "Curves are reliable only over the spend range seen in the past; recommendations far outside it are extrapolations (the interval bands widen there)." }
            li { "Intervals come from the model's posterior draws and resampled residuals; they cover model uncertainty on past data, not market changes." }
        }
        h3 { "Data the models were trained on" }
        table {
            thead { tr { th { "Model" } th { "Version" } th { "Data range" } th.num { "Rows" }
                         th.num { "Inputs" } th.num { "Seed" } th { "Trained" } } }
            tbody {
                @for (kind, card) in [("Creative fatigue", inp.fatigue.ready().map(|x| &x.card)),
                                      ("Budget response", inp.budget.ready().map(|x| &x.card))] {
                    @if let Some(c) = card {
                        tr { td.wrap { (kind) ": " (family(c)) } td.mono { (c.version) }
                             td { @match (c.data_from, c.data_to) {
                                     (Some(a), Some(b)) => (f::date_range(a, b)),
                                     _ => (MISSING) } }
                             td.num { (f::count(c.rows)) } td.num { (f::count(c.features.len() as u64)) }
                             td.num { (c.seed) } td { (f::timestamp(&c.created)) } }
                    } @else {
                        tr { td { (kind) } td colspan="6" { "no champion model" } }
                    }
                }
            }
        }
        p.small { "Rows: person-period training rows for the fatigue model; fitted periods over all entities for the budget model. Inputs: features (fatigue) or entities (budget)." }
    };
    section(
        "definitions",
        "the rules behind every number in this report; when a definition changes (training/fatigue.toml), retrain the models before comparing reports.",
        body,
    )
}
