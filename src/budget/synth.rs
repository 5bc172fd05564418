//! Known-truth media-mix data for recovery tests, coverage runs and benchmarks: a weekly (or
//! daily) outcome = baseline (level, trend, yearly wave) plus Σ β·Hill(geometric
//! adstock(spend)) plus Gaussian noise, with every true parameter and each channel's true contribution and ROAS
//! returned alongside the [`Dataset`]. Spend per channel is a budget level with slow waves,
//! log-normal noise and off periods (flighting), so curves are identifiable — except for
//! channels the caller asks to be flat.

use chrono::{Duration, NaiveDate};
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
