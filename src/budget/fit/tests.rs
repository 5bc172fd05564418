//! Recovery on known-truth data generated here (`synth`), identifiability warnings, and
//! forecasts of a hand-built model checked against hand arithmetic.

use std::collections::BTreeMap;

use super::*;
use crate::budget::series::PeriodKind;
use crate::budget::synth::{SynthConfig, generate};
use crate::budget::transform::{Adstock, Saturation};

/// Relative half-width of the 90% share interval at or under which an entity counts as well
/// identified by the data (the recovery figures in the README use the same cut).
pub(crate) const WELL_IDENTIFIED: f64 = 0.10;

#[test]
fn recovers_well_identified_channels_and_covers_the_truth() {
    // 8 datasets × 3 channels × 156 weeks, noise 1% of the mean outcome; truth from the
    // generator. Channels whose posterior pins the share to ±10% must be within 1 point of
    // share and 7.5% of ROAS at the median (over 50 such datasets the medians are 0.43 points
    // and 3.9%; a few datasets give a noisier median), and the 90% intervals must cover most
    // truths.
    let (mut covered, mut total) = (0, 0);
    let (mut share_err, mut roas_err) = (Vec::new(), Vec::new());
    for seed in 1000..1008 {
        let (ds, truth) = generate(&SynthConfig {
            seed,
            noise: 0.01,
            ..SynthConfig::default()
        });
        let model = train(&[ds], &FitParams::default(), "synth", "outcome").unwrap();
        assert!(model.models[0].r2 > 0.9, "r2 {}", model.models[0].r2);
        for (r, t) in model.report().iter().zip(&truth) {
            assert!(r.contribution_lo <= r.contribution && r.contribution <= r.contribution_hi);
            total += 1;
            if r.contribution_share_lo <= t.share && t.share <= r.contribution_share_hi {
                covered += 1;
            }
            let half = (r.contribution_share_hi - r.contribution_share_lo) / 2.0;
            if half <= WELL_IDENTIFIED * r.contribution_share {
                share_err.push((r.contribution_share - t.share).abs());
                roas_err.push((r.roas / t.roas - 1.0).abs());
            }
        }
    }
    assert!(covered * 4 >= total * 3, "covered {covered}/{total}");
    assert!(share_err.len() >= 3, "well identified: {}", share_err.len());
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    assert!(median(share_err.clone()) <= 0.01, "{share_err:?}");
    assert!(median(roas_err.clone()) <= 0.075, "{roas_err:?}");
}

#[test]
fn flat_spend_is_flagged_as_unidentified() {
    let (ds, _) = generate(&SynthConfig {
        channels: 2,
        periods: 60,
        flat: vec![1],
        seed: 3,
        ..SynthConfig::default()
    });
    let model = train(
        &[ds],
        &FitParams {
            draws: 0,
            ..FitParams::default()
        },
        "synth",
        "outcome",
    )
    .unwrap();
    let rep = model.report();
    let flat = rep.iter().find(|r| r.entity == "ch1").unwrap();
    assert!(
        flat.warnings.iter().any(|w| w.contains("flat spend")),
        "{:?}",
        flat.warnings
    );
    let other = rep.iter().find(|r| r.entity == "ch0").unwrap();
    assert!(!other.warnings.iter().any(|w| w.contains("flat spend")));
}

#[test]
fn collinear_channels_are_flagged() {
    let (mut ds, _) = generate(&SynthConfig {
        channels: 2,
        periods: 40,
        seed: 4,
        ..SynthConfig::default()
    });
    ds.spend[1] = ds.spend[0].iter().map(|x| 2.0 * x).collect();
    let model = train(
        &[ds],
        &FitParams {
            draws: 0,
            ..FitParams::default()
        },
        "synth",
        "outcome",
    )
    .unwrap();
    assert!(
        model.models[0]
            .warnings
            .iter()
            .any(|w| w.starts_with("ch1:") && w.contains("moves with ch0")),
        "{:?}",
        model.models[0].warnings
    );
}

/// A model built by hand: baseline 10 per period (intercept only), one channel with geometric
/// decay 0.5 and Michaelis–Menten k = 100, β = 20, history spend [100, 100].
fn hand_model() -> BudgetModel {
    let first = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    let baseline = BaselineSpec {
        period: PeriodKind::Week,
        first,
        n: 2,
        trend: false,
        weekly_order: 0,
        yearly_order: 0,
        controls: vec![],
        control_means: vec![],
        events: vec![],
    };
    let spec = ChannelSpec {
        adstock: Adstock::Geometric { decay: 0.5 },
        saturation: Saturation::MichaelisMenten {
            half_saturation: 100.0,
        },
    };
    BudgetModel {
        source: "hand".into(),
        outcome: "conversions".into(),
        period: PeriodKind::Week,
        interval: 0.9,
        seed: 1,
        models: vec![FittedModel {
            name: "tv".into(),
            baseline,
            base_coef: vec![10.0],
            channels: vec![FittedChannel {
                name: "tv".into(),
                spec: Some(spec),
                beta: 20.0,
                spend: vec![100.0, 100.0],
            }],
            replicates: vec![],
            outcome: vec![20.0, 22.0],
            residuals: vec![],
            r2: 1.0,
            holdout_mape: None,
            holdout_abs_error: 0.0,
            holdout_outcome: 0.0,
            holdout_periods: 0,
            warnings: vec![],
        }],
    }
}

#[test]
fn forecast_carries_adstock_over() {
    // History adstock: 100, 100 + 50 = 150. Plan spend 0: adstock 75, 37.5.
    // Outcome = 10 + 20·a/(100 + a): 10 + 20·75/175 = 18.571429; 10 + 20·37.5/137.5 = 15.454545.
    let m = hand_model();
    let plan = BTreeMap::from([("tv".to_string(), 0.0)]);
    let f = m.forecast(&plan, 2).unwrap();
    assert_eq!(f.rows.len(), 2);
    assert!(
        (f.rows[0].outcome - 18.571_428_6).abs() < 1e-6,
        "{:?}",
        f.rows
    );
    assert!((f.rows[1].outcome - 15.454_545_5).abs() < 1e-6);
    assert_eq!(
        f.rows[0].period,
        chrono::NaiveDate::from_ymd_opt(2026, 1, 19).unwrap()
    );
    // Spend 100 on: adstock 175 → 10 + 20·175/275 = 22.727273.
    let plan = BTreeMap::from([("tv".to_string(), 100.0)]);
    let f = m.forecast(&plan, 1).unwrap();
    assert!((f.rows[0].outcome - 22.727_272_7).abs() < 1e-6);
    let plan = BTreeMap::from([("radio".to_string(), 1.0)]);
    assert!(
        m.forecast(&plan, 1)
            .unwrap_err()
            .to_string()
            .contains("radio")
    );
}

#[test]
fn contribution_and_curve_of_the_hand_model() {
    // Adstock 100, 150 → media 20·100/200 = 10, 20·150/250 = 12; contribution 22 of an
    // outcome of 42: share 0.5238095; ROAS 22/200 = 0.11.
    let m = hand_model();
    let r = &m.report()[0];
    assert!((r.contribution - 22.0).abs() < 1e-9);
    assert!((r.contribution_share - 22.0 / 42.0).abs() < 1e-12);
    assert!((r.roas - 0.11).abs() < 1e-12);
    // Steady curve: k = 100·(1 − 0.5) = 50 on spend; current spend = mean of the last 4 = 100.
    let c = &m.curves()[0];
    assert_eq!(
        c.curve,
        ResponseCurve::MichaelisMenten {
            beta: 20.0,
            half_saturation: 50.0
        }
    );
    assert_eq!(c.current_spend, 100.0);
}

#[test]
fn a_wide_posterior_is_reported_as_weakly_identified() {
    // The hand model's contribution is β·(100/200 + 150/250) = 1.1·β. Draws with β = 10, 20
    // and 40 give contributions 11, 22 and 44: median 22, 90% interval 12.1 to 41.8 (linear
    // quantiles 0.05 and 0.95 of three values), half-width 14.85 > 0.5·22: flagged.
    let mut m = hand_model();
    let spec = m.models[0].channels[0].spec;
    let draw = |beta: f64| Replicate {
        specs: vec![spec],
        betas: vec![beta],
        base: vec![10.0],
    };
    m.models[0].replicates = vec![draw(10.0), draw(20.0), draw(40.0)];
    let r = &m.report()[0];
    assert!((r.contribution - 22.0).abs() < 1e-9);
    assert!(
        (r.contribution_lo - 12.1).abs() < 1e-9,
        "{}",
        r.contribution_lo
    );
    assert!(
        (r.contribution_hi - 41.8).abs() < 1e-9,
        "{}",
        r.contribution_hi
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("tv: weakly identified") && w.contains("from 55% to 190%")),
        "{:?}",
        r.warnings
    );
    // β = 18, 20, 22: contributions 19.8, 22, 24.2, interval 20.02 to 23.98: not flagged.
    m.models[0].replicates = vec![draw(18.0), draw(20.0), draw(22.0)];
    assert!(m.report()[0].warnings.is_empty());
}

/// Summary of absolute (share, ROAS) errors: count, median share error, median ROAS error,
/// and how many are within ±1 point of share and 5% of ROAS.
pub(crate) fn error_summary(errs: &[(f64, f64)]) -> String {
    if errs.is_empty() {
        return "0 channels".into();
    }
    let mut s: Vec<f64> = errs.iter().map(|e| e.0).collect();
    let mut r: Vec<f64> = errs.iter().map(|e| e.1).collect();
    s.sort_by(f64::total_cmp);
    r.sort_by(f64::total_cmp);
    let within = errs.iter().filter(|e| e.0 <= 0.01 && e.1 <= 0.05).count();
    format!(
        "{} channels: median share error {:.2} points, median ROAS error {:.1}%, {within} within \
         ±1 point and 5%",
        errs.len(),
        100.0 * s[s.len() / 2],
        100.0 * r[r.len() / 2]
    )
}

/// Coverage and recovery over many generated datasets (3 channels × 156 weeks each, seeds
/// 1000…): how often the 90% share intervals cover the truth, the errors of all channels and of
/// the well-identified ones, and for reference the errors of least squares given the TRUE
/// transforms (only β and the baseline estimated), which no fit of this model can beat on
/// average. Slow in the dev profile: run with `OMNIFY_COVERAGE_RUNS=50
/// OMNIFY_COVERAGE_NOISE=0.05 cargo test --release --lib budget::fit::tests::coverage --
/// --ignored --nocapture` (noise as a share of the mean outcome, default 0.05).
#[test]
#[ignore]
fn coverage_over_generated_datasets() {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
    let runs = env("OMNIFY_COVERAGE_RUNS").unwrap_or(50.0) as u64;
    let noise = env("OMNIFY_COVERAGE_NOISE").unwrap_or(0.05);
    let (mut covered, mut total) = (0, 0);
    let (mut all, mut identified, mut oracle) = (Vec::new(), Vec::new(), Vec::new());
    let t0 = std::time::Instant::now();
    for seed in 1000..1000 + runs {
        let (ds, truth) = generate(&SynthConfig {
            seed,
            noise,
            ..SynthConfig::default()
        });
        // The oracle: the fit's baseline design plus the true media columns.
        let spec = BaselineSpec::for_dataset(&ds, true, 0, 2);
        let mut cols = spec.design(&ds.dates, None, None);
        let media: Vec<Vec<f64>> = truth
            .iter()
            .zip(&ds.spend)
            .map(|(t, x)| {
                ChannelSpec {
                    adstock: Adstock::Geometric { decay: t.decay },
                    saturation: Saturation::Hill {
                        half_saturation: t.half_saturation,
                        shape: t.shape,
                    },
                }
                .media(x)
            })
            .collect();
        let nb = cols.len();
        cols.extend(media.iter().cloned());
        let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        let coef = linalg::lstsq(&refs, &ds.outcome);
        let total_outcome: f64 = ds.outcome.iter().sum();
        for (j, t) in truth.iter().enumerate() {
            let c = coef[nb + j] * media[j].iter().sum::<f64>();
            oracle.push((
                (c / total_outcome - t.share).abs(),
                (c / t.contribution - 1.0).abs(),
            ));
        }

        let model = train(&[ds], &FitParams::default(), "synth", "outcome").unwrap();
        for (r, t) in model.report().iter().zip(&truth) {
            total += 1;
            if r.contribution_share_lo <= t.share && t.share <= r.contribution_share_hi {
                covered += 1;
            }
            let e = (
                (r.contribution_share - t.share).abs(),
                (r.roas / t.roas - 1.0).abs(),
            );
            all.push(e);
            let half = (r.contribution_share_hi - r.contribution_share_lo) / 2.0;
            if half <= WELL_IDENTIFIED * r.contribution_share {
                identified.push(e);
            }
        }
    }
    println!(
        "{runs} datasets, noise {noise}: 90% share intervals cover the truth for {covered}/{total} \
         channels ({:.1}%); {:.1} s",
        100.0 * covered as f64 / total as f64,
        t0.elapsed().as_secs_f64()
    );
    println!("all: {}", error_summary(&all));
    println!(
        "well identified (share interval within ±{:.0}%): {}",
        100.0 * WELL_IDENTIFIED,
        error_summary(&identified)
    );
    println!("true transforms given: {}", error_summary(&oracle));
}

/// Fit-time figures on this build (dev profile unless run with --release). Run with
/// `cargo test --lib budget::fit::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_figures() {
    let (ds, _) = generate(&SynthConfig {
        channels: 20,
        periods: 156,
        ..SynthConfig::default()
    });
    for boot in [0usize, 200] {
        let t0 = std::time::Instant::now();
        let p = FitParams {
            draws: boot,
            ..FitParams::default()
        };
        train(std::slice::from_ref(&ds), &p, "t", "y").unwrap();
        println!(
            "20 channels x 156 weeks, {boot} replicates: {:.1}s",
            t0.elapsed().as_secs_f64()
        );
    }
    let sets: Vec<_> = (0..50)
        .map(|e| {
            let (mut ds, _) = generate(&SynthConfig {
                seed: e,
                channels: 1,
                periods: 730,
                period: PeriodKind::Day,
                ..SynthConfig::default()
            });
            ds.channels = vec![format!("e{e}")];
            ds
        })
        .collect();
    for boot in [0usize, 100] {
        let t0 = std::time::Instant::now();
        let p = FitParams {
            draws: boot,
            ..FitParams::default()
        };
        train(&sets, &p, "t", "y").unwrap();
        println!(
            "50 entities x 730 days, {boot} replicates: {:.1}s",
            t0.elapsed().as_secs_f64()
        );
    }
}
