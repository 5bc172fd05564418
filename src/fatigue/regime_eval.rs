//! The evaluation behind the real-data figures (`omnify evaluate fatigue-regimes`): fresh
//! simulated worlds of each real-shaped regime ([`crate::simulate::regimes`]), every tenant
//! run through the same job as `omnify train fatigue` (adaptive validation, the prior
//! competing), and per tenant the served model, the best rule baseline, the prior alone and the
//! tenant's best learned family, all on the same out-of-sample rows.
//!
//! Where a tenant's data cannot be validated (method `none`), the served model is the prior
//! (or a rule baseline), and it is scored on every labelled row of the tenant: the prior never
//! saw these worlds, so those rows are out of sample for it; the rule baselines are then fitted
//! on the same rows (in sample, which favours them).

use ndarray::Array2;
use polars::prelude::*;

use super::FatigueError;
use super::config::JobConfig;
use super::dataset::SurvivalData;
use super::metrics::{Metrics, evaluate as metrics_of};
use super::pipeline::{Evaluated, PRIOR_MODEL, evaluate, impressions_clicks_only, is_prior};
use super::selection::choose;
use super::validation::Method;
use crate::schema::rows_to_frame;
use crate::simulate::regimes::{Regime, regime_rows};

/// One tenant of one world.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantResult {
    pub regime: String,
    pub seed: u64,
    pub tenant: String,
    pub method: String,
    pub onsets: usize,
    pub rows: usize,
    pub served: String,
    /// AUC@14, concordance and calibration error of the served model.
    pub served_auc_14: Option<f64>,
    pub served_c_index: Option<f64>,
    pub served_ece: Option<f64>,
    /// The best rule baseline by AUC@14 on the same rows (picked after the fact).
    pub best_baseline: Option<String>,
    pub baseline_auc_14: Option<f64>,
    /// The best rule baseline's concordance (picked after the fact, by concordance).
    pub baseline_c_index: Option<f64>,
    pub prior_auc_14: Option<f64>,
    pub prior_c_index: Option<f64>,
    /// The tenant's best learned family (none when unvalidated).
    pub learned_auc_14: Option<f64>,
    pub learned_c_index: Option<f64>,
    /// Share of creatives that reach a launch baseline and have an as-of row the models score.
    pub scored_share: f64,
    /// The served model's (P(onset ≤ 14 d), onset within 14 d) on its labelled rows, for the
    /// calibration error pooled over tenants.
    #[serde(skip)]
    pub served_p14: Vec<(f64, bool)>,
}

/// Calibration error of P(onset ≤ 14 d) pooled over the tenants' rows.
pub fn pooled_ece<'a>(rows: impl Iterator<Item = &'a TenantResult>) -> Option<f64> {
    let (p, y): (Vec<f64>, Vec<bool>) = rows.flat_map(|r| r.served_p14.iter().copied()).unzip();
    super::metrics::ece(&p, &y)
}

/// (P(onset ≤ 14 d), label) of the rows of `d` that have a 14-day label.
fn p14_pairs(hz: &Array2<f64>, d: &SurvivalData) -> Vec<(f64, bool)> {
    (0..d.len())
        .filter_map(|i| {
            d.eval_label_at(i, 14).map(|l| {
                let s: f64 = hz.row(i).iter().take(14).map(|h| 1.0 - h).product();
                (1.0 - s, l)
            })
        })
        .collect()
}

/// Mean of the values present.
pub fn mean(v: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let xs: Vec<f64> = v.flatten().collect();
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The metrics of model `i` on the evaluated rows, or on every labelled row when `all_rows`,
/// with its (P(onset ≤ 14 d), label) pairs there.
fn metrics_at(
    ev: &Evaluated,
    i: usize,
    all_rows: bool,
) -> Result<(Metrics, Vec<(f64, bool)>), FatigueError> {
    if !all_rows {
        let d = ev.data.subset(&ev.evaluated);
        return Ok((
            ev.report.models[i].metrics.clone(),
            p14_pairs(&ev.hazards[i], &d),
        ));
    }
    let Some(model) = &ev.fitted[i] else {
        return Ok((Metrics::default(), Vec::new()));
    };
    let hz: Array2<f64> = model.hazards(&ev.data.x)?;
    Ok((metrics_of(&hz, &ev.data), p14_pairs(&hz, &ev.data)))
}

/// The larger of two optional values.
fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Runs every tenant of every (regime, seed) world; `progress` gets one line per tenant.
pub fn run(
    regimes: &[Regime],
    seeds: &[u64],
    tenants: usize,
    cfg: &JobConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<TenantResult>, FatigueError> {
    let mut out = Vec::new();
    for &regime in regimes {
        for &seed in seeds {
            let world = regime_rows(regime, seed, tenants)
                .map_err(|e| FatigueError::Config(e.to_string()))?;
            for (tenant, rows) in world {
                progress(&format!("{} seed {seed} tenant {tenant}", regime.name()));
                let mut lf = rows_to_frame(&tenant, &rows)?.lazy();
                if regime.impressions_clicks_only() {
                    lf = impressions_clicks_only(lf);
                }
                let ev = match evaluate(lf, cfg, &mut |_, _, _| {}) {
                    Ok(ev) => ev,
                    Err(FatigueError::Data(e)) => {
                        progress(&format!("  skipped: {e}"));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let v = ev.report.validation_done();
                let unvalidated = v.method == Method::None;
                let served = choose(&ev, cfg)?.index;
                let (served_m, served_p14) = metrics_at(&ev, served, unvalidated)?;
                let mut best_baseline: Option<(String, f64)> = None;
                let mut baseline_c_index = None;
                let (mut prior_auc_14, mut prior_c_index) = (None, None);
                let (mut learned_auc_14, mut learned_c_index) = (None, None);
                for (i, r) in ev.report.models.iter().enumerate() {
                    let (m, _) = metrics_at(&ev, i, unvalidated)?;
                    if r.model == PRIOR_MODEL {
                        (prior_auc_14, prior_c_index) = (m.auc_14, m.c_index);
                    } else if is_prior(&r.model) {
                        continue;
                    } else if r.learned {
                        learned_auc_14 = max_opt(learned_auc_14, m.auc_14);
                        learned_c_index = max_opt(learned_c_index, m.c_index);
                    } else {
                        baseline_c_index = max_opt(baseline_c_index, m.c_index);
                        if let Some(a) = m.auc_14
                            && best_baseline.as_ref().is_none_or(|(_, b)| a > *b)
                        {
                            best_baseline = Some((r.model.clone(), a));
                        }
                    }
                }
                let c = &ev.report.rule_counts;
                let with_baseline = c.creatives.saturating_sub(c.insufficient_data);
                let scored: std::collections::BTreeSet<usize> =
                    ev.data.creative.iter().copied().collect();
                out.push(TenantResult {
                    regime: regime.name().into(),
                    seed,
                    tenant,
                    method: v.method.as_str().into(),
                    onsets: v.onsets,
                    rows: v.rows,
                    served: ev.report.models[served].model.clone(),
                    served_auc_14: served_m.auc_14,
                    served_c_index: served_m.c_index,
                    served_ece: served_m.ece,
                    best_baseline: best_baseline.as_ref().map(|b| b.0.clone()),
                    baseline_auc_14: best_baseline.map(|b| b.1),
                    baseline_c_index,
                    prior_auc_14,
                    prior_c_index,
                    learned_auc_14,
                    learned_c_index,
                    served_p14,
                    scored_share: if with_baseline == 0 {
                        0.0
                    } else {
                        scored.len() as f64 / with_baseline as f64
                    },
                });
            }
        }
    }
    Ok(out)
}
