//! A realistic ad-account simulator: generates daily per-ad history for several tenants across
//! all nine platforms, with known ground truth for creative fatigue (docs/design.md §4) and for the
//! spend → outcome response (§5), and writes it as the platforms deliver it (native report
//! files in overlapping, restated pulls) plus the truth tables that later model code is scored
//! against. [`simulate`] builds the [`World`] in memory; [`write_dataset`] writes the files.
//!
//! # Structure
//! Each tenant advertises on 3–6 platforms (platform `p` of `Platform::ALL` is always given to
//! tenant `p mod tenants`, so 3 tenants cover all nine; every tenant also runs Google and Meta,
//! Microsoft is mirrored on a second tenant, random extras follow), one account per platform
//! with a currency (USD/EUR/GBP), a UTC offset (LinkedIn and Pinterest report UTC days, so
//! theirs is 0) and a report format (Google, Meta and Microsoft alternate UI CSV / API JSON by
//! occurrence across tenants; every other platform delivers its API JSON). An account has 2–4 campaigns of
//! 1–3 ad groups; an ad group has 1–2 creative *slots*. Each slot's first creative launches on a
//! uniform day in `[−warmup_days, 25]`, so many are already running on day 0 (left-truncated
//! history); the warm-up days are simulated but never reported. A stopped creative is replaced
//! in its slot 1–4 days later while the tenant's creative budget (`creatives_per_tenant`,
//! split over accounts by slot count) lasts.
//!
//! # Daily process (day t, account-local days)
//! - **Budget**: each campaign has a daily budget (log-normal, median 350 currency units), with a
//!   step change of ±20–60% about once a month (kept within 0.2–5× its start). Spend is
//!   `budget × pace`, pace log-normal (σ 0.08, clipped to 0.7–1.25), split over the creatives
//!   that deliver that day in proportion to `appeal · q²` (platforms shift delivery to what
//!   currently performs; q below), rounded to cents. A creative can buy at most
//!   `1.2 · audience · q` impressions a day (a worn-out ad wins fewer auctions; a platform
//!   rarely shows an ad more than about once a day per person): what it cannot take goes to
//!   the campaign's other creatives (water-filling) or stays unspent (audience-limited).
//! - **Season**: `wave(t) = cos(2π(doy − 340)/365.25)` peaks in early December (Q4). With the
//!   tenant's amplitude A (0.15–0.2 for strongly seasonal tenants, 0.03–0.08 otherwise):
//!   response season `(1 + A·wave)·wd_r`, CTR season `(1 + 0.3A·wave)·wd_r`, CPM season
//!   `(1 + 0.5A·wave)·wd_c`, with weekday multipliers `wd_c` (weekend CPM 7–14% lower) and `wd_r`
//!   (weekend response/CTR 3–6% lower).
//! - **CPM** (currency units per 1,000 impressions) = account base (platform median × log-normal
//!   σ 0.2; e.g. Meta 10, LinkedIn 28) × `exp(drift)` (log random walk, `d ← 0.98d + 0.02ε`) ×
//!   season × `(budget / initial budget)^0.15` (auction pressure), × daily noise (log-normal
//!   σ 0.06) for the realised value. Impressions = spend / CPM × 1000.
//! - **Reach** saturates: with N cumulative impressions and audience A (log-normal, median 150k,
//!   clipped to 20k–5M people), cumulative reach `R = A(1 − e^{−N/A})`, daily reach
//!   `A(1 − e^{−n/A})` for the day's n impressions; **frequency** `f = N / R` climbs with N.
//! - **CTR** = `ctr0 · (1 − w·e^{−age/τ}) · e^{−λ·max(0, f − f0)} · CTR season`, age in days
//!   since launch, f the frequency before the day. ctr0 is platform median × log-normal σ 0.3
//!   (0.3–3%); w ∈ [0.1, 0.4]; τ ∈ [1, 4] days; f0 ∈ [1.3, 3]; λ = 0 for
//!   `never_fatigue_share` of creatives, else log-uniform in [0.1, 1] per unit frequency (small
//!   audiences fatigue in days, large ones in weeks or never). CVR = `cvr0 · e^{−λ_c·max(0,
//!   f − f0)}`, λ_c = (0.2–0.5)·λ (weaker), cvr0 log-normal median 3% (1–10%). The creative's
//!   quality `q = wear-in × CTR wear-out × CVR wear-out` is 1 when fresh.
//! - **Response** (expected conversions of a campaign): `baseline + β·Hill(adstock(spend)(t); k,
//!   s)·Q(t)·season(t)` on days the campaign delivers (0 otherwise: platforms attribute nothing
//!   to ads that did not serve). Adstock is geometric (70%, decay 0.2–0.7) or Weibull-lag
//!   (shape 1.2–2.5, scale 1.5–4 days, 10 lags); Hill shape 0.8–2.5, half-saturation 0.5–1.5×
//!   the steady adstock of the initial budget; β and the baseline (5–20%) are calibrated so that
//!   at the initial budget conversions ≈ 3% of expected clicks. `Q(t)` is the spend-weighted mean
//!   quality. See `response.rs`.
//! - **Allocation**: the response is split over the campaign's delivering creatives in
//!   proportion to their funnel-implied conversions `spend/CPM·1000 · CTR · CVR` (spend ×
//!   quality × CVR effects); these are the creatives' expected conversions.
//! - **Noise**: clicks negative-binomial (Poisson–gamma, shape 15, ≤ impressions); conversions
//!   Poisson — Google reports fractional (data-driven) credit: `Gamma(4n, ¼)` rounded to 2
//!   decimals; others whole. Value = conversions × account order value (log-normal median 60)
//!   × log-normal noise (σ 0.25), cents. Video views = impressions × view rate for video
//!   creatives (TikTok, Snapchat always; Microsoft, Amazon never; others half).
//! - **Advertisers**: `pause_early_share` of creatives get a planned pause at age 5–39 days,
//!   applied if fatigue has not been seen yet (censored: `paused_early`). The latent onset (see
//!   `truth.rs`) is seen as it happens; `refresh_share` of advertisers pause the creative 3–8
//!   days after onset (`refreshed_after_fatigue`), the rest keep running it. Most onsets come
//!   from wear-out; a minority (about one in ten in the sample) come from campaign-level moves —
//!   a budget step into saturation, a seasonal dip — exactly as the 2× rule would flag them in
//!   a real account; `creatives.csv` keeps λ so the two can be told apart.
//! - **Missing days**: an ad-day is skipped with `missing_ad_day_prob` (its share of spend goes
//!   to the other creatives); a whole account-day with `gap_day_prob`. Days without delivery have
//!   no report row, as the platforms omit zero rows.
//! - **Restatement** (`output.rs`): reports are pulled in `pull_window_days` windows overlapping
//!   by `pull_overlap_days`; in every pull but the last, the overlap days are reported before
//!   attribution matured (conversions, value and a little spend lower) and the next pull restates
//!   them with the final numbers.
//!
//! Everything is deterministic in `seed`: each tenant and account draws from its own ChaCha8
//! stream (`world::stream`), iteration is in index order, and no hash-map order reaches output.

mod dynamics;
mod output;
pub mod regimes;
mod response;
mod truth;
mod world;

use std::path::PathBuf;

use chrono::NaiveDate;

pub use dynamics::{cumulative_reach, frequency, wear_in, wear_out, yearly_wave};
pub use output::{DatasetSummary, ManifestEntry, WriteOptions, write_dataset, write_dataset_with};
pub use response::{Adstock, AdstockState, ResponseParams, hill, weibull_weights};
pub use truth::{OnsetDetector, onset_of};
pub use world::{
    Account, AdGroup, Campaign, CampaignDay, Creative, CreativeDay, CreativeParams, StopReason,
    Tenant, World,
};

/// What to simulate. Every knob has a documented default ([`SimConfig::default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seed of every random stream.
    pub seed: u64,
    /// Number of tenants (clients); 3 or more cover all nine platforms.
    pub tenants: usize,
    /// Creatives per tenant that appear in the reported window (launched ones, including
    /// refreshes); fewer if the slots never need them.
    pub creatives_per_tenant: usize,
    /// Reported days.
    pub days: usize,
    /// First reported day (day 0).
    pub start: NaiveDate,
    /// Simulated but unreported days before `start` (default 45): creatives already running on
    /// day 0 carry their history.
    pub warmup_days: usize,
    /// Share of creatives that never fatigue (λ = 0; default 0.3).
    pub never_fatigue_share: f64,
    /// Share of creatives with a planned early pause at age 5–39 days (default 0.2).
    pub pause_early_share: f64,
    /// Share of fatigued creatives the advertiser refreshes 3–8 days after onset (default 0.85).
    pub refresh_share: f64,
    /// Probability that an active ad has no delivery on a given day (default 0.01).
    pub missing_ad_day_prob: f64,
    /// Probability that a whole account has no delivery on a given day (default 0.003).
    pub gap_day_prob: f64,
    /// Days per report pull (default 28).
    pub pull_window_days: usize,
    /// Days each pull re-pulls (restates) of the previous one (default 7).
    pub pull_overlap_days: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            tenants: 3,
            creatives_per_tenant: 60,
            days: 180,
            start: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
            warmup_days: 45,
            never_fatigue_share: 0.3,
            pause_early_share: 0.2,
            refresh_share: 0.85,
            missing_ad_day_prob: 0.01,
            gap_day_prob: 0.003,
            pull_window_days: 28,
            pull_overlap_days: 7,
        }
    }
}

impl SimConfig {
    /// Checks the knobs; the message names the offending field.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::InvalidConfig(m));
        if self.tenants == 0 || self.tenants > 1000 {
            return bad(format!("tenants must be 1–1000, got {}", self.tenants));
        }
        if self.creatives_per_tenant == 0 || self.creatives_per_tenant > 100_000 {
            return bad(format!(
                "creatives_per_tenant must be 1–100000, got {}",
                self.creatives_per_tenant
            ));
        }
        if self.days == 0 || self.days > 3660 {
            return bad(format!("days must be 1–3660, got {}", self.days));
        }
        if self.warmup_days > 365 {
            return bad(format!(
                "warmup_days must be at most 365, got {}",
                self.warmup_days
            ));
        }
        for (name, v) in [
            ("never_fatigue_share", self.never_fatigue_share),
            ("pause_early_share", self.pause_early_share),
            ("refresh_share", self.refresh_share),
            ("missing_ad_day_prob", self.missing_ad_day_prob),
            ("gap_day_prob", self.gap_day_prob),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} must be a probability in [0, 1], got {v}"));
            }
        }
        if self.pull_window_days == 0 || self.pull_overlap_days >= self.pull_window_days {
            return bad(format!(
                "pull_overlap_days ({}) must be smaller than pull_window_days ({}), which must be ≥ 1",
                self.pull_overlap_days, self.pull_window_days
            ));
        }
        if self
            .start
            .checked_add_signed(chrono::Duration::days(self.days as i64))
            .is_none()
            || self
                .start
                .checked_sub_signed(chrono::Duration::days(self.warmup_days as i64))
                .is_none()
        {
            return bad(format!("start {} is out of the calendar range", self.start));
        }
        Ok(())
    }
}

/// A simulation or writing failure, one line naming the cause.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulation config: {0}")]
    InvalidConfig(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the truth table {path}: {message}")]
    Table { path: PathBuf, message: String },
}

/// Generates the whole world in memory (no I/O). Deterministic in `cfg`.
pub fn simulate(cfg: &SimConfig) -> Result<World, SimError> {
    cfg.validate()?;
    let platforms = world::choose_platforms(cfg.seed, cfg.tenants);
    let mut tenants = Vec::with_capacity(cfg.tenants);
    for t in 0..cfg.tenants {
        let mut tenant = world::build_tenant(cfg, t, &platforms);
        let slots: Vec<usize> = tenant
            .accounts
            .iter()
            .map(|a| {
                a.campaigns
                    .iter()
                    .flat_map(|c| &c.ad_groups)
                    .map(|g| g.slots)
                    .sum()
            })
            .collect();
        let budgets = split_budget(cfg.creatives_per_tenant, &slots);
        let amp = tenant.yearly_amplitude;
        for (a, (acc, budget)) in tenant.accounts.iter_mut().zip(budgets).enumerate() {
            dynamics::run_account(cfg, t, a, amp, acc, budget);
        }
        tenants.push(tenant);
    }
    Ok(World {
        config: cfg.clone(),
        tenants,
    })
}

/// Splits `total` in proportion to `weights` (largest remainders first, ties to the earlier).
fn split_budget(total: usize, weights: &[usize]) -> Vec<usize> {
    let sum: usize = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut out: Vec<usize> = weights.iter().map(|w| total * w / sum).collect();
    let mut rem: Vec<(usize, usize)> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| ((total * w) % sum, i))
        .collect();
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = total - out.iter().sum::<usize>();
    for (_, i) in rem {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

#[cfg(test)]
mod tests;
