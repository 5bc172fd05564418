//! The jobs: [`evaluate`] (fit every learned family and baseline, score them and the cold-start
//! prior on out-of-sample rows, one metrics row each with 90% intervals, plus the label-rule
//! counts) and [`train`] (the same, then the served model is registered with its card and
//! promoted per [`promotion`]). Validation adapts to the data ([`super::validation`]): the
//! configured holdout, else rolling-origin folds, else none, and the report says which.
//! A tenant with less than `min_history_days` of data, or no creative reaching a launch
//! baseline, is refused with what is missing. A registered version also stores
//! [`EVALUATION_FILE`]: the evaluation table plus every model's ROC, calibration bins and
//! onset backtest on the evaluated rows ([`StoredEvaluation`]), which reports draw.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use ndarray::{Array2, Axis};
use polars::prelude::*;

use super::FatigueError;
use super::baselines::BaselineRule;
use super::config::{EvaluationConfig, JobConfig};
use super::dataset::{
    CreativeLabels, Split, SurvivalData, prepare_frame, rule_counts_of, split, survival_rows,
};
use super::metrics::{
    Curves, Metrics, curves as curves_of, evaluate as metrics_of, metric_direction,
};
use super::model::FittedModel;
use super::prior;
use super::selection::{choose, promotion};
use super::validation::{
    CALIBRATION_SHARE, Fold, INTERVAL_LEVEL, Method, Validation, intervals, onsets, rolling_folds,
    split_by_creative,
};
use crate::features::RuleCounts;
use crate::features::rows::Keep;
use crate::registry::{ModelCard, ModelKind, PromotionDecision, Registry};
use crate::schema::{cols as ad, days_to_date};

/// Replaces spend, conversions and conversion value by nulls: a source that reports only
/// impressions and clicks (the labels fall back to inverse CTR).
pub fn impressions_clicks_only(lf: LazyFrame) -> LazyFrame {
    lf.with_columns([
        lit(NULL).cast(DataType::Float64).alias(ad::SPEND),
        lit(NULL).cast(DataType::Float64).alias(ad::CONVERSIONS),
        lit(NULL)
            .cast(DataType::Float64)
            .alias(ad::CONVERSION_VALUE),
    ])
}

/// One row of the evaluation table.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ModelReport {
    pub model: String,
    pub learned: bool,
    pub metrics: Metrics,
    /// 90% intervals of the main metrics (bootstrap over creatives), by metric name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub intervals: BTreeMap<String, [f64; 2]>,
}

/// Days of a slice, as dates.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SliceInfo {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rows: usize,
    pub events: usize,
}

/// What an evaluation did. With holdout validation, `train` / `validation` / `test` are the
/// time slices; with rolling-origin folds, `train` is every labelled row (what the served model
/// is refitted on), `validation` its calibration creatives and `test` the pooled out-of-fold
/// rows; without validation, `test` is empty.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EvaluationReport {
    pub train: SliceInfo,
    pub validation: SliceInfo,
    pub test: SliceInfo,
    pub features: usize,
    pub rule_counts: RuleCounts,
    pub models: Vec<ModelReport>,
    /// The validation actually done (absent in versions trained before it was recorded: those
    /// were all holdouts).
    #[serde(default)]
    pub validation_method: Option<Validation>,
}

impl EvaluationReport {
    /// The validation done (a holdout for reports stored before it was recorded).
    pub fn validation_done(&self) -> Validation {
        self.validation_method
            .clone()
            .unwrap_or_else(|| Validation::recorded_before(self.test.rows, self.test.events))
    }
}

/// Registry file of a fatigue version holding its [`StoredEvaluation`].
pub const EVALUATION_FILE: &str = "evaluation.json";

/// What `evaluation.json` holds: the evaluation of the job that trained the version, and the
/// chart data of every model on the same evaluated rows.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredEvaluation {
    /// The registered (champion-candidate) model's name.
    pub model: String,
    pub report: EvaluationReport,
    /// Per model name (learned families and baselines).
    pub curves: std::collections::BTreeMap<String, Curves>,
}

/// Progress callback: (step done, steps total, what is next).
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, &str);

/// Name of the cold-start prior in evaluation tables and model cards.
pub const PRIOR_MODEL: &str = "prior";
/// The prior with its calibration refitted on the tenant's training rows (its ranking, the
/// tenant's base rates): the warm start, validated like every other candidate.
pub const PRIOR_TUNED: &str = "prior_recalibrated";

/// Whether a model name is the prior or its tuned form.
pub fn is_prior(name: &str) -> bool {
    name == PRIOR_MODEL || name == PRIOR_TUNED
}

/// What `evaluate` fitted and scored, for `train` to register.
pub struct Evaluated {
    pub report: EvaluationReport,
    /// Per row of `report.models` (same order): the model as it would be served. With rolling
    /// origin, learned families are `None` here (their fold fits are not served): `train`
    /// refits the chosen one on every labelled row ([`Evaluated::served`]).
    pub fitted: Vec<Option<FittedModel>>,
    /// Chart data of each model of `report.models` (same order), on the evaluated rows.
    pub curves: Vec<Curves>,
    /// Out-of-sample hazards of each model of `report.models`, on `evaluated` rows.
    pub hazards: Vec<Array2<f64>>,
    /// Every labelled as-of row, and the rows the models were scored on (indices into it).
    pub data: SurvivalData,
    pub evaluated: Vec<usize>,
    /// The split of all rows by creative for a refit (fit, calibrate).
    pub refit: (Vec<usize>, Vec<usize>),
    pub train_rows: usize,
}

fn info(d: &SurvivalData, idx: &[usize], days: (i32, i32)) -> SliceInfo {
    SliceInfo {
        from: days_to_date(days.0),
        to: days_to_date(days.1),
        rows: idx.len(),
        events: idx.iter().filter(|&&i| d.event[i]).count(),
    }
}

/// First and last as-of day of rows `idx` (`fallback` when empty).
fn day_range(d: &SurvivalData, idx: &[usize], fallback: (i32, i32)) -> (i32, i32) {
    let days = idx.iter().map(|&i| d.as_of[i]);
    match (days.clone().min(), days.max()) {
        (Some(a), Some(b)) => (a, b),
        _ => fallback,
    }
}

/// The prior's note for a refused tenant.
fn meanwhile(cfg: &JobConfig) -> &'static str {
    if cfg.models.use_prior && prior::embedded().is_some() {
        "; the cold-start prior scores its creatives meanwhile"
    } else {
        ""
    }
}

/// The tenant's data must span `min_history_days` (checked before the feature pass);
/// otherwise one line says how many more days are needed.
fn check_history(df: &DataFrame, cfg: &JobConfig) -> Result<(), FatigueError> {
    let dates = df.column(ad::DATE)?.cast(&DataType::Int32)?;
    let dates = dates.i32()?;
    let (lo, hi) = (dates.min().unwrap_or(0), dates.max().unwrap_or(0));
    let span = hi - lo + 1;
    let need = cfg.evaluation.min_history_days;
    if span < need {
        return Err(FatigueError::Data(format!(
            "not enough history to train a fatigue model: the data covers {span} days ({} … {}), at least {need} are needed ({} more){}",
            days_to_date(lo),
            days_to_date(hi),
            need - span,
            meanwhile(cfg)
        )));
    }
    Ok(())
}

/// Some creative must reach its launch baseline; otherwise one line says what that takes.
fn check_baselines(creatives: &[CreativeLabels], cfg: &JobConfig) -> Result<(), FatigueError> {
    if creatives.iter().all(|c| c.insufficient) {
        let l = &cfg.base.labels;
        return Err(FatigueError::Data(format!(
            "no creative reaches a launch baseline: none of the {} creatives has {} impressions within its first {} active days (with at least {} clicks for a cost-like metric){}",
            creatives.len(),
            l.baseline_min_impressions,
            l.baseline_max_active_days,
            l.inv_ctr_min_clicks.min(l.cpc_min_clicks),
            meanwhile(cfg)
        )));
    }
    Ok(())
}

/// How the models will be validated, and why.
enum Plan {
    Holdout(Split),
    Folds(Vec<Fold>),
    None,
}

fn plan(data: &SurvivalData, ev: &EvaluationConfig) -> (Plan, String) {
    let need = ev.min_onsets;
    let holdout = match split(data, ev) {
        Ok(sp) => {
            let n = onsets(data, &sp.test);
            if n >= need {
                return (
                    Plan::Holdout(sp),
                    format!("the time split fits and its test slice holds {n} onsets (≥ {need})"),
                );
            }
            format!("the holdout's test slice holds {n} onsets (< {need})")
        }
        Err(e) => format!("the holdout does not fit ({e})"),
    };
    // Configured fold sizes first; a history too short for them tries blocks half as long
    // (at least 7 days; the gap stays ≥ the horizon).
    let mut tried = Vec::new();
    let half = EvaluationConfig {
        fold_days: (ev.fold_days / 2).max(7).min(ev.fold_days),
        min_train_days: (ev.min_train_days / 2).max(7).min(ev.min_train_days),
        ..ev.clone()
    };
    for cfg in [ev, &half] {
        let folds = rolling_folds(data, cfg);
        let pooled: Vec<usize> = folds.iter().flat_map(|f| f.test.iter().copied()).collect();
        let n = onsets(data, &pooled);
        let k = folds.len();
        if k > 0 && n >= need {
            return (
                Plan::Folds(folds),
                format!(
                    "{holdout}; {k} rolling-origin folds of {} days hold {n} onsets",
                    cfg.fold_days
                ),
            );
        }
        tried.push(format!(
            "{k} folds of {} days hold {n} onsets",
            cfg.fold_days
        ));
        if cfg.fold_days == half.fold_days && cfg.min_train_days == half.min_train_days {
            break;
        }
    }
    (
        Plan::None,
        format!(
            "{holdout}; rolling origin: {} (< {need}): too few to compare models",
            tried.join(", ")
        ),
    )
}

/// One model's scores on the evaluated rows, and the model as it would be served.
struct Scored {
    name: String,
    learned: bool,
    served: Option<FittedModel>,
    hazards: Array2<f64>,
}

/// Fits and scores every learned family, baseline and (when enabled) the cold-start prior on
/// `lf` (`ad_daily`), validated as the data allows ([`super::validation`]).
pub fn evaluate(
    lf: LazyFrame,
    cfg: &JobConfig,
    progress: Progress,
) -> Result<Evaluated, FatigueError> {
    let families = &cfg.models.families;
    let ev = &cfg.evaluation;
    progress(0, 1, "labels and features");
    // Features are kept only for the days that can become as-of rows.
    let stride = u32::try_from(ev.stride_days).unwrap_or(u32::MAX);
    let df = lf.collect()?;
    check_history(&df, cfg)?;
    let prepared = prepare_frame(&df, &cfg.base, Keep::AtRiskEvery(stride))?;
    check_baselines(&prepared.creatives, cfg)?;
    let counts = rule_counts_of(&prepared.creatives);
    let data = survival_rows(&prepared, ev);
    let seed = cfg.models.seed;
    let (plan, reason) = plan(&data, ev);
    // Steps: labels, one per learned fit (per fold with rolling origin), the baselines, intervals.
    let fits = match &plan {
        Plan::Folds(f) => families.len() * f.len(),
        _ => families.len(),
    };
    let total = 3 + fits + BaselineRule::ALL.len();
    let all: Vec<usize> = (0..data.len()).collect();
    let refit = split_by_creative(&data, &all, CALIBRATION_SHARE, seed);
    let prior = cfg
        .models
        .use_prior
        .then(prior::embedded)
        .flatten()
        .filter(|p| p.fits(&data));
    let mut step = 1;
    let mut scored: Vec<Scored> = Vec::new();
    let (method, folds, evaluated, slices) = match &plan {
        Plan::Holdout(sp) => {
            let (train, val, test) = (
                data.subset(&sp.train),
                data.subset(&sp.validation),
                data.subset(&sp.test),
            );
            for fam in families {
                progress(step, total, &format!("fitting {fam}"));
                let m = FittedModel::fit_learned(fam, &train, &val, &cfg.models)?;
                scored.push(Scored {
                    name: fam.clone(),
                    learned: true,
                    hazards: m.hazards(&test.x)?,
                    served: Some(m),
                });
                step += 1;
            }
            for rule in BaselineRule::ALL {
                progress(step, total, &format!("scoring {}", rule.name()));
                let m = FittedModel::fit_baseline(rule, &train)?;
                scored.push(Scored {
                    name: rule.name().into(),
                    learned: false,
                    hazards: m.hazards(&test.x)?,
                    served: Some(m),
                });
                step += 1;
            }
            if let Some(p) = prior {
                scored.push(Scored {
                    name: PRIOR_MODEL.into(),
                    learned: false,
                    hazards: p.model.hazards(&test.x)?,
                    served: Some(p.model.clone()),
                });
                let before: Vec<usize> = sp.train.iter().chain(&sp.validation).copied().collect();
                let tuned = p.model.recalibrated(&data.subset(&before))?;
                scored.push(Scored {
                    name: PRIOR_TUNED.into(),
                    learned: false,
                    hazards: tuned.hazards(&test.x)?,
                    served: Some(tuned),
                });
            }
            let slices = (
                info(&data, &sp.train, sp.train_days),
                info(&data, &sp.validation, sp.validation_days),
                info(&data, &sp.test, sp.test_days),
            );
            (Method::Holdout, 1, sp.test.clone(), slices)
        }
        Plan::Folds(folds) => {
            let evaluated: Vec<usize> = folds.iter().flat_map(|f| f.test.iter().copied()).collect();
            let mut names: Vec<(String, bool)> =
                families.iter().map(|f| (f.clone(), true)).collect();
            names.extend(
                BaselineRule::ALL
                    .iter()
                    .map(|r| (r.name().to_string(), false)),
            );
            if prior.is_some() {
                names.push((PRIOR_TUNED.to_string(), false));
            }
            let mut parts: Vec<Vec<Array2<f64>>> = vec![Vec::new(); names.len()];
            for (k, fold) in folds.iter().enumerate() {
                let (fit_idx, cal_idx) =
                    split_by_creative(&data, &fold.train, CALIBRATION_SHARE, seed);
                let (fit, cal, train, test) = (
                    data.subset(&fit_idx),
                    data.subset(&cal_idx),
                    data.subset(&fold.train),
                    data.subset(&fold.test),
                );
                for (j, fam) in families.iter().enumerate() {
                    progress(
                        step,
                        total,
                        &format!("fold {}/{}: {fam}", k + 1, folds.len()),
                    );
                    step += 1;
                    let m = FittedModel::fit_learned(fam, &fit, &cal, &cfg.models)?;
                    parts[j].push(m.hazards(&test.x)?);
                }
                for (j, rule) in BaselineRule::ALL.into_iter().enumerate() {
                    let m = FittedModel::fit_baseline(rule, &train)?;
                    parts[families.len() + j].push(m.hazards(&test.x)?);
                }
                if let Some(p) = prior {
                    let tuned = p.model.recalibrated(&train)?;
                    parts[families.len() + BaselineRule::ALL.len()].push(tuned.hazards(&test.x)?);
                }
            }
            progress(step, total, "rule baselines on every row");
            for ((name, learned), p) in names.into_iter().zip(parts) {
                let views: Vec<_> = p.iter().map(|h| h.view()).collect();
                let hazards = ndarray::concatenate(Axis(0), &views)
                    .map_err(|e| FatigueError::Model(format!("joining fold hazards: {e}")))?;
                // Baselines and the prior's calibration are cheap: refitted on every row here.
                let served = match BaselineRule::ALL.iter().find(|r| r.name() == name) {
                    Some(&rule) => Some(FittedModel::fit_baseline(rule, &data)?),
                    None if name == PRIOR_TUNED => match prior {
                        Some(p) => Some(p.model.recalibrated(&data)?),
                        None => None,
                    },
                    None => None,
                };
                scored.push(Scored {
                    name,
                    learned,
                    served,
                    hazards,
                });
            }
            if let Some(p) = prior {
                scored.push(Scored {
                    name: PRIOR_MODEL.into(),
                    learned: false,
                    hazards: p.model.hazards(&data.subset(&evaluated).x)?,
                    served: Some(p.model.clone()),
                });
            }
            let hi = day_range(&data, &all, (0, 0)).1;
            let slices = (
                info(&data, &refit.0, day_range(&data, &all, (0, 0))),
                info(&data, &refit.1, day_range(&data, &refit.1, (hi, hi))),
                info(&data, &evaluated, day_range(&data, &evaluated, (hi, hi))),
            );
            (Method::RollingOrigin, folds.len(), evaluated, slices)
        }
        Plan::None => {
            // Nothing to score on: the baselines are fitted on every row (one may serve).
            let empty = data.subset(&[]);
            if !data.is_empty() {
                for rule in BaselineRule::ALL {
                    let m = FittedModel::fit_baseline(rule, &data)?;
                    scored.push(Scored {
                        name: rule.name().into(),
                        learned: false,
                        hazards: m.hazards(&empty.x)?,
                        served: Some(m),
                    });
                }
            }
            if let Some(p) = prior {
                scored.push(Scored {
                    name: PRIOR_MODEL.into(),
                    learned: false,
                    hazards: Array2::zeros((0, data.horizon)),
                    served: Some(p.model.clone()),
                });
            }
            let hi = day_range(&data, &all, (0, 0)).1;
            let slices = (
                info(&data, &refit.0, day_range(&data, &all, (0, 0))),
                info(&data, &refit.1, day_range(&data, &refit.1, (hi, hi))),
                info(&data, &[], (hi, hi)),
            );
            (Method::None, 0, Vec::new(), slices)
        }
    };
    progress(total - 1, total, "intervals");
    let test = data.subset(&evaluated);
    let mut interval_metrics = vec!["auc_7", "auc_14", "ece"];
    if !interval_metrics.contains(&ev.selection_metric.as_str()) {
        interval_metrics.push(ev.selection_metric.as_str());
    }
    let mut models = Vec::new();
    let mut curves = Vec::new();
    let mut fitted = Vec::new();
    let mut hazards = Vec::new();
    for s in scored {
        models.push(ModelReport {
            model: s.name,
            learned: s.learned,
            metrics: metrics_of(&s.hazards, &test),
            intervals: intervals(
                &s.hazards,
                &test,
                &interval_metrics,
                ev.bootstrap_resamples,
                seed,
            ),
        });
        curves.push(curves_of(&s.hazards, &test));
        fitted.push(s.served);
        hazards.push(s.hazards);
    }
    progress(total, total, "done");
    let validation = Validation {
        method,
        folds,
        rows: evaluated.len(),
        onsets: onsets(&data, &evaluated),
        reason,
        interval_level: INTERVAL_LEVEL,
        resamples: ev.bootstrap_resamples,
    };
    let train_rows = slices.0.rows;
    Ok(Evaluated {
        report: EvaluationReport {
            train: slices.0,
            validation: slices.1,
            test: slices.2,
            features: data.feature_names.len(),
            rule_counts: counts,
            models,
            validation_method: Some(validation),
        },
        fitted,
        curves,
        hazards,
        data,
        evaluated,
        refit,
        train_rows,
    })
}

impl Evaluated {
    /// The model of `report.models[i]` as it is served: the fitted one, or for a learned family
    /// validated by rolling origin, refitted on every labelled row (calibrated on the held-out
    /// creatives of [`Evaluated::refit`]).
    pub fn served(&self, i: usize, cfg: &JobConfig) -> Result<FittedModel, FatigueError> {
        if let Some(m) = &self.fitted[i] {
            return Ok(m.clone());
        }
        let name = &self.report.models[i].model;
        FittedModel::fit_learned(
            name,
            &self.data.subset(&self.refit.0),
            &self.data.subset(&self.refit.1),
            &cfg.models,
        )
    }
}

/// The outcome of `train`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainOutcome {
    pub tenant: String,
    pub model: String,
    pub selection_metric: String,
    /// The served model's selection metric on the evaluated rows (none when unvalidated).
    pub score: Option<f64>,
    /// Its 90% interval.
    pub score_interval: Option<[f64; 2]>,
    /// Why this model serves.
    pub chosen_because: String,
    /// The validation done (also in `evaluation.validation_method`).
    pub validation: Validation,
    pub decision: PromotionDecision,
    pub evaluation: EvaluationReport,
}

/// SHA-256 of the feature names and the horizon: a model refuses inputs built differently.
pub fn schema_hash(features: &[String], horizon: usize) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for f in features {
        h.update(f.as_bytes());
        h.update([0]);
    }
    h.update(horizon.to_le_bytes());
    hex::encode(h.finalize())
}

/// Evaluates, picks the served model ([`choose`]) and registers it; it becomes champion per
/// [`promotion`].
pub fn train(
    lf: LazyFrame,
    tenant: &str,
    cfg: &JobConfig,
    registry: &Registry,
    progress: Progress,
) -> Result<TrainOutcome, FatigueError> {
    let ev = evaluate(lf, cfg, progress)?;
    let chosen = choose(&ev, cfg)?;
    let (i, score, why) = (chosen.index, chosen.score, chosen.why.clone());
    let metric = chosen.metric.clone();
    let higher = metric_direction(&metric).unwrap_or(true);
    let report = &ev.report.models[i];
    let model = ev.served(i, cfg)?;
    let validation = ev.report.validation_done();
    let prior_version = is_prior(&report.model)
        .then(prior::embedded)
        .flatten()
        .map(|p| p.card.version.clone());
    let mut metrics = report.metrics.to_map();
    for (m, [lo, hi]) in &report.intervals {
        metrics.insert(format!("{m}_lo90"), *lo);
        metrics.insert(format!("{m}_hi90"), *hi);
    }
    let card = ModelCard {
        kind: ModelKind::Fatigue,
        version: String::new(),
        tenant: tenant.to_string(),
        created: String::new(),
        model: report.model.clone(),
        data_from: Some(ev.report.train.from),
        data_to: Some(ev.report.test.to.max(ev.report.train.to)),
        rows: ev.train_rows as u64,
        features: model.meta.feature_names.clone(),
        schema_hash: schema_hash(&model.meta.feature_names, model.meta.horizon),
        hyperparameters: serde_json::json!({
            "models": cfg.models,
            "evaluation": cfg.evaluation,
            "labels": cfg.base.labels,
            "features": cfg.base.features,
            "calibration": model.meta.calibration,
            "onset_day_stage_weight": model.meta.timing.as_ref().map(|t| t.weight),
            "prior_version": prior_version,
            "chosen_because": why,
        }),
        seed: cfg.models.seed,
        metrics,
        selection_metric: metric.clone(),
        higher_is_better: higher,
        crate_version: String::new(),
        files: Default::default(),
        validation: Some(
            serde_json::to_value(&validation).map_err(|e| FatigueError::Io(e.to_string()))?,
        ),
    };
    let stored = StoredEvaluation {
        model: report.model.clone(),
        report: ev.report.clone(),
        curves: ev
            .report
            .models
            .iter()
            .zip(&ev.curves)
            .map(|(r, c)| (r.model.clone(), c.clone()))
            .collect(),
    };
    let mut files = model.to_files()?;
    files.push((
        EVALUATION_FILE.to_string(),
        serde_json::to_vec(&stored).map_err(|e| FatigueError::Io(e.to_string()))?,
    ));
    let (promote, reason, previous_champion) = promotion(&ev, i, &metric, registry, tenant)?;
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let registered = registry.register(card, &refs)?;
    if promote {
        registry.promote(tenant, ModelKind::Fatigue, &registered.version)?;
    }
    Ok(TrainOutcome {
        tenant: tenant.to_string(),
        model: report.model.clone(),
        selection_metric: metric.clone(),
        score,
        score_interval: report.intervals.get(&metric).copied(),
        chosen_because: why,
        validation,
        decision: PromotionDecision {
            version: registered.version,
            promoted: promote,
            previous_champion,
            reason,
        },
        evaluation: ev.report,
    })
}
