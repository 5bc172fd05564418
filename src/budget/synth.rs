//! Known-truth media-mix data for recovery tests, coverage runs and benchmarks: a weekly (or
//! daily) outcome = baseline (level, trend, yearly wave) plus Σ β·Hill(geometric
//! adstock(spend)) plus Gaussian noise, with every true parameter and each channel's true contribution and ROAS
//! returned alongside the [`Dataset`]. Spend per channel is a budget level with slow waves,
//! log-normal noise and off periods (flighting), so curves are identifiable — except for
//! channels the caller asks to be flat. [`pymc_example`] rebuilds PyMC-Marketing's own example
//! process, so recovery can be compared with that tool on the data it is quoted for.

use chrono::{Datelike, Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal};

use super::series::{Dataset, PeriodKind};
use super::transform::{Adstock, Saturation};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    pub seed: u64,
    pub channels: usize,
    pub periods: usize,
    pub period: PeriodKind,
    /// Noise standard deviation as a share of the mean outcome (default 0.05).
    pub noise: f64,
    /// Channels (by index) whose spend is constant.
    pub flat: Vec<usize>,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 1,
            channels: 3,
            periods: 156,
            period: PeriodKind::Week,
            noise: 0.05,
            flat: Vec::new(),
        }
    }
}

/// The truth of one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelTruth {
    pub name: String,
    pub decay: f64,
    pub half_saturation: f64,
    pub shape: f64,
    pub beta: f64,
    /// β·Σ Hill(adstock) over the window (outcome units).
    pub contribution: f64,
    /// contribution / Σ observed outcome.
    pub share: f64,
    /// contribution / Σ spend.
    pub roas: f64,
}

/// Generates a dataset and its truth.
pub fn generate(cfg: &SynthConfig) -> (Dataset, Vec<ChannelTruth>) {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let n = cfg.periods;
    let start = NaiveDate::from_ymd_opt(2023, 1, 2).unwrap_or_default();
    let dates: Vec<NaiveDate> = (0..n)
        .map(|i| start + Duration::days(cfg.period.days() * i as i64))
        .collect();
    let per_year = 365.25 / cfg.period.days() as f64;
    let level = 1000.0;
    // Constant, valid parameters: these constructors cannot fail.
    let noise_ln = LogNormal::new(0.0, 0.35).expect("σ > 0");
    let mut spend = Vec::new();
    let mut media = Vec::new();
    let mut truth = Vec::new();
    for j in 0..cfg.channels {
        let base = rng.gen_range(200.0..2000.0);
        let phase = rng.gen_range(0.0..std::f64::consts::TAU);
        let wave = rng.gen_range(10.0..40.0);
        let off_prob = if j % 2 == 0 { 0.15 } else { 0.0 };
        let x: Vec<f64> = (0..n)
            .map(|t| {
                if cfg.flat.contains(&j) {
                    return base;
                }
                if rng.gen_bool(off_prob) {
                    return 0.0;
                }
                let w = 1.0 + 0.6 * (std::f64::consts::TAU * t as f64 / wave + phase).sin();
                (base * w * noise_ln.sample(&mut rng)).max(0.0)
            })
            .collect();
        let decay = rng.gen_range(0.1..0.6);
        let ad = Adstock::Geometric { decay }.apply(&x);
        let mean_ad = ad.iter().sum::<f64>() / n.max(1) as f64;
        let k = rng.gen_range(0.6..1.4) * mean_ad.max(1e-9);
        let shape = rng.gen_range(0.8..2.0);
        let beta = rng.gen_range(150.0..500.0);
        let sat = Saturation::Hill {
            half_saturation: k,
            shape,
        };
        let m: Vec<f64> = ad.iter().map(|a| beta * sat.value(*a)).collect();
        truth.push(ChannelTruth {
            name: format!("ch{j}"),
            decay,
            half_saturation: k,
            shape,
            beta,
            contribution: m.iter().sum(),
            share: 0.0,
            roas: 0.0,
        });
        media.push(m);
        spend.push(x);
    }
    let mean_out = level
        + media
            .iter()
            .map(|m| m.iter().sum::<f64>() / n as f64)
            .sum::<f64>();
    let sd = (cfg.noise.clamp(0.0, 10.0) * mean_out).max(1e-12);
    let normal = Normal::new(0.0, if sd.is_finite() { sd } else { 1.0 }).expect("σ > 0");
    let outcome: Vec<f64> = (0..n)
        .map(|t| {
            let base = level
                + 150.0 * t as f64 / n as f64
                + 80.0 * (std::f64::consts::TAU * t as f64 / per_year).sin();
            base + media.iter().map(|m| m[t]).sum::<f64>() + normal.sample(&mut rng)
        })
        .collect();
    let total: f64 = outcome.iter().sum();
    for (j, t) in truth.iter_mut().enumerate() {
        t.share = t.contribution / total;
        t.roas = t.contribution / spend[j].iter().sum::<f64>().max(1e-12);
    }
    let ds = Dataset {
        name: "outcome".into(),
        period: cfg.period,
        dates,
        outcome,
        channels: truth.iter().map(|t| t.name.clone()).collect(),
        spend,
        controls: Vec::new(),
        events: Vec::new(),
    };
    (ds, truth)
}

/// The truth of one channel of [`pymc_example`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleChannelTruth {
    pub name: String,
    /// Geometric decay of the normalised 8-period adstock.
    pub alpha: f64,
    /// Logistic saturation rate λ: `(1−e^(−λa))/(1+e^(−λa))`.
    pub lam: f64,
    pub beta: f64,
    /// The channel's true media column with β = 1 (saturation of adstock), per period.
    pub media: Vec<f64>,
    /// β·Σ media over the window.
    pub contribution: f64,
    /// contribution / Σ observed outcome.
    pub share: f64,
    /// contribution / Σ spend.
    pub roas: f64,
}

/// PyMC-Marketing's own example data-generating process ("MMM Example Notebook" of its
/// documentation), rebuilt from its published description with fresh random draws per seed, so
/// recovery can be compared with the accuracy its Bayesian fit is quoted for:
/// - 179 weeks, Mondays from 2018-04-02 to 2021-08-30;
/// - spend `x1 = u` if u > 0.9 else u/2 (always on), `x2 = u` if u > 0.8 else 0 (on in about
///   one week in five), u ~ U(0, 1) per week;
/// - adstock: geometric weights α^l over lags 0–7, normalised to sum 1, α = 0.4 and 0.2;
/// - saturation: logistic `(1−e^(−λa))/(1+e^(−λa))`, λ = 4 and 3; β = 3 and 2;
/// - baseline: 2 + ((50·t/(n−1) + 10)^¼ − 1) + ½(−sin(2·2π·d/365.5) + cos(2π·d/365.5)) with d
///   the day of the year, plus events of 1.5 on 2019-05-13 and 2.5 on 2020-09-14;
/// - noise N(0, `noise_sd`²) per week; the example uses 0.25 (about 5% of the mean outcome).
///
/// The events are given to the fit as event columns, as the example gives them to its model.
pub fn pymc_example(seed: u64, noise_sd: f64) -> (Dataset, Vec<ExampleChannelTruth>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let first = NaiveDate::from_ymd_opt(2018, 4, 2).unwrap_or_default();
    let n = 179usize;
    let dates: Vec<NaiveDate> = (0..n).map(|i| first + Duration::weeks(i as i64)).collect();
    let x1: Vec<f64> = (0..n)
        .map(|_| {
            let u: f64 = rng.gen_range(0.0..1.0);
            if u > 0.9 { u } else { u / 2.0 }
        })
        .collect();
    let x2: Vec<f64> = (0..n)
        .map(|_| {
            let u: f64 = rng.gen_range(0.0..1.0);
            if u > 0.8 { u } else { 0.0 }
        })
        .collect();
    let adstock = |x: &[f64], alpha: f64| -> Vec<f64> {
        let w: Vec<f64> = (0..8).map(|l| alpha.powi(l)).collect();
        let total: f64 = w.iter().sum();
        (0..x.len())
            .map(|t| {
                (0..8.min(t + 1))
                    .map(|l| w[l] / total * x[t - l])
                    .sum::<f64>()
            })
            .collect()
    };
    let logistic = |a: f64, lam: f64| (1.0 - (-lam * a).exp()) / (1.0 + (-lam * a).exp());
    let mut truth: Vec<ExampleChannelTruth> =
        [("x1", &x1, 0.4, 4.0, 3.0), ("x2", &x2, 0.2, 3.0, 2.0)]
            .into_iter()
            .map(|(name, x, alpha, lam, beta)| {
                let media: Vec<f64> = adstock(x, alpha)
                    .into_iter()
                    .map(|a| logistic(a, lam))
                    .collect();
                ExampleChannelTruth {
                    name: name.to_string(),
                    alpha,
                    lam,
                    beta,
                    contribution: beta * media.iter().sum::<f64>(),
                    media,
                    share: 0.0,
                    roas: 0.0,
                }
            })
            .collect();
    let event = |day: NaiveDate| -> Vec<f64> {
        dates
            .iter()
            .map(|d| if *d == day { 1.0 } else { 0.0 })
            .collect()
    };
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    let (e1, e2) = (event(day(2019, 5, 13)), event(day(2020, 9, 14)));
    let normal = Normal::new(0.0, noise_sd.clamp(1e-12, 1e6)).expect("σ > 0");
    let outcome: Vec<f64> = (0..n)
        .map(|t| {
            let trend = (50.0 * t as f64 / (n - 1) as f64 + 10.0).powf(0.25) - 1.0;
            let d = dates[t].ordinal() as f64;
            let tau = std::f64::consts::TAU;
            let season = 0.5 * (-(2.0 * tau * d / 365.5).sin() + (tau * d / 365.5).cos());
            2.0 + trend
                + season
                + 1.5 * e1[t]
                + 2.5 * e2[t]
                + truth.iter().map(|c| c.beta * c.media[t]).sum::<f64>()
                + normal.sample(&mut rng)
        })
        .collect();
    let total: f64 = outcome.iter().sum();
    let spend = vec![x1, x2];
    for (c, x) in truth.iter_mut().zip(&spend) {
        c.share = c.contribution / total;
        c.roas = c.contribution / x.iter().sum::<f64>().max(1e-12);
    }
    let ds = Dataset {
        name: "y".into(),
        period: PeriodKind::Week,
        dates,
        outcome,
        channels: truth.iter().map(|c| c.name.clone()).collect(),
        spend,
        controls: Vec::new(),
        events: vec![("event_1".into(), e1), ("event_2".into(), e2)],
    };
    (ds, truth)
}
