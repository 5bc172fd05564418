//! Real-shaped simulator regimes (docs/fatigue-real-data.md): accounts that look like the ones customers
//! bring rather than the long, rich default world. Each regime is a [`SimConfig`] preset plus an
//! account-level transformation of the simulated rows:
//!
//! | regime | days | what is real about it |
//! |---|---|---|
//! | `search` | 91 | impressions and clicks only (no spend, no conversions); long-lived creatives (keywords) that run the whole period; an account-wide CTR decline of 20–35% over the period that is not fatigue; many zero-delivery days (15%); few onsets |
//! | `display` | 40 | banners of 2–6 weeks with cost and conversions, a holiday peak (5 days of 1.6–2.2× impressions at a lower CTR), many creatives already running when the data starts |
//! | `short_mixed` | 60 | every metric, weekly cycles, 10% zero-delivery days, a seasonal decline |
//! | `sparse` | 75 | impressions and clicks only, small accounts with 10–40 onsets, 25% zero-delivery days |
//!
//! The transformations are generative, not cosmetic: the decline thins each day's clicks
//! binomially (a lower CTR for every creative of the account), the holiday scales impressions
//! and spend up while clicks follow at a lower rate, and metrics a source lacks become nulls.
//! Everything is seeded: the same regime and seed give the same rows.

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};

use super::{SimConfig, SimError, World, simulate};
use crate::schema::AdDailyRow;

/// A real-shaped regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    Search,
    Display,
    ShortMixed,
    Sparse,
}

impl Regime {
    pub const ALL: [Regime; 4] = [
        Regime::Search,
        Regime::Display,
        Regime::ShortMixed,
        Regime::Sparse,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Regime::Search => "search",
            Regime::Display => "display",
            Regime::ShortMixed => "short_mixed",
            Regime::Sparse => "sparse",
        }
    }

    /// The regime named `s`.
    pub fn parse(s: &str) -> Result<Regime, SimError> {
        Regime::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                SimError::InvalidConfig(format!(
                    "unknown regime `{s}` (expected one of search, display, short_mixed, sparse)"
                ))
            })
    }

    /// Whether the source reports only impressions and clicks.
    pub fn impressions_clicks_only(self) -> bool {
        matches!(self, Regime::Search | Regime::Sparse)
    }

    /// The simulator settings of the regime for `seed` and `tenants`.
    pub fn config(self, seed: u64, tenants: usize) -> SimConfig {
        let base = SimConfig {
            seed,
            tenants,
            ..SimConfig::default()
        };
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(base.start);
        match self {
            Regime::Search => SimConfig {
                days: 91,
                start: date(2026, 9, 1),
                creatives_per_tenant: 90,
                never_fatigue_share: 0.6,
                pause_early_share: 0.0,
                refresh_share: 0.15,
                missing_ad_day_prob: 0.15,
                warmup_days: 120,
                ..base
            },
            Regime::Display => SimConfig {
                days: 40,
                start: date(2026, 11, 5),
                creatives_per_tenant: 75,
                never_fatigue_share: 0.3,
                pause_early_share: 0.7,
                refresh_share: 0.85,
                missing_ad_day_prob: 0.05,
                warmup_days: 30,
                ..base
            },
            Regime::ShortMixed => SimConfig {
                days: 60,
                start: date(2026, 12, 10),
                creatives_per_tenant: 60,
                missing_ad_day_prob: 0.10,
                ..base
            },
            Regime::Sparse => SimConfig {
                days: 75,
                start: date(2026, 3, 1),
                creatives_per_tenant: 45,
                never_fatigue_share: 0.5,
                pause_early_share: 0.1,
                missing_ad_day_prob: 0.25,
                ..base
            },
        }
    }

    /// Applies the regime's account-level effects to one account's rows (in place; rows of
    /// one account, any order). `first`/`days`: the reported window.
    pub fn transform(
        self,
        rows: &mut [AdDailyRow],
        first: NaiveDate,
        days: usize,
        rng: &mut ChaCha8Rng,
    ) {
        let frac = |d: NaiveDate| (d - first).num_days() as f64 / days.max(1) as f64;
        let decline = match self {
            Regime::Search => rng.gen_range(0.20..0.35),
            Regime::ShortMixed => rng.gen_range(0.10..0.25),
            Regime::Display | Regime::Sparse => 0.0,
        };
        let holiday = match self {
            Regime::Display => {
                let start = rng.gen_range(5..(days.saturating_sub(10).max(6)) as i64);
                Some((start, rng.gen_range(1.6..2.2)))
            }
            _ => None,
        };
        for r in rows.iter_mut() {
            if decline > 0.0 {
                keep_clicks(r, 1.0 - decline * frac(r.date), rng);
            }
            if let Some((start, lift)) = holiday {
                let d = (r.date - first).num_days();
                if (start..start + 5).contains(&d) {
                    let imps = (r.impressions as f64 * lift).round() as i64;
                    r.spend = r.spend.map(|s| (s * lift * 100.0).round() / 100.0);
                    r.reach = r.reach.map(|x| (x as f64 * lift).round() as i64);
                    let clicks_before = r.clicks;
                    r.impressions = imps;
                    // Holiday traffic clicks less: clicks grow by half the impressions' lift.
                    r.clicks = ((clicks_before as f64) * (1.0 + (lift - 1.0) * 0.5)).round() as i64;
                    r.clicks = r.clicks.min(r.impressions);
                }
            }
            if self.impressions_clicks_only() {
                r.spend = None;
                r.conversions = None;
                r.conversion_value = None;
                r.currency = None;
            }
        }
    }
}

/// Thins the row's clicks binomially to `share` of them (conversions follow the clicks kept).
fn keep_clicks(r: &mut AdDailyRow, share: f64, rng: &mut ChaCha8Rng) {
    let share = share.clamp(0.0, 1.0);
    if r.clicks <= 0 || share >= 1.0 {
        return;
    }
    let kept = Binomial::new(r.clicks as u64, share)
        .map(|b| b.sample(rng) as i64)
        .unwrap_or(r.clicks);
    // Conversions and their value follow the clicks kept.
    let ratio = kept as f64 / r.clicks as f64;
    if let Some(c) = r.conversions.as_mut() {
        *c = (*c * ratio * 100.0).round() / 100.0;
    }
    if let Some(v) = r.conversion_value.as_mut() {
        *v = (*v * ratio * 100.0).round() / 100.0;
    }
    r.clicks = kept;
}

/// A simulated world of `regime`: per tenant, its name and its rows (every account's, with the
/// regime's effects applied account by account).
pub fn regime_rows(
    regime: Regime,
    seed: u64,
    tenants: usize,
) -> Result<Vec<(String, Vec<AdDailyRow>)>, SimError> {
    let cfg = regime.config(seed, tenants);
    let world: World = simulate(&cfg)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7e61_3e00);
    Ok(world
        .tenants
        .into_iter()
        .map(|t| {
            let mut rows = Vec::new();
            for mut a in t.accounts {
                regime.transform(&mut a.rows, cfg.start, cfg.days, &mut rng);
                rows.extend(a.rows);
            }
            (t.name, rows)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regimes_have_their_shape() {
        for regime in Regime::ALL {
            let world = regime_rows(regime, 11, 2).unwrap();
            let cfg = regime.config(11, 2);
            assert_eq!(world.len(), 2);
            for (_, rows) in &world {
                assert!(!rows.is_empty());
                let first = rows.iter().map(|r| r.date).min().unwrap();
                let last = rows.iter().map(|r| r.date).max().unwrap();
                assert!((last - first).num_days() < cfg.days as i64);
                assert!(
                    rows.iter()
                        .all(|r| r.clicks <= r.impressions && r.clicks >= 0)
                );
                let no_spend = rows
                    .iter()
                    .all(|r| r.spend.is_none() && r.conversions.is_none());
                assert_eq!(
                    no_spend,
                    regime.impressions_clicks_only(),
                    "{}",
                    regime.name()
                );
            }
        }
        assert!(Regime::parse("tv").is_err());
        assert_eq!(Regime::parse("search").unwrap(), Regime::Search);
        // Same seed, same rows.
        let a = regime_rows(Regime::Display, 3, 1).unwrap();
        let b = regime_rows(Regime::Display, 3, 1).unwrap();
        assert_eq!(a[0].1.len(), b[0].1.len());
        assert!(
            a[0].1
                .iter()
                .zip(&b[0].1)
                .all(|(x, y)| x.clicks == y.clicks && x.impressions == y.impressions)
        );
    }

    #[test]
    fn the_search_decline_lowers_ctr_late_in_the_period() {
        // Clicks are thinned by 1 − decline·(day / days): the last third's CTR is lower than
        // the first third's by more than noise, account-wide.
        let (_, rows) = regime_rows(Regime::Search, 5, 1).unwrap().remove(0);
        let first = rows.iter().map(|r| r.date).min().unwrap();
        let ctr = |lo: i64, hi: i64| {
            let (c, i) = rows
                .iter()
                .filter(|r| (lo..hi).contains(&(r.date - first).num_days()))
                .fold((0i64, 0i64), |(c, i), r| (c + r.clicks, i + r.impressions));
            c as f64 / i as f64
        };
        assert!(
            ctr(60, 91) < 0.9 * ctr(0, 30),
            "{} vs {}",
            ctr(60, 91),
            ctr(0, 30)
        );
    }
}
