//! The jobs: [`evaluate`] (fit every learned family and baseline on the train slice, score the
//! test slice, one metrics row each, plus the label-rule counts) and [`train`] (the same, then
//! the best learned model by the configured metric is registered with its card and promoted
//! only if it beats the champion on the holdout). A registered version also stores
//! [`EVALUATION_FILE`]: the evaluation table plus every model's ROC, calibration bins and
//! onset backtest on the test slice ([`StoredEvaluation`]), which reports draw.

use chrono::NaiveDate;
use polars::prelude::*;

use super::FatigueError;
use super::baselines::BaselineRule;
use super::config::JobConfig;
use super::dataset::{Split, SurvivalData, prepare_frame, rule_counts_of, split, survival_rows};
use super::metrics::{
    Curves, Metrics, curves as curves_of, evaluate as metrics_of, metric_direction,
};
use super::model::FittedModel;
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
}

/// Days of a slice, as dates.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SliceInfo {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rows: usize,
    pub events: usize,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EvaluationReport {
    pub train: SliceInfo,
    pub validation: SliceInfo,
    pub test: SliceInfo,
    pub features: usize,
    pub rule_counts: RuleCounts,
    pub models: Vec<ModelReport>,
}

/// Registry file of a fatigue version holding its [`StoredEvaluation`].
pub const EVALUATION_FILE: &str = "evaluation.json";

/// What `evaluation.json` holds: the holdout evaluation of the job that trained the version,
/// and the chart data of every model on the same test rows.
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

/// What `evaluate` fitted, for `train` to register.
pub struct Evaluated {
    pub report: EvaluationReport,
    pub fitted: Vec<FittedModel>,
    /// Chart data of each model in `fitted` (same order), on the test slice.
    pub curves: Vec<Curves>,
    pub train_rows: usize,
    pub split: Split,
}

fn info(d: &SurvivalData, idx: &[usize], days: (i32, i32)) -> SliceInfo {
    SliceInfo {
        from: days_to_date(days.0),
        to: days_to_date(days.1),
        rows: idx.len(),
        events: idx.iter().filter(|&&i| d.event[i]).count(),
    }
}

/// Fits and scores every learned family and baseline on a time split of `lf` (`ad_daily`).
pub fn evaluate(
    lf: LazyFrame,
    cfg: &JobConfig,
    progress: Progress,
) -> Result<Evaluated, FatigueError> {
    let families = &cfg.models.families;
    let total = 2 + families.len() + BaselineRule::ALL.len();
    progress(0, total, "labels and features");
    // Features are kept only for the days that can become as-of rows.
    let stride = u32::try_from(cfg.evaluation.stride_days).unwrap_or(u32::MAX);
    let prepared = prepare_frame(&lf.collect()?, &cfg.base, Keep::AtRiskEvery(stride))?;
    let counts = rule_counts_of(&prepared.creatives);
    let data = survival_rows(&prepared, &cfg.evaluation);
    let sp = split(&data, &cfg.evaluation)?;
    let (train, val, test) = (
        data.subset(&sp.train),
        data.subset(&sp.validation),
        data.subset(&sp.test),
    );
    let mut step = 1;
    let mut fitted = Vec::new();
    let mut models = Vec::new();
    let mut curves = Vec::new();
    for fam in families {
        progress(step, total, &format!("fitting {fam}"));
        let m = FittedModel::fit_learned(fam, &train, &val, &cfg.models)?;
        let hz = m.hazards(&test.x)?;
        models.push(ModelReport {
            model: fam.clone(),
            learned: true,
            metrics: metrics_of(&hz, &test),
        });
        curves.push(curves_of(&hz, &test));
        fitted.push(m);
        step += 1;
    }
    for rule in BaselineRule::ALL {
        progress(step, total, &format!("scoring {}", rule.name()));
        let m = FittedModel::fit_baseline(rule, &train)?;
        let hz = m.hazards(&test.x)?;
        models.push(ModelReport {
            model: rule.name().into(),
            learned: false,
            metrics: metrics_of(&hz, &test),
        });
        curves.push(curves_of(&hz, &test));
        fitted.push(m);
        step += 1;
    }
    progress(total, total, "done");
    Ok(Evaluated {
        report: EvaluationReport {
            train: info(&data, &sp.train, sp.train_days),
            validation: info(&data, &sp.validation, sp.validation_days),
            test: info(&data, &sp.test, sp.test_days),
            features: data.feature_names.len(),
            rule_counts: counts,
            models,
        },
        fitted,
        curves,
        train_rows: train.len(),
        split: sp,
    })
}

/// The outcome of `train`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainOutcome {
    pub tenant: String,
    pub model: String,
    pub selection_metric: String,
    pub score: Option<f64>,
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

/// Evaluates, picks the best learned model by `evaluation.selection_metric` and registers it.
pub fn train(
    lf: LazyFrame,
    tenant: &str,
    cfg: &JobConfig,
    registry: &Registry,
    progress: Progress,
) -> Result<TrainOutcome, FatigueError> {
    let ev = evaluate(lf, cfg, progress)?;
    let metric = cfg.evaluation.selection_metric.clone();
    let higher = metric_direction(&metric).unwrap_or(true);
    let pick = ev
        .report
        .models
        .iter()
        .zip(&ev.fitted)
        .filter(|(r, _)| r.learned)
        .filter_map(|(r, m)| r.metrics.get(&metric).map(|s| (s, r, m)))
        .max_by(|a, b| {
            let o = a.0.total_cmp(&b.0);
            if higher { o } else { o.reverse() }
        });
    let Some((score, report, model)) = pick else {
        return Err(FatigueError::Data(format!(
            "no learned model has a `{metric}` on the holdout (too few events in the test slice?)"
        )));
    };
    let card = ModelCard {
        kind: ModelKind::Fatigue,
        version: String::new(),
        tenant: tenant.to_string(),
        created: String::new(),
        model: report.model.clone(),
        data_from: Some(ev.report.train.from),
        data_to: Some(ev.report.test.to),
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
        }),
        seed: cfg.models.seed,
        metrics: report.metrics.to_map(),
        selection_metric: metric.clone(),
        higher_is_better: higher,
        crate_version: String::new(),
        files: Default::default(),
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
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let decision = registry.register_and_maybe_promote(card, &refs)?;
    Ok(TrainOutcome {
        tenant: tenant.to_string(),
        model: report.model.clone(),
        selection_metric: metric,
        score: Some(score),
        decision,
        evaluation: ev.report,
    })
}
