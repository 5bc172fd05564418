//! Synthetic [`ReportInputs`] of any size, deterministic from a seed, for render tests and the
//! report bench (`benches/report.rs`): scored creatives with every status and action, cost
//! histories, a stored evaluation with chart data, and a budget plan with Michaelis–Menten
//! curves, bootstrap-like bands and forecasts. The numbers are plausible, not fitted.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::inputs::*;
use crate::budget::fit::PeriodForecast;
use crate::budget::service::{EntityPlanView, PlanView};
use crate::fatigue::metrics::{CalibrationBin, Curves, Metrics};
use crate::fatigue::pipeline::{EvaluationReport, ModelReport, SliceInfo, StoredEvaluation};
use crate::fatigue::{ScoreRow, ScoringConfig};
use crate::features::{LabelConfig, RuleCounts};
use crate::registry::{ModelCard, ModelKind};

fn card(kind: ModelKind, model: &str, metric: &str, value: f64) -> ModelCard {
    ModelCard {
        kind,
        version: format!(
            "20261101T120000Z-{}",
            &format!("{:08x}", model.len() * 2654435761)[..8]
        ),
        tenant: "synthetic".into(),
        created: "2026-11-01T12:00:00Z".into(),
        model: model.into(),
        data_from: NaiveDate::from_ymd_opt(2026, 1, 1),
        data_to: NaiveDate::from_ymd_opt(2026, 10, 31),
        rows: 123_456,
        features: vec!["f".into(); 40],
        schema_hash: String::new(),
        hyperparameters: serde_json::Value::Null,
        seed: 7,
        metrics: [(metric.to_string(), value)].into_iter().collect(),
        selection_metric: metric.into(),
        higher_is_better: true,
        crate_version: env!("CARGO_PKG_VERSION").into(),
        files: BTreeMap::new(),
        validation: None,
    }
}

fn evaluation(rng: &mut ChaCha8Rng) -> StoredEvaluation {
    let slice = |from: (u32, u32), to: (u32, u32), rows, events| SliceInfo {
        from: NaiveDate::from_ymd_opt(2026, from.0, from.1).unwrap_or_default(),
        to: NaiveDate::from_ymd_opt(2026, to.0, to.1).unwrap_or_default(),
        rows,
        events,
    };
    let names = [
        ("survival_mlp", true, 0.82),
        ("logistic_hazard", true, 0.78),
        ("reactive_2x", false, 0.66),
        ("calendar_refresh", false, 0.58),
    ];
    let mut models = Vec::new();
    let mut curves = BTreeMap::new();
    for (name, learned, auc) in names {
        models.push(ModelReport {
            model: name.into(),
            learned,
            metrics: Metrics {
                rows: 20_000,
                events_14: 900,
                auc_7: Some(auc + 0.02),
                auc_14: Some(auc),
                c_index: Some(auc - 0.03),
                ibs: Some(0.12 - (auc - 0.5) / 10.0),
                ece: Some(0.03),
                onset_mae: Some(3.1),
                precision_at_recall_50: Some(auc - 0.4),
                median_lead_days: Some(6.0),
            },
            intervals: BTreeMap::new(),
        });
        // A concave ROC with area ≈ auc: tpr = fpr^((1 − auc)/auc).
        let k = (1.0 - auc) / auc;
        let roc_14 = (0..=100)
            .map(|i| {
                let x = i as f64 / 100.0;
                [x, x.powf(k)]
            })
            .collect();
        let calibration = (0..10)
            .map(|b| {
                let mid = (b as f64 + 0.5) / 10.0;
                CalibrationBin {
                    lower: b as f64 / 10.0,
                    upper: (b + 1) as f64 / 10.0,
                    mean_predicted: mid,
                    observed_rate: (mid + rng.gen_range(-0.05..0.05)).clamp(0.0, 1.0),
                    rows: 100 + b * 10,
                }
            })
            .collect();
        let onsets = (0..400)
            .map(|_| {
                let real = rng.gen_range(1..=14) as f64;
                [(real + rng.gen_range(-3.0..3.0)).clamp(1.0, 14.0), real]
            })
            .collect();
        curves.insert(
            name.to_string(),
            Curves {
                roc_14,
                calibration,
                onsets,
            },
        );
    }
    StoredEvaluation {
        model: "survival_mlp".into(),
        report: EvaluationReport {
            train: slice((1, 1), (7, 31), 120_000, 5_000),
            validation: slice((8, 15), (9, 14), 20_000, 800),
            test: slice((9, 29), (10, 31), 20_000, 900),
            features: 40,
            rule_counts: RuleCounts::default(),
            models,
            validation_method: None,
        },
        curves,
    }
}

/// Inputs with `creatives` scored creatives and `entities` budget entities.
pub fn inputs(creatives: usize, entities: usize, seed: u64) -> ReportInputs {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let as_of = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap_or_default();
    let platforms = ["google_ads", "meta", "tiktok", "linkedin"];
    let scoring = ScoringConfig::default();
    let mut list = Vec::with_capacity(creatives);
    for i in 0..creatives {
        let u: f64 = rng.r#gen();
        let (status, p7, p14) = match i % 10 {
            0 => ("fatigued", Some(1.0), Some(1.0)),
            9 => ("insufficient_data", None, None),
            5 | 6 => ("limited", Some(0.3 + 0.4 * u), Some(0.55 + 0.4 * u)),
            _ => ("healthy", Some(0.2 * u), Some(0.5 * u)),
        };
        let action = match (status, p7, p14) {
            ("fatigued", ..) => "refresh_now",
            (_, Some(a), _) if a >= scoring.refresh_now_p7 => "refresh_now",
            (_, _, Some(b)) if b >= scoring.prepare_refresh_p14 => "prepare_refresh",
            (_, Some(_), _) => "keep",
            _ => "insufficient_data",
        };
        let p714 = match (status, p7, p14) {
            ("fatigued", ..) => Some(0.0),
            (_, Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        list.push(CreativeInput {
            score: ScoreRow {
                tenant: "synthetic".into(),
                platform: platforms[i % platforms.len()].into(),
                account_id: format!("acct-{}", i % 17),
                ad_id: format!("ad-{i:05}"),
                as_of,
                status: status.into(),
                p_onset_7d: p7,
                p_onset_14d: p14,
                p_onset_7_14d: p714,
                expected_days_to_onset: p14.map(|p| 14.0 * (1.0 - p / 2.0)),
                drivers: if p14.is_some() {
                    "cost ratio to launch 1.62 (typical 1.10) +12 pts; CTR vs peak 0.71 (typical 0.90) +5 pts".into()
                } else {
                    String::new()
                },
                action: action.into(),
                model_version: "20261101T120000Z-00000001".into(),
                // Constant daily hazard h with 1 − (1 − h)^14 = P(onset ≤ 14).
                survival: p14.filter(|_| status != "fatigued").map(|p| {
                    let h = 1.0 - (1.0 - p.min(0.999)).powf(1.0 / 14.0);
                    (1..=14).map(|k| (1.0 - h).powi(k)).collect()
                }),
            },
            spend_7d: (rng.gen_range(50.0..5_000.0f64) * 100.0).round() / 100.0,
        });
    }
    let top = top_forecast(&list, DEFAULT_TOP);
    let histories = top
        .iter()
        .map(|&i| {
            let base = rng.gen_range(0.5..3.0);
            let mut v = base;
            CreativeHistory {
                creative: i,
                metric_kind: "cpc".into(),
                baseline: base,
                points: (0..70)
                    .map(|k| {
                        v *= 1.0 + rng.gen_range(-0.02..0.035);
                        let d = as_of - Duration::days(69 - k);
                        (d, (k >= 6).then_some(v))
                    })
                    .collect(),
            }
        })
        .collect();
    let mut plan_entities = Vec::with_capacity(entities);
    let mut curves = Vec::new();
    let (mut total, mut out_cur, mut out_rec) = (0.0, 0.0, 0.0);
    for e in 0..entities {
        let k = rng.gen_range(500.0..5_000.0);
        let beta = rng.gen_range(50.0..400.0);
        let cur = rng.gen_range(200.0..4_000.0);
        let rec = (cur * rng.gen_range(0.7..1.3f64)).max(0.0);
        let f = |s: f64| beta * s / (k + s);
        total += cur;
        out_cur += f(cur);
        out_rec += f(rec);
        plan_entities.push(EntityPlanView {
            id: format!("{}/campaign-{e:03}", platforms[e % platforms.len()]),
            current: cur,
            recommended: rec,
            delta: rec - cur,
            expected_outcome_current: f(cur),
            expected_outcome_recommended: f(rec),
            marginal_return: Some(beta * k / ((k + rec) * (k + rec))),
            binding: if e % 7 == 0 {
                "shift_max".into()
            } else {
                "none".into()
            },
        });
        if e < 24 {
            let xmax = cur.max(rec) * 1.6;
            let spend: Vec<f64> = (0..48).map(|i| xmax * i as f64 / 47.0).collect();
            let outcome: Vec<f64> = spend.iter().map(|s| f(*s)).collect();
            curves.push(EntityCurve {
                id: plan_entities[e].id.clone(),
                lo: outcome.iter().map(|y| y * 0.85).collect(),
                hi: outcome.iter().map(|y| y * 1.15).collect(),
                spend,
                outcome,
                current: cur,
                recommended: rec,
            });
        }
    }
    let forecast = |scale: f64| -> Vec<PeriodForecast> {
        (0..4)
            .map(|h| PeriodForecast {
                series: "total".into(),
                period: as_of + Duration::days(1 + 7 * h),
                spend: total,
                outcome: out_cur * scale * 7.0,
                outcome_lo: out_cur * scale * 7.0 * 0.9,
                outcome_hi: out_cur * scale * 7.0 * 1.1,
                media: out_cur * scale * 5.0,
            })
            .collect()
    };
    let lift = out_rec - out_cur;
    let rec_scale = if out_cur > 0.0 {
        out_rec / out_cur
    } else {
        1.0
    };
    ReportInputs {
        tenant: "synthetic".into(),
        as_of,
        created: "2026-11-01T12:30:00Z".into(),
        currency: Some("USD".into()),
        coverage: platforms
            .iter()
            .enumerate()
            .map(|(i, p)| Coverage {
                platform: p.to_string(),
                rows: 250_000 + 1_000 * i as u64,
                creatives: (creatives / platforms.len()) as u64,
                from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
                to: as_of,
                spend: 1_234_567.0 * (i + 1) as f64,
            })
            .collect(),
        fatigue: Section::Ready(Box::new(FatigueInputs {
            card: card(ModelKind::Fatigue, "survival_mlp", "auc_14", 0.82),
            creatives: list,
            histories,
            evaluation: Ok(evaluation(&mut rng)),
            scoring: scoring.clone(),
            horizon_days: 14,
        })),
        budget: Section::Ready(Box::new(BudgetInputs {
            max_shift_pct: Some(30.0),
            card: card(
                ModelKind::Budget,
                "response_curves(hill_geometric)",
                "holdout_wape",
                0.21,
            ),
            outcome: "conversions".into(),
            period: "week".into(),
            interval: 0.9,
            plan: PlanView {
                total_budget: total,
                expected_outcome: out_rec,
                expected_outcome_current: out_cur,
                mode: "fixed_budget".into(),
                lambda: Some(0.01),
                kkt_gap: 0.0,
                entities: plan_entities,
                notes: Vec::new(),
                model_version: None,
            },
            lift: Estimate {
                point: lift,
                lo: lift * 0.4,
                hi: lift * 1.6,
            },
            curves,
            forecast_current: forecast(1.0),
            forecast_recommended: forecast(rec_scale),
            notes: Vec::new(),
        })),
        definitions: Definitions {
            labels: LabelConfig::default(),
            scoring,
            horizon_days: 14,
        },
        top_n: DEFAULT_TOP,
    }
}

const DEFAULT_TOP: usize = super::gather::DEFAULT_TOP_N;
