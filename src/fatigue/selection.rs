//! Which fatigue model a job serves ([`choose`]) and whether it replaces the tenant's
//! champion ([`promotion`]).
//!
//! - **Choice**: the best candidate by the selection metric on the evaluated (out-of-sample)
//!   rows among the learned families, the cold-start prior and the recalibrated prior;
//!   candidates within `selection_tolerance` are tied and the better calibrated wins. Without a
//!   14-day label on those rows (short histories), the concordance index decides. Without
//!   validation, the prior serves, or with the prior disabled the rule baseline that ranks best
//!   on every labelled row.
//! - **Promotion**: on the same evaluated rows when the champion can score them; otherwise only
//!   a validation at least as strong (method, then onsets) replaces the champion.

use super::FatigueError;
use super::baselines::BaselineRule;
use super::config::JobConfig;
use super::metrics::{evaluate as metrics_of, metric_direction};
use super::model::FittedModel;
use super::pipeline::{Evaluated, ModelReport, PRIOR_MODEL, is_prior};
use super::validation::{Method, Validation};
use crate::registry::{ModelKind, Registry};

/// The model a job serves: its row in the evaluation, its score by the metric it was chosen
/// on (none when unvalidated), that metric, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    pub index: usize,
    pub score: Option<f64>,
    pub metric: String,
    pub why: String,
}

/// Which model a job serves, and why: the best by the selection metric on the evaluated rows
/// among the learned families and the prior (baselines only when neither has a value); without
/// validation, the prior, or the rule baseline that ranks best on every labelled row.
pub fn choose(ev: &Evaluated, cfg: &JobConfig) -> Result<Chosen, FatigueError> {
    let configured = cfg.evaluation.selection_metric.as_str();
    let validated = ev.report.validation_done().method != Method::None;
    // Best by `metric`; candidates within `selection_tolerance` of the best count as tied
    // (the prior and its recalibration rank almost alike), and the tie goes to the better
    // calibrated: the lower calibration error, else integrated Brier score (defined under any
    // censoring).
    let tolerance = cfg.evaluation.selection_tolerance;
    let best = |metric: &str, pred: &dyn Fn(&ModelReport) -> bool| -> Option<(usize, f64)> {
        let higher = metric_direction(metric).unwrap_or(true);
        let scored: Vec<(usize, f64, f64)> = ev
            .report
            .models
            .iter()
            .enumerate()
            .filter(|(_, r)| pred(r))
            .filter_map(|(i, r)| {
                let tie = r.metrics.ece.or(r.metrics.ibs).unwrap_or(f64::INFINITY);
                r.metrics
                    .get(metric)
                    .map(|s| (i, if higher { s } else { -s }, tie))
            })
            .collect();
        let top = scored.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max);
        scored
            .into_iter()
            .filter(|x| x.1 >= top - tolerance)
            .min_by(|a, b| a.2.total_cmp(&b.2).then(b.1.total_cmp(&a.1)))
            .map(|(i, s, _)| (i, if higher { s } else { -s }))
    };
    if validated {
        // The configured metric, else the concordance index (defined whatever the follow-up:
        // rows near the end of a short history cannot be labelled at 14 days), else AUC@7.
        for metric in [configured, "c_index", "auc_7"] {
            let why = |what: &str| {
                if metric == configured {
                    format!("{what} by {metric} on the evaluated rows")
                } else {
                    format!(
                        "{what} by {metric} on the evaluated rows (no candidate has a {configured}: too little follow-up after them)"
                    )
                }
            };
            if let Some((i, s)) = best(metric, &|r| r.learned || is_prior(&r.model)) {
                return Ok(Chosen {
                    index: i,
                    score: Some(s),
                    metric: metric.into(),
                    why: why("best"),
                });
            }
            if let Some((i, s)) = best(metric, &|r| !r.learned && !is_prior(&r.model)) {
                return Ok(Chosen {
                    index: i,
                    score: Some(s),
                    metric: metric.into(),
                    why: why("no learned model or prior scored; best rule baseline"),
                });
            }
        }
    }
    let unscored = |index: usize, why: String| Chosen {
        index,
        score: None,
        metric: configured.into(),
        why,
    };
    let prior = ev.report.models.iter().position(|r| r.model == PRIOR_MODEL);
    if let Some(i) = prior {
        return Ok(unscored(
            i,
            "too few onsets to validate: the cold-start prior serves".into(),
        ));
    }
    // No prior: the rule baseline that ranks best on every labelled row (in sample).
    let metric = configured;
    let higher = metric_direction(metric).unwrap_or(true);
    let rows = &ev.data;
    let mut pick: Option<(usize, f64)> = None;
    for (i, r) in ev.report.models.iter().enumerate() {
        if r.learned {
            continue;
        }
        let Some(m) = &ev.fitted[i] else { continue };
        if let Some(v) = metrics_of(&m.hazards(&rows.x)?, rows).get(metric) {
            let better = pick.is_none_or(|(_, b)| if higher { v > b } else { v < b });
            if better {
                pick = Some((i, v));
            }
        }
    }
    let i = pick.map(|p| p.0).or_else(|| {
        ev.report
            .models
            .iter()
            .position(|r| r.model == BaselineRule::Reactive2x.name())
    });
    match i {
        Some(i) => Ok(unscored(
            i,
            format!(
                "too few onsets to validate and the prior is {}: the rule baseline {} serves",
                if cfg.models.use_prior {
                    "unavailable"
                } else {
                    "disabled"
                },
                ev.report.models[i].model
            ),
        )),
        None => Err(FatigueError::Data(
            "no model can be served: too few onsets to validate and no prior or baseline".into(),
        )),
    }
}

/// Whether the new version replaces the champion: on the same evaluated rows when the
/// champion can score them (same features and horizon), else only when the new version's
/// validation is at least as strong (method, then onsets). Returns (promote, reason, champion).
pub fn promotion(
    ev: &Evaluated,
    chosen: usize,
    metric: &str,
    registry: &Registry,
    tenant: &str,
) -> Result<(bool, String, Option<String>), FatigueError> {
    let Some(version) = registry.champion(tenant, ModelKind::Fatigue)? else {
        return Ok((true, "no champion yet".into(), None));
    };
    let higher = metric_direction(metric).unwrap_or(true);
    let mine = ev.report.validation_done();
    let champion = registry.load(tenant, ModelKind::Fatigue, &version).ok();
    let same_schema = champion
        .as_ref()
        .and_then(|l| FittedModel::from_files(&l.files).ok())
        .filter(|m| {
            m.meta.feature_names == ev.data.feature_names && m.meta.horizon == ev.data.horizon
        });
    if let (Some(cm), false) = (&same_schema, ev.evaluated.is_empty()) {
        let test = ev.data.subset(&ev.evaluated);
        let theirs = metrics_of(&cm.hazards(&test.x)?, &test).get(metric);
        if let (Some(o), Some(t)) = (ev.report.models[chosen].metrics.get(metric), theirs) {
            let better = if higher { o > t } else { o < t };
            return Ok((
                better,
                format!(
                    "{metric} on the same {} evaluated rows: {o:.4} vs champion {t:.4}: {}",
                    test.len(),
                    if better { "better" } else { "not better" }
                ),
                Some(version),
            ));
        }
    }
    let theirs: Validation = champion
        .as_ref()
        .and_then(|l| l.card.validation.clone())
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_else(|| Validation::recorded_before(0, 0));
    let promote = mine.strength() >= theirs.strength();
    Ok((
        promote,
        format!(
            "no common rows to compare on; validated by {} vs the champion's {}: {}",
            if mine.method == Method::None {
                format!("nothing ({})", mine.reason)
            } else {
                mine.summary()
            },
            theirs.summary(),
            if promote {
                "at least as strong"
            } else {
                "weaker, champion kept"
            }
        ),
        Some(version),
    ))
}
