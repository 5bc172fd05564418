//! The plain-language text beside each tool result, built from its numbers (formatted as the
//! report formats them). Short: an agent reads the structured content for the rest.

use crate::api::routes::fatigue::ScoreResponse;
use crate::budget::service::{ForecastView, PlanView};
use crate::report::format as f;
use crate::report::inputs::{self, ReportInputs, Section, urgency_order};
use crate::state::Job;

use super::tools::{AtRiskCreative, AtRiskResponse, BudgetSummary, ModelHealth, ReportSummary};

fn action_words(a: &str, status: &str) -> &'static str {
    match (status, a) {
        ("fatigued", _) => "already fatigued: replace it",
        (_, "refresh_now") => "refresh now",
        (_, "prepare_refresh") => "prepare a refresh",
        (_, "keep") => "keep",
        _ => "no forecast (too little data)",
    }
}

fn creative_line(c: &AtRiskCreative) -> String {
    let mut s = format!(
        "{} ({} account {}): {}",
        c.ad_id,
        c.platform,
        c.account_id,
        action_words(&c.action, &c.status)
    );
    if c.status != "fatigued" && c.p_onset_14d.is_some() {
        s.push_str(&format!(
            "; onset within 7 days {}, within 14 days {}",
            f::opt_percent(c.p_onset_7d, 0),
            f::opt_percent(c.p_onset_14d, 0)
        ));
    }
    if !c.drivers.is_empty() {
        s.push_str(&format!("; drivers: {}", c.drivers));
    }
    s
}

pub fn at_risk(r: &AtRiskResponse) -> String {
    let mut s = format!(
        "As of {} (model {}): {} of {} scored creatives are at risk of fatigue within 14 days \
         and {} are already fatigued.",
        r.as_of,
        r.model_version,
        f::count(r.creatives_at_risk as u64),
        f::count(r.creatives_scored as u64),
        f::count(r.creatives_fatigued as u64)
    );
    if r.creatives.is_empty() {
        s.push_str(" None needs action now.");
    } else {
        s.push_str(" Most urgent first:");
        for (i, c) in r.creatives.iter().enumerate() {
            s.push_str(&format!("\n{}. {}", i + 1, creative_line(c)));
        }
    }
    s
}

pub fn scores(r: &ScoreResponse) -> String {
    let n = |pred: &dyn Fn(&crate::fatigue::ScoreRow) -> bool| {
        r.scores.iter().filter(|s| pred(s)).count()
    };
    let fatigued = n(&|s| s.status == "fatigued");
    let now = n(&|s| s.status != "fatigued" && s.action == "refresh_now");
    let prep = n(&|s| s.status != "fatigued" && s.action == "prepare_refresh");
    let keep = n(&|s| s.status != "fatigued" && s.action == "keep");
    let mut s = format!(
        "Scored {} creatives as of {} with model {}: {} to refresh now, {} to prepare a \
         refresh, {} to keep, {} already fatigued, {} without a forecast.",
        r.scores.len(),
        r.as_of,
        r.model_version,
        now,
        prep,
        keep,
        fatigued,
        r.scores.len() - fatigued - now - prep - keep
    );
    for row in r.scores.iter().take(5) {
        s.push_str(&format!(
            "\n- {}",
            creative_line(&AtRiskCreative::from(row))
        ));
    }
    if r.scores.len() > 5 {
        s.push_str(&format!("\n(and {} more)", r.scores.len() - 5));
    }
    if !r.unknown_ad_ids.is_empty() {
        s.push_str(&format!("\nNo data for: {}.", r.unknown_ad_ids.join(", ")));
    }
    s
}

pub fn plan(p: &PlanView) -> String {
    let gain = p.expected_outcome - p.expected_outcome_current;
    let rel = if p.expected_outcome_current.abs() > 0.0 {
        gain / p.expected_outcome_current
    } else {
        f64::NAN
    };
    let moved: f64 = p.entities.iter().map(|e| e.delta.max(0.0)).sum();
    let mut s = format!(
        "Dry run (nothing was changed). Budget {} per period: moving {} between {} entities \
         changes the expected outcome from {} to {} ({}, {}).",
        f::number(p.total_budget, 2),
        f::number(moved, 2),
        p.entities.len(),
        f::number(p.expected_outcome_current, 2),
        f::number(p.expected_outcome, 2),
        f::signed_number(gain, 2),
        f::signed_percent(rel, 1)
    );
    let mut by_move: Vec<_> = p.entities.iter().filter(|e| e.delta.abs() > 1e-9).collect();
    by_move.sort_by(|a, b| b.delta.abs().total_cmp(&a.delta.abs()));
    for e in by_move.iter().take(5) {
        s.push_str(&format!(
            "\n- {}: {} → {} ({})",
            e.id,
            f::number(e.current, 2),
            f::number(e.recommended, 2),
            f::signed_number(e.delta, 2)
        ));
    }
    if by_move.len() > 5 {
        s.push_str(&format!("\n(and {} more moves)", by_move.len() - 5));
    }
    for n in &p.notes {
        s.push_str(&format!("\nNote: {n}"));
    }
    s
}

pub fn forecast(v: &ForecastView) -> String {
    let total: Vec<_> = v.rows.iter().filter(|r| r.series == "total").collect();
    let rows = if total.is_empty() {
        v.rows.iter().collect()
    } else {
        total
    };
    let sum = |g: &dyn Fn(&crate::budget::fit::PeriodForecast) -> f64| -> f64 {
        rows.iter().map(|r| g(r)).sum()
    };
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return format!("Model {}: nothing to forecast.", v.model_version);
    };
    let mut s = format!(
        "Model {}: from {} to {} the plan spends {} and is expected to bring {} in total \
         (per period the {}% interval runs from {} to {} on average).",
        v.model_version,
        first.period,
        last.period,
        f::number(sum(&|r| r.spend), 2),
        f::number(sum(&|r| r.outcome), 2),
        f::number(v.interval * 100.0, 0),
        f::number(sum(&|r| r.outcome_lo) / rows.len() as f64, 2),
        f::number(sum(&|r| r.outcome_hi) / rows.len() as f64, 2),
    );
    for n in &v.notes {
        s.push_str(&format!("\nNote: {n}"));
    }
    s
}

pub fn health(h: &ModelHealth) -> String {
    let model = |name: &str, m: &super::tools::ServedModel| match &m.version {
        None => format!("{name}: no model."),
        Some(v) => format!(
            "{name}: {v}{} ({}, trained {}{}; {} {}).",
            if m.on_prior {
                " — cold-start prior"
            } else {
                ""
            },
            m.family.as_deref().unwrap_or("unknown family"),
            m.trained.as_deref().unwrap_or("at an unknown time"),
            m.age_days
                .map(|a| format!(", {a} days ago"))
                .unwrap_or_default(),
            m.selection_metric.as_deref().unwrap_or("score"),
            f::opt_number(m.selection_score, 3)
        ),
    };
    let data = match (h.data.last_date, h.data.days_since_last) {
        (Some(d), Some(age)) => format!(
            "Data: {} rows of {} creatives up to {d} ({age} days ago).",
            f::count(h.data.rows),
            f::count(h.data.creatives)
        ),
        _ => "Data: none.".to_string(),
    };
    let mut s = format!(
        "{}\n{}\n{}",
        model("Fatigue", &h.fatigue),
        model("Budget", &h.budget),
        data
    );
    if h.warnings.is_empty() {
        s.push_str("\nNo warnings.");
    } else {
        for w in &h.warnings {
            s.push_str(&format!("\nWarning: {w}"));
        }
    }
    s
}

pub fn job(j: &Job) -> String {
    let mut s = format!(
        "Job {} ({} model): {}, {}% done",
        j.id,
        j.kind,
        j.status.as_str(),
        f::number(j.progress * 100.0, 0)
    );
    if !j.message.is_empty() {
        s.push_str(&format!(" — {}", j.message));
    }
    s.push('.');
    if let Some(e) = &j.error {
        s.push_str(&format!(" Error: {e}"));
    }
    s
}

/// The report's summary from its inputs: the numbers of its summary cards, the five most
/// urgent creatives, and the text.
pub fn report_summary(inp: &ReportInputs) -> ReportSummary {
    let cur = inp.currency.as_deref();
    let mut notes = Vec::new();
    let mut text = format!("Report for {} as of {}.", inp.tenant, inp.as_of);
    let (mut scored, mut risky, mut fatigued, mut spend, mut top) =
        (None, None, None, None, vec![]);
    match &inp.fatigue {
        Section::Ready(fi) => {
            let risk: Vec<_> = fi
                .creatives
                .iter()
                .filter(|c| inputs::at_risk(&c.score))
                .collect();
            let fat: Vec<_> = fi
                .creatives
                .iter()
                .filter(|c| c.score.status == "fatigued")
                .collect();
            let sp: f64 = risk.iter().map(|c| c.spend_7d).sum();
            let fsp: f64 = fat.iter().map(|c| c.spend_7d).sum();
            top = urgency_order(&fi.creatives)
                .into_iter()
                .filter(|&i| {
                    let s = &fi.creatives[i].score;
                    inputs::at_risk(s) || s.status == "fatigued"
                })
                .take(5)
                .map(|i| AtRiskCreative::from(&fi.creatives[i].score))
                .collect();
            text.push_str(&format!(
                " {} of {} scored creatives are at risk of fatigue in the next 7–14 days, with \
                 {} of spend behind them over the last 7 days; {} are already fatigued ({} \
                 spent in the last 7 days).",
                f::count(risk.len() as u64),
                f::count(fi.creatives.len() as u64),
                f::money(sp, cur),
                f::count(fat.len() as u64),
                f::money(fsp, cur)
            ));
            for (i, c) in top.iter().enumerate() {
                text.push_str(&format!("\n{}. {}", i + 1, creative_line(c)));
            }
            scored = Some(fi.creatives.len());
            risky = Some(risk.len());
            fatigued = Some(fat.len());
            spend = Some(sp);
        }
        Section::Missing(n) => {
            text.push_str(&format!(" Creative fatigue: {n}."));
            notes.push(format!("creative fatigue: {n}"));
        }
    }
    let budget = match &inp.budget {
        Section::Ready(b) => {
            let moved: f64 = b.plan.entities.iter().map(|e| e.delta.max(0.0)).sum();
            text.push_str(&format!(
                "\nBudget: moving {} of {} per {} between {} entities is expected to change \
                 the {} per {} by {} ({}% interval {} to {}).",
                f::money(moved, cur),
                f::money(b.plan.total_budget, cur),
                b.period,
                b.plan.entities.len(),
                b.outcome,
                b.period,
                f::signed_number(b.lift.point, 1),
                f::number(b.interval * 100.0, 0),
                f::signed_number(b.lift.lo, 1),
                f::signed_number(b.lift.hi, 1)
            ));
            Some(BudgetSummary {
                model_version: b.card.version.clone(),
                period: b.period.clone(),
                outcome: b.outcome.clone(),
                total_budget: b.plan.total_budget,
                moved,
                entities: b.plan.entities.len(),
                lift: b.lift.point,
                lift_lo: b.lift.lo,
                lift_hi: b.lift.hi,
                interval: b.interval,
            })
        }
        Section::Missing(n) => {
            text.push_str(&format!("\nBudget: {n}."));
            notes.push(format!("budget: {n}"));
            None
        }
    };
    ReportSummary {
        tenant: inp.tenant.clone(),
        as_of: inp.as_of,
        currency: inp.currency.clone(),
        creatives_scored: scored,
        creatives_at_risk: risky,
        creatives_fatigued: fatigued,
        spend_7d_at_risk: spend,
        top_at_risk: top,
        budget,
        notes,
        text,
    }
}
