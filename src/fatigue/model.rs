//! One fitted model of any family behind the same interface: hazards (calibrated when a
//! calibration was fitted), drivers, and files for the registry (`model.json` + the family's
//! weights: `logistic.json`, `forest.json`, `mlp.safetensors` + `mlp.json`, `baseline.json`).

use std::collections::BTreeMap;

use ndarray::{Array2, Axis};

use super::FatigueError;
use super::baselines::{Baseline, BaselineRule};
use super::calibration::Platt;
use super::common::summarize;
use super::config::ModelsConfig;
use super::dataset::SurvivalData;
use super::forest::Forest;
use super::logistic::{LogisticHazard, ScoreHazards};
use super::mlp::SurvivalMlp;
use super::timing::Timing;

/// Rows per unit of work when many rows are scored: each piece's working copies stay small
/// (in cache, and reused by the allocator instead of fresh pages per model run), and pieces
/// run on all cores. Every family scores each row on its own, so the pieces give the values
/// of one run (the network's to f32 rounding: its matrix products round with the batch size).
const CHUNK_ROWS: usize = 512;

/// `f` of consecutive row ranges covering `0..n`, in order; on all cores when more than one.
fn in_row_chunks<T: Send>(
    n: usize,
    f: impl Fn(std::ops::Range<usize>) -> Result<T, FatigueError> + Sync + Send,
) -> Result<Vec<T>, FatigueError> {
    use rayon::prelude::*;
    let ranges: Vec<std::ops::Range<usize>> = (0..n)
        .step_by(CHUNK_ROWS)
        .map(|lo| lo..(lo + CHUNK_ROWS).min(n))
        .collect();
    if ranges.len() > 1 {
        ranges.into_par_iter().map(f).collect()
    } else {
        ranges.into_iter().map(f).collect()
    }
}

/// The fitted parameters of one family.
#[derive(Debug, Clone)]
pub enum ModelBody {
    Logistic(LogisticHazard),
    Forest(Forest),
    Mlp(SurvivalMlp),
    Baseline(Baseline),
}

/// What `model.json` stores next to the weights.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ModelMeta {
    pub name: String,
    pub calibration: Option<Platt>,
    pub feature_names: Vec<String>,
    /// Training means of the features (the "typical" value drivers compare against).
    pub means: Vec<f64>,
    pub horizon: usize,
    /// The onset-day stage, applied after the calibration (absent in versions trained
    /// without it).
    #[serde(default)]
    pub timing: Option<Box<Timing>>,
}

#[derive(Debug, Clone)]
pub struct FittedModel {
    pub meta: ModelMeta,
    pub body: ModelBody,
}

/// Smallest drop of P(onset ≤ 14 days) reported as a driver (probability: 1 point).
const MIN_DRIVER_EFFECT: f64 = 0.01;

/// Features whose effect is reported as a driver, with a label for people.
pub const DRIVER_FEATURES: [(&str, &str); 10] = [
    ("label_ratio", "cost ratio to launch"),
    ("label_log_ratio_slope_7d", "cost ratio trend/day"),
    ("decay_days_to_onset", "days to 2x (trend)"),
    ("ctr_7d_vs_peak", "CTR vs peak"),
    ("ctr_7d_vs_baseline", "CTR vs launch"),
    ("frequency_7d", "frequency 7d"),
    ("cpc_7d_vs_baseline", "CPC vs launch"),
    ("cvr_7d_vs_baseline", "CVR vs launch"),
    ("cpm_7d_vs_baseline", "CPM vs launch"),
    ("age_days", "age (days)"),
];

fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, FatigueError> {
    serde_json::to_vec(v).map_err(|e| FatigueError::Io(e.to_string()))
}

fn from_json<T: for<'de> serde::Deserialize<'de>>(
    files: &BTreeMap<String, Vec<u8>>,
    name: &str,
) -> Result<T, FatigueError> {
    let bytes = files
        .get(name)
        .ok_or_else(|| FatigueError::Model(format!("model files lack {name}")))?;
    serde_json::from_slice(bytes).map_err(|e| FatigueError::Model(format!("{name}: {e}")))
}

impl FittedModel {
    /// Fits a learned family (`logistic_hazard`, `forest`, `survival_mlp`) on `train`, then
    /// its Platt calibration on `validation`.
    pub fn fit_learned(
        family: &str,
        train: &SurvivalData,
        validation: &SurvivalData,
        cfg: &ModelsConfig,
    ) -> Result<FittedModel, FatigueError> {
        let body = match family {
            "logistic_hazard" => {
                ModelBody::Logistic(LogisticHazard::fit(train, &cfg.logistic, cfg.seed)?)
            }
            "forest" => ModelBody::Forest(Forest::fit(train, &cfg.forest, cfg.seed)?),
            "survival_mlp" => {
                ModelBody::Mlp(SurvivalMlp::fit(train, validation, &cfg.mlp, cfg.seed)?)
            }
            other => {
                return Err(FatigueError::Config(format!(
                    "unknown model family `{other}`"
                )));
            }
        };
        let mut m = FittedModel {
            meta: Self::meta(family, train),
            body,
        };
        if !validation.is_empty() {
            let mut h = m.raw_hazards(&validation.x)?;
            let platt = Platt::fit(&h, validation);
            platt.apply(&mut h);
            m.meta.calibration = Some(platt);
            if cfg.timing.enabled {
                m.meta.timing = Timing::fit(train, validation, &h, &cfg.timing)?.map(Box::new);
            }
        }
        Ok(m)
    }

    /// The same model with its Platt calibration refitted on `data` (the cold-start prior
    /// tuned to a tenant: its ranking, the tenant's base rates). Unchanged when `data` is empty.
    pub fn recalibrated(&self, data: &SurvivalData) -> Result<FittedModel, FatigueError> {
        let mut m = self.clone();
        if data.is_empty() {
            return Ok(m);
        }
        let raw = self.raw_hazards(&data.x)?;
        m.meta.calibration = Some(Platt::fit(&raw, data));
        Ok(m)
    }

    /// Fits a baseline's life tables on `train` (no calibration: the life tables are already
    /// observed rates).
    pub fn fit_baseline(
        rule: BaselineRule,
        train: &SurvivalData,
    ) -> Result<FittedModel, FatigueError> {
        Ok(FittedModel {
            meta: Self::meta(rule.name(), train),
            body: ModelBody::Baseline(Baseline::fit(train, rule)?),
        })
    }

    fn meta(name: &str, train: &SurvivalData) -> ModelMeta {
        ModelMeta {
            name: name.to_string(),
            calibration: None,
            timing: None,
            feature_names: train.feature_names.clone(),
            means: train
                .x
                .mean_axis(ndarray::Axis(0))
                .map(|m| m.to_vec())
                .unwrap_or_default(),
            horizon: train.horizon,
        }
    }

    pub fn name(&self) -> &str {
        &self.meta.name
    }

    pub fn is_baseline(&self) -> bool {
        matches!(self.body, ModelBody::Baseline(_))
    }

    fn check_width(&self, x: &Array2<f64>) -> Result<(), FatigueError> {
        if x.ncols() != self.meta.feature_names.len() {
            return Err(FatigueError::Data(format!(
                "model `{}` expects {} features, got {}",
                self.meta.name,
                self.meta.feature_names.len(),
                x.ncols()
            )));
        }
        Ok(())
    }

    /// A logistic hazard's calibrated hazards as functions of the linear score.
    fn score_hazards(&self) -> Option<(&LogisticHazard, ScoreHazards)> {
        match &self.body {
            ModelBody::Logistic(m) => Some((m, ScoreHazards::new(m, self.meta.calibration))),
            _ => None,
        }
    }

    fn raw_hazards(&self, x: &Array2<f64>) -> Result<Array2<f64>, FatigueError> {
        self.check_width(x)?;
        Ok(match &self.body {
            ModelBody::Logistic(m) => m.hazards(x),
            ModelBody::Forest(m) => m.hazards(x),
            ModelBody::Mlp(m) => m.hazards(x)?,
            ModelBody::Baseline(m) => m.hazards(x),
        })
    }

    /// Hazards h(1..=H) per row (n × H), calibrated, before the onset-day stage (which keeps
    /// P(onset within the horizon)).
    fn calibrated_hazards(&self, x: &Array2<f64>) -> Result<Array2<f64>, FatigueError> {
        if let Some((m, curve)) = self.score_hazards() {
            // The same values from each row's linear score (see `ScoreHazards`).
            self.check_width(x)?;
            let mut h = Array2::<f64>::zeros((x.nrows(), m.alpha.len()));
            for (row, mut out) in x.rows().into_iter().zip(h.rows_mut()) {
                if let Some(out) = out.as_slice_mut() {
                    curve.hazards_into(m.linear_score(row), out);
                }
            }
            return Ok(h);
        }
        let mut h = self.raw_hazards(x)?;
        if let Some(c) = &self.meta.calibration {
            c.apply(&mut h);
        }
        Ok(h)
    }

    /// Hazards h(1..=H) per row (n × H), calibrated, with the onset-day stage applied.
    pub fn hazards(&self, x: &Array2<f64>) -> Result<Array2<f64>, FatigueError> {
        if x.nrows() <= 2 * CHUNK_ROWS {
            return self.hazards_of(x);
        }
        let parts = in_row_chunks(x.nrows(), |rows| {
            self.hazards_of(&x.slice(ndarray::s![rows, ..]).to_owned())
        })?;
        let views: Vec<_> = parts.iter().map(|h| h.view()).collect();
        ndarray::concatenate(Axis(0), &views)
            .map_err(|e| FatigueError::Model(format!("joining hazards: {e}")))
    }

    fn hazards_of(&self, x: &Array2<f64>) -> Result<Array2<f64>, FatigueError> {
        let mut h = self.calibrated_hazards(x)?;
        if let Some(t) = &self.meta.timing {
            t.apply(x, &mut h);
        }
        Ok(h)
    }

    /// Up to `n` drivers per row: the listed features whose replacement by their training mean
    /// lowers P(onset ≤ 14 days) the most (occlusion; model-agnostic, so every family explains
    /// itself the same way), as "label value (typical v) +d pts".
    /// `hazards` are this model's [`FittedModel::hazards`] of `x` (the caller has them).
    pub fn drivers(
        &self,
        x: &Array2<f64>,
        hazards: &Array2<f64>,
        n: usize,
    ) -> Result<Vec<Vec<String>>, FatigueError> {
        let base: Vec<f64> = hazards
            .rows()
            .into_iter()
            .map(|r| summarize(r).p14)
            .collect();
        // A row whose P(onset ≤ 14 days) is below the smallest reported effect cannot have a
        // driver (occluding a feature cannot take a probability below 0), so only the other
        // rows are run again: most creatives of a healthy account are such rows.
        let risky: Vec<usize> = (0..base.len())
            .filter(|&i| base[i] >= MIN_DRIVER_EFFECT)
            .collect();
        // The listed features the model has: (column, label, training mean).
        let listed: Vec<(usize, &str, f64)> = DRIVER_FEATURES
            .iter()
            .filter_map(|(feat, label)| {
                let j = self.meta.feature_names.iter().position(|f| f == feat)?;
                Some((j, *label, self.meta.means.get(j).copied().unwrap_or(0.0)))
            })
            .collect();
        // P(onset ≤ 14 days) with each listed feature replaced by its mean, chunk by chunk of
        // risky rows (on all cores when large). The onset-day stage keeps P(onset ≤ H), so it
        // is left out here.
        let chunks = match self.score_hazards() {
            // A logistic hazard: the replacement moves the linear score by β_j·Δz_j.
            Some((m, curve)) => in_row_chunks(risky.len(), |part| {
                let rows = &risky[part];
                let scores: Vec<f64> = rows.iter().map(|&i| m.linear_score(x.row(i))).collect();
                let z = |j: usize, v: f64| {
                    let mean = m.scaler.mean.get(j).copied().unwrap_or(0.0);
                    let sd = m.scaler.sd.get(j).copied().unwrap_or(1.0);
                    ((v - mean) / sd).clamp(-8.0, 8.0)
                };
                Ok(listed
                    .iter()
                    .map(|&(j, _, mean)| {
                        let (beta, to) = (m.beta.get(j).copied().unwrap_or(0.0), z(j, mean));
                        rows.iter()
                            .zip(&scores)
                            .map(|(&i, l)| {
                                let l = l + beta * (to - z(j, x[[i, j]]));
                                curve.onset_within(l, 14)
                            })
                            .collect()
                    })
                    .collect::<Vec<Vec<f64>>>())
            })?,
            // Any other family is run again on a copy of the rows with the feature replaced.
            None => in_row_chunks(risky.len(), |part| {
                let rows = &risky[part];
                let mut per_feature = Vec::with_capacity(listed.len());
                for &(j, _, mean) in &listed {
                    let mut xo = x.select(Axis(0), rows);
                    xo.column_mut(j).fill(mean);
                    let h = self.calibrated_hazards(&xo)?;
                    per_feature.push(h.rows().into_iter().map(|r| summarize(r).p14).collect());
                }
                Ok(per_feature)
            })?,
        };
        // Per row: (effect, listed feature) of the replacements that lower its risk enough;
        // only the `n` largest are written out.
        let mut effects: Vec<Vec<(f64, usize)>> = vec![Vec::new(); x.nrows()];
        for f in 0..listed.len() {
            let p14 = chunks.iter().flat_map(|c| c[f].iter().copied());
            for (&i, p) in risky.iter().zip(p14) {
                let d = base[i] - p;
                if d >= MIN_DRIVER_EFFECT {
                    effects[i].push((d, f));
                }
            }
        }
        // Written on all cores for many rows (three texts a row add up).
        let text = |(i, mut e): (usize, Vec<(f64, usize)>)| -> Vec<String> {
            e.sort_by(|a, b| b.0.total_cmp(&a.0));
            e.into_iter()
                .take(n)
                .map(|(d, f)| {
                    let (j, label, mean) = listed[f];
                    format!(
                        "{label} {:.2} (typical {mean:.2}) +{:.0} pts",
                        x[[i, j]],
                        d * 100.0
                    )
                })
                .collect()
        };
        Ok(if effects.len() > 2 * CHUNK_ROWS {
            use rayon::prelude::*;
            effects
                .into_par_iter()
                .enumerate()
                .with_min_len(CHUNK_ROWS)
                .map(text)
                .collect()
        } else {
            effects.into_iter().enumerate().map(text).collect()
        })
    }

    /// The files of a registry version.
    pub fn to_files(&self) -> Result<Vec<(String, Vec<u8>)>, FatigueError> {
        let mut files = vec![("model.json".to_string(), json(&self.meta)?)];
        match &self.body {
            ModelBody::Logistic(m) => files.push(("logistic.json".into(), json(m)?)),
            ModelBody::Forest(m) => files.push(("forest.json".into(), json(m)?)),
            ModelBody::Mlp(m) => files.extend(m.to_files()?),
            ModelBody::Baseline(m) => files.push(("baseline.json".into(), json(m)?)),
        }
        Ok(files)
    }

    /// Rebuilds a model from the (checksum-verified) files of a registry version.
    pub fn from_files(files: &BTreeMap<String, Vec<u8>>) -> Result<FittedModel, FatigueError> {
        let meta: ModelMeta = from_json(files, "model.json")?;
        if let Some(t) = &meta.timing {
            t.check(meta.feature_names.len())?;
        }
        let body = if files.contains_key("logistic.json") {
            ModelBody::Logistic(from_json(files, "logistic.json")?)
        } else if files.contains_key("forest.json") {
            ModelBody::Forest(from_json(files, "forest.json")?)
        } else if let (Some(w), Some(m)) = (files.get("mlp.safetensors"), files.get("mlp.json")) {
            ModelBody::Mlp(SurvivalMlp::from_files(w, m)?)
        } else if files.contains_key("baseline.json") {
            ModelBody::Baseline(from_json(files, "baseline.json")?)
        } else {
            return Err(FatigueError::Model(
                "model files hold no known weights".into(),
            ));
        };
        Ok(FittedModel { meta, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fatigue::common::Standardizer;
    use ndarray::array;

    /// A logistic hazard on the label ratio alone: h = σ(ratio − 4) on every day, training
    /// mean of the ratio 1.
    fn ratio_model() -> FittedModel {
        FittedModel {
            meta: ModelMeta {
                name: "logistic_hazard".into(),
                calibration: None,
                feature_names: vec!["label_ratio".into()],
                means: vec![1.0],
                horizon: 14,
                timing: None,
            },
            body: ModelBody::Logistic(LogisticHazard {
                scaler: Standardizer {
                    mean: vec![0.0],
                    sd: vec![1.0],
                },
                beta: vec![1.0],
                alpha: vec![-4.0; 14],
            }),
        }
    }

    /// Ratio 3: h = σ(−1) = .26894, P(≤ 14) = 1 − .73106^14 = .98754; at the mean 1:
    /// h = σ(−3) = .04743, P(≤ 14) = 1 − .95257^14 = .49348 → the ratio adds 49 points.
    /// Ratio −10: h = σ(−14) ≈ 8.3e-7, P(≤ 14) ≈ 1.2e-5, below the 1-point floor → no driver
    /// (and that row is not run again). The risky row's drivers are the same alone.
    #[test]
    fn drivers_by_hand_and_low_risk_rows_have_none() {
        let m = ratio_model();
        let x = array![[3.0], [-10.0]];
        let h = m.hazards(&x).expect("hazards");
        let d = m.drivers(&x, &h, 3).expect("drivers");
        assert_eq!(
            d,
            vec![
                vec!["cost ratio to launch 3.00 (typical 1.00) +49 pts".to_string()],
                vec![]
            ]
        );
        let one = array![[3.0]];
        let alone = m
            .drivers(&one, &m.hazards(&one).expect("hazards"), 3)
            .expect("drivers");
        assert_eq!(alone[0], d[0]);
    }

    /// Drivers of a calibrated logistic hazard whose features push the risk both ways (found
    /// from each row's linear score) equal those found by running every replacement through
    /// the textbook formula: each row's listed features replaced one at a time by their mean,
    /// the hazards σ(α_k + βᵀz) then Platt-scaled (`LogisticHazard::hazards`,
    /// `Platt::apply`), P(onset ≤ 14 days), the drops of at least one point, largest first.
    #[test]
    fn logistic_drivers_equal_rerunning_every_replacement() {
        let names = ["label_ratio", "frequency_7d", "age_days", "other"];
        let m = FittedModel {
            meta: ModelMeta {
                name: "logistic_hazard".into(),
                calibration: Some(Platt { a: 0.8, b: -0.3 }),
                feature_names: names.iter().map(|s| s.to_string()).collect(),
                means: vec![1.0, 2.0, 20.0, 0.0],
                horizon: 14,
                timing: None,
            },
            body: ModelBody::Logistic(LogisticHazard {
                scaler: Standardizer {
                    mean: vec![1.0, 2.5, 18.0, 0.0],
                    sd: vec![0.5, 1.0, 10.0, 1.0],
                },
                beta: vec![1.2, -0.7, 0.4, 2.0],
                alpha: (0..14).map(|k| -3.0 + 0.05 * k as f64).collect(),
            }),
        };
        let n = 1500;
        let x = Array2::from_shape_fn((n, 4), |(i, j)| {
            let t = ((i * 7919 + j * 104_729) % 1000) as f64 / 1000.0;
            [0.4 + 3.0 * t, 4.0 * t, 60.0 * t, t - 0.5][j]
        });
        let h = m.hazards(&x).expect("hazards");
        let got = m.drivers(&x, &h, 3).expect("drivers");
        let ModelBody::Logistic(lh) = &m.body else {
            unreachable!()
        };
        let p14 = |x: &Array2<f64>| -> Vec<f64> {
            let mut h = lh.hazards(x);
            Platt { a: 0.8, b: -0.3 }.apply(&mut h);
            h.rows().into_iter().map(|r| summarize(r).p14).collect()
        };
        let base = p14(&x);
        let mut want: Vec<Vec<(f64, String)>> = vec![Vec::new(); n];
        for (feat, label) in DRIVER_FEATURES {
            let Some(j) = names.iter().position(|n| *n == feat) else {
                continue;
            };
            let mean = m.meta.means[j];
            let mut xo = x.clone();
            xo.column_mut(j).fill(mean);
            for (i, p) in p14(&xo).into_iter().enumerate() {
                let d = base[i] - p;
                if base[i] >= MIN_DRIVER_EFFECT && d >= MIN_DRIVER_EFFECT {
                    want[i].push((
                        d,
                        format!(
                            "{label} {:.2} (typical {mean:.2}) +{:.0} pts",
                            x[[i, j]],
                            d * 100.0
                        ),
                    ));
                }
            }
        }
        let want: Vec<Vec<String>> = want
            .into_iter()
            .map(|mut e| {
                e.sort_by(|a, b| b.0.total_cmp(&a.0));
                e.into_iter().take(3).map(|e| e.1).collect()
            })
            .collect();
        assert_eq!(got, want);
        // Both directions occur.
        assert!(
            got.iter()
                .any(|d| d.iter().any(|s| s.starts_with("frequency")))
        );
        assert!(
            got.iter()
                .any(|d| d.iter().any(|s| s.starts_with("cost ratio")))
        );
    }

    /// The onset-day stage is saved and loaded with the model: a stage that puts every onset
    /// on day 14 leaves hazards 0 on days 1–13 and P(onset ≤ 14) unchanged, before and after
    /// the round trip; a stage pointing past the model's features is refused on load.
    #[test]
    fn onset_day_stage_round_trips() {
        let mut m = ratio_model();
        let plain = m.hazards(&array![[3.0]]).expect("hazards");
        m.meta.timing = Some(Box::new(Timing {
            columns: vec![0],
            scaler: Standardizer {
                mean: vec![0.0],
                sd: vec![1.0],
            },
            splines: vec![None],
            days: vec![14],
            coefficients: vec![vec![0.0]],
            intercepts: vec![0.0],
            weight: 1.0,
        }));
        let files: BTreeMap<String, Vec<u8>> = m.to_files().unwrap().into_iter().collect();
        let back = FittedModel::from_files(&files).expect("load");
        let h = back.hazards(&array![[3.0]]).expect("hazards");
        assert_eq!(h.row(0).to_vec()[..13], [0.0; 13]);
        let p = |h: &Array2<f64>| summarize(h.row(0)).p14;
        assert!((p(&h) - p(&plain)).abs() < 1e-12);
        let mut bad = m.clone();
        if let Some(t) = bad.meta.timing.as_mut() {
            t.columns = vec![5];
        }
        let files: BTreeMap<String, Vec<u8>> = bad.to_files().unwrap().into_iter().collect();
        assert!(FittedModel::from_files(&files).is_err());
    }
}
