//! Everything a report shows, already computed ([`ReportInputs`]): [`super::gather`] fills it
//! from the warehouse, the registry and the models; [`super::render`] only formats it. Keeping
//! the two apart makes rendering pure, fast and testable on hand-made or synthetic inputs.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::budget::fit::PeriodForecast;
use crate::budget::service::PlanView;
use crate::fatigue::pipeline::StoredEvaluation;
use crate::fatigue::{ScoreRow, ScoringConfig};
use crate::features::LabelConfig;
use crate::registry::ModelCard;

/// A section's data, or why it cannot be shown (one line, with what to do).
#[derive(Debug, Clone)]
pub enum Section<T> {
    Ready(Box<T>),
    Missing(String),
}

impl<T> Section<T> {
    pub fn ready(&self) -> Option<&T> {
        match self {
            Section::Ready(t) => Some(t),
            Section::Missing(_) => None,
        }
    }
}

/// Rows, creatives, days and spend of one platform in the tenant's warehouse data.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub platform: String,
    pub rows: u64,
    pub creatives: u64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Spend over the whole range (currency units; 0 for sources without cost).
    pub spend: f64,
}

/// A scored creative with the spend behind it.
#[derive(Debug, Clone)]
pub struct CreativeInput {
    pub score: ScoreRow,
    /// Spend over the 7 days ending on the as-of day (currency units).
    pub spend_7d: f64,
}

/// The recent path of a creative's cost-like metric (for the top-N charts).
#[derive(Debug, Clone, PartialEq)]
pub struct CreativeHistory {
    /// Index into [`FatigueInputs::creatives`].
    pub creative: usize,
    /// `cpa`, `cpc` or `inv_ctr`.
    pub metric_kind: String,
    /// Launch baseline of the metric (same unit as the values).
    pub baseline: f64,
    /// Rolling-window value per day up to the as-of day (None: nothing delivered / unknown).
    pub points: Vec<(NaiveDate, Option<f64>)>,
}

/// The fatigue section's data.
#[derive(Debug, Clone)]
pub struct FatigueInputs {
    pub card: ModelCard,
    pub creatives: Vec<CreativeInput>,
    pub histories: Vec<CreativeHistory>,
    /// The champion's stored evaluation, or the note shown instead.
    pub evaluation: Result<StoredEvaluation, String>,
    pub scoring: ScoringConfig,
    pub horizon_days: usize,
}

/// One entity's response curve over a spend grid, with its posterior interval.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityCurve {
    pub id: String,
    /// Spend per period (currency units), increasing.
    pub spend: Vec<f64>,
    /// Expected outcome per period at each spend (point fit), and the interval bounds.
    pub outcome: Vec<f64>,
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
    pub current: f64,
    pub recommended: f64,
}

/// A value with its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub point: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The budget section's data.
#[derive(Debug, Clone)]
pub struct BudgetInputs {
    pub card: ModelCard,
    /// What the curves measure (`conversions`, `conversion_value`, ...).
    pub outcome: String,
    /// `day` or `week`.
    pub period: String,
    /// Central interval level (e.g. 0.9).
    pub interval: f64,
    /// The allocation of the current total spend.
    pub plan: PlanView,
    /// Largest move per entity, percent of its current spend (the plan's guardrail).
    pub max_shift_pct: Option<f64>,
    /// Outcome per period of the recommended minus the current split.
    pub lift: Estimate,
    /// Curves to draw (the entities with the most spend; the rest are in the plan table).
    pub curves: Vec<EntityCurve>,
    /// Next periods' total outcome under the current and the recommended split.
    pub forecast_current: Vec<PeriodForecast>,
    pub forecast_recommended: Vec<PeriodForecast>,
    pub notes: Vec<String>,
}

/// The definitions in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Definitions {
    pub labels: LabelConfig,
    pub scoring: ScoringConfig,
    pub horizon_days: usize,
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct ReportInputs {
    pub tenant: String,
    pub as_of: NaiveDate,
    /// When the report was made (RFC 3339, UTC).
    pub created: String,
    /// The tenant's spend currency when there is exactly one (else amounts print bare).
    pub currency: Option<String>,
    pub coverage: Vec<Coverage>,
    pub fatigue: Section<FatigueInputs>,
    pub budget: Section<BudgetInputs>,
    pub definitions: Definitions,
    /// Creatives charted in "Creatives at risk".
    pub top_n: usize,
}

/// Urgency rank of a scored creative: confirmed fatigue first, then refresh now, prepare a
/// refresh, keep, and no data.
pub fn urgency_rank(s: &ScoreRow) -> u8 {
    match (s.status.as_str(), s.action.as_str()) {
        ("fatigued", _) => 0,
        (_, "refresh_now") => 1,
        (_, "prepare_refresh") => 2,
        (_, "keep") => 3,
        _ => 4,
    }
}

/// Creative indices from the most to the least urgent: by [`urgency_rank`], then
/// P(onset ≤ 14 days) and 7-day spend, both descending, then the ad id (a stable order).
pub fn urgency_order(c: &[CreativeInput]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..c.len()).collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (&c[a], &c[b]);
        urgency_rank(&x.score)
            .cmp(&urgency_rank(&y.score))
            .then(
                y.score
                    .p_onset_14d
                    .unwrap_or(-1.0)
                    .total_cmp(&x.score.p_onset_14d.unwrap_or(-1.0)),
            )
            .then(y.spend_7d.total_cmp(&x.spend_7d))
            .then_with(|| x.score.ad_id.cmp(&y.score.ad_id))
    });
    idx
}

/// At risk of onset within the horizon: not yet fatigued, and the action is to refresh now or
/// prepare a refresh.
pub fn at_risk(s: &ScoreRow) -> bool {
    s.status != "fatigued" && matches!(s.action.as_str(), "refresh_now" | "prepare_refresh")
}

/// The creatives charted: the first `n` in urgency order that have a forecast (at risk of
/// onset, i.e. not already fatigued and scored).
pub fn top_forecast(c: &[CreativeInput], n: usize) -> Vec<usize> {
    urgency_order(c)
        .into_iter()
        .filter(|&i| c[i].score.status != "fatigued" && c[i].score.p_onset_14d.is_some())
        .take(n)
        .collect()
}

/// Counts for the report's metadata.
pub fn counts(inputs: &ReportInputs) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    if let Some(f) = inputs.fatigue.ready() {
        m.insert("creatives_scored".into(), f.creatives.len() as u64);
        m.insert(
            "creatives_at_risk".into(),
            f.creatives.iter().filter(|c| at_risk(&c.score)).count() as u64,
        );
        m.insert(
            "creatives_fatigued".into(),
            f.creatives
                .iter()
                .filter(|c| c.score.status == "fatigued")
                .count() as u64,
        );
    }
    if let Some(b) = inputs.budget.ready() {
        m.insert("entities".into(), b.plan.entities.len() as u64);
    }
    m.insert(
        "warehouse_rows".into(),
        inputs.coverage.iter().map(|c| c.rows).sum(),
    );
    m
}
