//! The cold-start prior (docs/fatigue-real-data.md): a fatigue model shipped inside the binary, trained on
//! simulated accounts of every real-data regime ([`crate::simulate::regimes`]). Its inputs are
//! the same features every tenant's model reads — mostly ratios to the creative's own launch,
//! peak and account, and slopes — so it transfers across accounts.
//!
//! - It **serves** a tenant that has no champion (too little data, or not trained yet), and a
//!   tenant whose data holds too few onsets to validate a model of its own.
//! - It **competes**: `train` and `evaluate` score it on the same out-of-sample rows as the
//!   tenant's learned families, and it stays served until one of them beats it there (the
//!   choice is per tenant and recorded on the model card).
//!
//! Its files live in the repository at [`PRIOR_DIR`] (card, weights, build evaluation) and are
//! compiled in. `omnify train fatigue-prior --out models/prior.fatigue` rebuilds them from the
//! seeds in [`PriorSpec::default`] (documented in `docs/fatigue-real-data.md`, "The cold-start
//! prior"); a rebuilt prior is picked up by the next build of the binary.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use polars::prelude::*;
use sha2::{Digest, Sha256};

use super::FatigueError;
use super::config::JobConfig;
use super::dataset::{SurvivalData, prepare_frame, survival_rows};
use super::metrics::evaluate as metrics_of;
use super::model::{FittedModel, ModelBody};
use super::pipeline::{PRIOR_MODEL, impressions_clicks_only, schema_hash};
use super::validation::{
    CALIBRATION_SHARE, INTERVAL_LEVEL, Method, Validation, intervals, onsets, split_by_creative,
};
use crate::features::rows::Keep;
use crate::registry::{ModelCard, ModelKind};
use crate::schema::{days_to_date, rows_to_frame};
use crate::simulate::regimes::{Regime, regime_rows};

/// Features in counts or currency units, which the prior does not read (their scale differs
/// from account to account; every other feature is a ratio, rate, slope, age or flag).
pub const SCALE_FEATURES: [&str; 12] = [
    "cum_impressions",
    "cum_spend",
    "cum_clicks",
    "impressions_7d",
    "spend_7d",
    "clicks_7d",
    "cpc_1d",
    "cpc_3d",
    "cpc_7d",
    "cpm_1d",
    "cpm_3d",
    "cpm_7d",
];

/// Where the prior's files live in the repository.
pub const PRIOR_DIR: &str = "models/prior.fatigue";

/// The files compiled into the binary.
const EMBEDDED: &[(&str, &[u8])] = &[
    (
        "card.json",
        include_bytes!("../../models/prior.fatigue/card.json"),
    ),
    (
        "model.json",
        include_bytes!("../../models/prior.fatigue/model.json"),
    ),
    (
        "logistic.json",
        include_bytes!("../../models/prior.fatigue/logistic.json"),
    ),
];

/// The prior: its card (version, what it was trained on, its build evaluation) and model.
#[derive(Debug, Clone)]
pub struct Prior {
    pub card: ModelCard,
    pub model: FittedModel,
}

impl Prior {
    /// Whether the prior reads the same features and horizon as `d`.
    pub fn fits(&self, d: &SurvivalData) -> bool {
        self.model.meta.feature_names == d.feature_names && self.model.meta.horizon == d.horizon
    }

    /// The prior from its files, every weight file checked against the card's SHA-256.
    pub fn from_files(files: &BTreeMap<String, Vec<u8>>) -> Result<Prior, FatigueError> {
        let card: ModelCard = serde_json::from_slice(
            files
                .get("card.json")
                .ok_or_else(|| FatigueError::Model("the prior lacks card.json".into()))?,
        )
        .map_err(|e| FatigueError::Model(format!("prior card.json: {e}")))?;
        for (name, sha) in &card.files {
            let bytes = files
                .get(name)
                .ok_or_else(|| FatigueError::Model(format!("the prior lacks {name}")))?;
            if &hex::encode(Sha256::digest(bytes)) != sha {
                return Err(FatigueError::Model(format!(
                    "the prior's {name} does not match its card"
                )));
            }
        }
        let model = FittedModel::from_files(files)?;
        Ok(Prior { card, model })
    }
}

/// The prior compiled into this binary (`None` only if its files are broken, which a test
/// rules out).
pub fn embedded() -> Option<&'static Prior> {
    static PRIOR: OnceLock<Option<Prior>> = OnceLock::new();
    PRIOR
        .get_or_init(|| {
            let files: BTreeMap<String, Vec<u8>> = EMBEDDED
                .iter()
                .map(|(n, b)| (n.to_string(), b.to_vec()))
                .collect();
            match Prior::from_files(&files) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!("the embedded fatigue prior cannot be read: {e}");
                    None
                }
            }
        })
        .as_ref()
}

/// What the prior is trained on: simulated worlds of each regime.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorSpec {
    pub regimes: Vec<Regime>,
    /// Seeds per regime (one world each).
    pub seeds: Vec<u64>,
    /// Tenants per world.
    pub tenants: usize,
}

impl Default for PriorSpec {
    /// Seeds 9001–9008 × every regime × 3 tenants. The evaluation command reports on other
    /// seeds (from 2041), so the prior is never scored on the worlds it was trained on.
    fn default() -> Self {
        PriorSpec {
            regimes: Regime::ALL.to_vec(),
            seeds: (9001..=9008).collect(),
            tenants: 3,
        }
    }
}

/// The `ad_daily` frame of every world of `spec`, pooled; each tenant renamed
/// `<regime>-<seed>-<tenant>` so no two worlds share a creative key.
pub fn training_frame(spec: &PriorSpec) -> Result<DataFrame, FatigueError> {
    let mut frames = Vec::new();
    for &regime in &spec.regimes {
        for &seed in &spec.seeds {
            let world = regime_rows(regime, seed, spec.tenants)
                .map_err(|e| FatigueError::Config(e.to_string()))?;
            for (tenant, rows) in world {
                let name = format!("{}-{seed}-{tenant}", regime.name());
                let mut lf = rows_to_frame(&name, &rows)?.lazy();
                if regime.impressions_clicks_only() {
                    lf = impressions_clicks_only(lf);
                }
                frames.push(lf);
            }
        }
    }
    Ok(concat(frames, UnionArgs::default())?.collect()?)
}

/// Trains the prior: a logistic hazard (small, smooth, and it extrapolates gently) on every
/// as-of row of the pooled worlds of `spec` but a fifth of their creatives, which calibrate it
/// (Platt) and on which its build metrics are computed; writes its card and files to `out`
/// (each file atomically). Returns the card. (The worlds cover different calendar periods, so a
/// time split would test one regime only; the prior's out-of-sample figures on fresh worlds of
/// every regime come from `omnify evaluate fatigue-regimes`.)
pub fn build(
    spec: &PriorSpec,
    cfg: &JobConfig,
    out: &Path,
    progress: super::Progress,
) -> Result<ModelCard, FatigueError> {
    progress(0, 3, "simulating worlds");
    let df = training_frame(spec)?;
    progress(1, 3, "labels and features");
    let stride = u32::try_from(cfg.evaluation.stride_days).unwrap_or(u32::MAX);
    let prepared = prepare_frame(&df, &cfg.base, Keep::AtRiskEvery(stride))?;
    let data = survival_rows(&prepared, &cfg.evaluation);
    let all: Vec<usize> = (0..data.len()).collect();
    let (fit_idx, cal_idx) = split_by_creative(&data, &all, CALIBRATION_SHARE, cfg.models.seed);
    let (mut fit, mut cal) = (data.subset(&fit_idx), data.subset(&cal_idx));
    // Features in counts or currency units are held at zero, so the prior reads only
    // ratios, rates, slopes, ages and flags: a real account ten times larger than any
    // simulated one is scored like a simulated one of the same shape.
    let neutral: Vec<usize> = data
        .feature_names
        .iter()
        .enumerate()
        .filter(|(_, n)| SCALE_FEATURES.contains(&n.as_str()))
        .map(|(j, _)| j)
        .collect();
    // Exactly zero (not the mean, whose standardised value is only nearly zero and would let
    // the fit lean on the column as a second intercept).
    for &j in &neutral {
        fit.x.column_mut(j).fill(0.0);
        cal.x.column_mut(j).fill(0.0);
    }
    progress(2, 3, "fitting the logistic hazard");
    let mut model = FittedModel::fit_learned("logistic_hazard", &fit, &cal, &cfg.models)?;
    // A constant column gets no weight (its standardised value is 0 throughout the fit); make
    // that exact, and read it as 0 whatever a tenant's value, so it can never contribute.
    if let ModelBody::Logistic(m) = &mut model.body {
        for &j in &neutral {
            m.beta[j] = 0.0;
            m.scaler.mean[j] = 0.0;
            m.scaler.sd[j] = 1.0;
        }
    } else {
        return Err(FatigueError::Model(
            "the prior is not a logistic hazard".into(),
        ));
    }
    if model
        .meta
        .timing
        .as_ref()
        .is_some_and(|t| t.columns.iter().any(|j| neutral.contains(j)))
    {
        return Err(FatigueError::Model(
            "the prior's onset-day stage reads a scale feature".into(),
        ));
    }
    model.meta.name = PRIOR_MODEL.into();
    let hz = model.hazards(&cal.x)?;
    let mut metrics = metrics_of(&hz, &cal).to_map();
    let iv = intervals(
        &hz,
        &cal,
        &["auc_7", "auc_14", "ece"],
        cfg.evaluation.bootstrap_resamples,
        cfg.models.seed,
    );
    for (m, [lo, hi]) in &iv {
        metrics.insert(format!("{m}_lo90"), *lo);
        metrics.insert(format!("{m}_hi90"), *hi);
    }
    progress(3, 3, "done");
    let validation = Validation {
        method: Method::Holdout,
        folds: 1,
        rows: cal.len(),
        onsets: onsets(&data, &cal_idx),
        reason: "held-out creatives (a fifth) of the simulated worlds".into(),
        interval_level: INTERVAL_LEVEL,
        resamples: cfg.evaluation.bootstrap_resamples,
    };
    let days = |idx: &[usize]| {
        let d = idx.iter().map(|&i| data.as_of[i]);
        (d.clone().min().unwrap_or(0), d.max().unwrap_or(0))
    };
    let (lo, hi) = days(&all);
    let files = model.to_files()?;
    let mut sha = BTreeMap::new();
    let mut all = Sha256::new();
    for (name, bytes) in &files {
        let d = hex::encode(Sha256::digest(bytes));
        all.update(d.as_bytes());
        sha.insert(name.clone(), d);
    }
    let version = format!("prior-{}", &hex::encode(all.finalize())[..12]);
    let card = ModelCard {
        kind: ModelKind::Fatigue,
        version,
        tenant: "prior".into(),
        created: String::new(),
        model: PRIOR_MODEL.into(),
        data_from: Some(days_to_date(lo)),
        data_to: Some(days_to_date(hi)),
        rows: fit.len() as u64,
        features: model.meta.feature_names.clone(),
        schema_hash: schema_hash(&model.meta.feature_names, model.meta.horizon),
        hyperparameters: serde_json::json!({
            "family": "logistic_hazard",
            "features_not_read": SCALE_FEATURES,
            "models": cfg.models.logistic,
            "calibration": model.meta.calibration,
            "evaluation": cfg.evaluation,
            "labels": cfg.base.labels,
            "features": cfg.base.features,
            "worlds": {
                "regimes": spec.regimes.iter().map(|r| r.name()).collect::<Vec<_>>(),
                "seeds": spec.seeds,
                "tenants": spec.tenants,
            },
        }),
        seed: cfg.models.seed,
        metrics,
        selection_metric: cfg.evaluation.selection_metric.clone(),
        higher_is_better: true,
        crate_version: env!("CARGO_PKG_VERSION").into(),
        files: sha,
        validation: serde_json::to_value(&validation).ok(),
    };
    std::fs::create_dir_all(out)
        .map_err(|e| FatigueError::Io(format!("{}: {e}", out.display())))?;
    for (name, bytes) in &files {
        crate::fsutil::write_atomic(&out.join(name), bytes)
            .map_err(|e| FatigueError::Io(format!("{}: {e}", out.join(name).display())))?;
    }
    let card_bytes =
        serde_json::to_vec_pretty(&card).map_err(|e| FatigueError::Io(e.to_string()))?;
    crate::fsutil::write_atomic(&out.join("card.json"), &card_bytes)
        .map_err(|e| FatigueError::Io(format!("{}: {e}", out.join("card.json").display())))?;
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_prior_loads_and_reads_the_current_features() {
        let p = embedded().expect("the embedded prior loads");
        assert!(p.card.version.starts_with("prior-"));
        assert_eq!(
            p.model.meta.feature_names,
            super::super::dataset::all_feature_names()
        );
        assert_eq!(
            p.model.meta.horizon,
            JobConfig::from_toml_str("")
                .unwrap()
                .evaluation
                .horizon_days
        );
        // It reads no feature in counts or currency units: a tenant 1,000 times larger in
        // those scores the same.
        let ModelBody::Logistic(m) = &p.model.body else {
            panic!("the prior is a logistic hazard")
        };
        let names = &p.model.meta.feature_names;
        for f in SCALE_FEATURES {
            let j = names.iter().position(|n| n == f).unwrap();
            assert_eq!(m.beta[j], 0.0, "{f}");
        }
        let mut x =
            ndarray::Array2::from_shape_vec((1, names.len()), p.model.meta.means.clone()).unwrap();
        let before = p.model.hazards(&x).unwrap();
        for f in SCALE_FEATURES {
            let j = names.iter().position(|n| n == f).unwrap();
            x[[0, j]] *= 1000.0;
        }
        assert_eq!(p.model.hazards(&x).unwrap(), before);
        // A flipped byte in a weight file is refused.
        let mut files: BTreeMap<String, Vec<u8>> = EMBEDDED
            .iter()
            .map(|(n, b)| (n.to_string(), b.to_vec()))
            .collect();
        if let Some(b) = files.get_mut("logistic.json").and_then(|b| b.last_mut()) {
            *b ^= 1;
        }
        assert!(Prior::from_files(&files).is_err());
    }
}
