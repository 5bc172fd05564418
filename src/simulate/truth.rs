//! Ground-truth labels and tables of a simulated [`World`]: the latent fatigue onset of each
//! creative (docs/design.md §4 applied to its noise-free expected series) and the CSV truth tables
//! `creatives.csv`, `campaigns.csv`, `campaign_daily.csv` that `output.rs` writes.
//!
//! Onset definition, exactly: the *launch baseline* is cost per result (Σ spend / Σ expected
//! conversions) over the creative's first delivering days until they hold ≥ 1,000 expected
//! impressions, at most 7 delivering days (no baseline → never an onset). From the day the
//! baseline is set, the rolling value on a day is the ratio of the 7-calendar-day sums of spend
//! and expected conversions (days without delivery add zero); onset is the first day of the
//! first run of 3 consecutive days whose rolling value is ≥ 2.0 × baseline.

use super::world::{Account, Creative, World};

/// Minimum expected impressions for a launch baseline.
pub const BASELINE_IMPRESSIONS: f64 = 1_000.0;
/// Maximum delivering days in the launch baseline.
pub const BASELINE_MAX_DAYS: usize = 7;
/// Rolling window, calendar days.
pub const ROLLING_DAYS: usize = 7;
/// Onset threshold: rolling cost per result ≥ this × baseline.
pub const ONSET_RATIO: f64 = 2.0;
/// Consecutive days the threshold must hold.
pub const ONSET_RUN: usize = 3;

/// Incremental onset detector: feed one day at a time (the simulator's advertisers learn of
/// fatigue as it happens); `onset` is the 0-based day index within the series once known.
#[derive(Debug, Clone, Default)]
pub struct OnsetDetector {
    day: usize,
    base_spend: f64,
    base_conv: f64,
    base_imps: f64,
    base_days: usize,
    baseline: Option<f64>,
    gave_up: bool,
    window: std::collections::VecDeque<(f64, f64)>,
    run: usize,
    pub onset: Option<usize>,
}

impl OnsetDetector {
    /// Feeds a day: spend (currency units), expected conversions and expected impressions;
    /// `delivered` is false on days without delivery. Returns the onset once it is known.
    pub fn push(&mut self, spend: f64, conv: f64, imps: f64, delivered: bool) -> Option<usize> {
        let today = self.day;
        self.day += 1;
        self.window.push_back((spend, conv));
        if self.window.len() > ROLLING_DAYS {
            self.window.pop_front();
        }
        if self.onset.is_some() {
            return self.onset;
        }
        if self.baseline.is_none() && !self.gave_up && delivered {
            self.base_spend += spend;
            self.base_conv += conv;
            self.base_imps += imps;
            self.base_days += 1;
            if self.base_imps >= BASELINE_IMPRESSIONS {
                if self.base_conv > 0.0 && self.base_spend > 0.0 {
                    self.baseline = Some(self.base_spend / self.base_conv);
                } else {
                    self.gave_up = true;
                }
            } else if self.base_days >= BASELINE_MAX_DAYS {
                self.gave_up = true;
            }
        }
        let base = self.baseline?;
        let (s, c) = self
            .window
            .iter()
            .fold((0.0, 0.0), |(s, c), (ds, dc)| (s + ds, c + dc));
        if c > 0.0 && s / c >= ONSET_RATIO * base {
            self.run += 1;
            if self.run >= ONSET_RUN {
                self.onset = Some(today + 1 - ONSET_RUN);
            }
        } else {
            self.run = 0;
        }
        self.onset
    }
}

/// The onset index of a whole series (spend, expected conversions, expected impressions,
/// delivered), by the module's definition.
pub fn onset_of(series: &[(f64, f64, f64, bool)]) -> Option<usize> {
    let mut d = OnsetDetector::default();
    for &(s, c, i, del) in series {
        if let Some(o) = d.push(s, c, i, del) {
            return Some(o);
        }
    }
    None
}

/// `creatives.csv` rows (header first) for one account.
pub fn creative_records(world: &World, tenant: &str, acc: &Account) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let last = world.last_day();
    for cr in visible(acc) {
        let Some(camp) = acc.campaigns.get(cr.campaign) else {
            continue;
        };
        let group = camp.ad_groups.get(cr.ad_group).map(|g| g.id.clone());
        let p = &cr.params;
        out.push(vec![
            tenant.to_string(),
            acc.platform.as_str().to_string(),
            acc.account_id.clone(),
            camp.id.clone(),
            group.unwrap_or_default(),
            cr.ad_id.clone(),
            world.date(cr.launch_day).to_string(),
            world.date(cr.stop_day.min(last)).to_string(),
            cr.stop_reason.as_str().to_string(),
            format!("{:.0}", p.audience_size),
            format!("{:.6}", p.ctr0),
            format!("{:.6}", p.cvr0),
            format!("{:.4}", p.wear_in_days),
            format!("{:.6}", p.wearout_rate),
            format!("{:.4}", p.wearout_start_frequency),
            cr.latent_onset_day
                .map(|d| world.date(d).to_string())
                .unwrap_or_default(),
            (cr.launch_day < 0).to_string(),
        ]);
    }
    out
}

pub const CREATIVE_HEADER: [&str; 17] = [
    "tenant",
    "platform",
    "account_id",
    "campaign_id",
    "ad_group_id",
    "ad_id",
    "launch_date",
    "stop_date",
    "stop_reason",
    "audience_size",
    "ctr0",
    "cvr0",
    "wear_in_days",
    "wearout_rate",
    "wearout_start_frequency",
    "latent_onset_date",
    "left_truncated",
];

/// Creatives with at least one day in the reported window, sorted by ad id.
pub fn visible(acc: &Account) -> Vec<&Creative> {
    let mut v: Vec<&Creative> = acc.creatives.iter().filter(|c| c.stop_day >= 0).collect();
    v.sort_by(|a, b| a.ad_id.cmp(&b.ad_id));
    v
}

pub const CAMPAIGN_HEADER: [&str; 16] = [
    "tenant",
    "platform",
    "account_id",
    "campaign_id",
    "currency",
    "adstock_kind",
    "adstock_decay",
    "weibull_shape",
    "weibull_scale",
    "weibull_max_lag",
    "hill_half_saturation",
    "hill_shape",
    "beta",
    "baseline",
    "total_spend",
    "true_contribution",
];

/// `campaigns.csv` rows for one account.
pub fn campaign_records(tenant: &str, acc: &Account) -> Vec<Vec<String>> {
    use super::response::Adstock;
    let mut camps: Vec<_> = acc.campaigns.iter().collect();
    camps.sort_by(|a, b| a.id.cmp(&b.id));
    camps
        .into_iter()
        .map(|c| {
            let r = &c.response;
            let (decay, shape, scale, lag) = match r.adstock {
                Adstock::Geometric { decay } => (
                    format!("{decay:.6}"),
                    String::new(),
                    String::new(),
                    String::new(),
                ),
                Adstock::Weibull {
                    shape,
                    scale,
                    max_lag,
                } => (
                    String::new(),
                    format!("{shape:.6}"),
                    format!("{scale:.6}"),
                    max_lag.to_string(),
                ),
            };
            let spend: f64 = c.daily.iter().map(|d| d.spend).sum();
            let contribution: f64 = c.daily.iter().map(|d| d.media_contribution).sum();
            vec![
                tenant.to_string(),
                acc.platform.as_str().to_string(),
                acc.account_id.clone(),
                c.id.clone(),
                acc.currency.clone(),
                r.adstock.kind().to_string(),
                decay,
                shape,
                scale,
                lag,
                format!("{:.6}", r.half_saturation),
                format!("{:.6}", r.shape),
                format!("{:.6}", r.beta),
                format!("{:.6}", r.baseline),
                format!("{spend:.2}"),
                format!("{contribution:.6}"),
            ]
        })
        .collect()
}

pub const CAMPAIGN_DAILY_HEADER: [&str; 11] = [
    "tenant",
    "platform",
    "account_id",
    "campaign_id",
    "date",
    "budget",
    "spend",
    "adstock",
    "expected_response",
    "quality_multiplier",
    "seasonal_multiplier",
];

/// `campaign_daily.csv` rows for one account.
pub fn campaign_daily_records(world: &World, tenant: &str, acc: &Account) -> Vec<Vec<String>> {
    let mut camps: Vec<_> = acc.campaigns.iter().collect();
    camps.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = Vec::new();
    for c in camps {
        for d in &c.daily {
            out.push(vec![
                tenant.to_string(),
                acc.platform.as_str().to_string(),
                acc.account_id.clone(),
                c.id.clone(),
                world.date(d.day).to_string(),
                format!("{:.2}", d.budget),
                format!("{:.2}", d.spend),
                format!("{:.6}", d.adstock),
                format!("{:.6}", d.expected_response),
                format!("{:.6}", d.quality),
                format!("{:.6}", d.season),
            ]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-built series: 1,000 impressions per day; spend 100/day; conversions 10/day for
    /// 10 days (cost per result 10), then 4/day (cost per result 25).
    /// Baseline = day 0 alone (1,000 imps ≥ floor): 100 / 10 = 10; threshold 20.
    /// Rolling 7-day value on day d ≥ 10 with k = d − 9 days at 4 conv:
    ///   spend 700, conv 10·(7−k) + 4·k = 70 − 6k.
    ///   k=1: 700/64 = 10.9; k=2: 700/58 = 12.1; k=3: 700/52 = 13.5; k=4: 700/46 = 15.2;
    ///   k=5: 700/40 = 17.5; k=6: 700/34 = 20.59 ≥ 20 (day 15); k=7: 700/28 = 25 (day 16),
    ///   day 17: 25. So days 15, 16, 17 are ≥ 2× → onset = day 15.
    #[test]
    fn onset_matches_hand_computed_series() {
        let mut s: Vec<(f64, f64, f64, bool)> =
            (0..10).map(|_| (100.0, 10.0, 1000.0, true)).collect();
        s.extend((0..10).map(|_| (100.0, 4.0, 1000.0, true)));
        assert_eq!(onset_of(&s), Some(15));
        // Stopping the series at day 16 leaves only a 2-day run: no onset (censored).
        assert_eq!(onset_of(&s[..17]), None);
    }

    /// A run broken by one day back under the threshold restarts the count.
    #[test]
    fn onset_requires_consecutive_days() {
        // Baseline 10 (day 0), threshold 20. Seven idle days flush day 0 out of the window
        // (day 7: empty window, no value). Probes: day 8 → 100/4 = 25 (run 1); day 9 →
        // 200/8 = 25 (run 2); day 10 costs 10 → 300/18 = 16.7 (run broken); days 11, 12 →
        // 400/22 = 18.2, 500/26 = 19.2; day 13 → 600/30 = 20 (run 1) and the series ends.
        let mut s = vec![(100.0, 10.0, 1000.0, true)];
        s.extend((0..7).map(|_| (0.0, 0.0, 0.0, false)));
        for (sp, cv) in [
            (100.0, 4.0),
            (100.0, 4.0),
            (100.0, 10.0),
            (100.0, 4.0),
            (100.0, 4.0),
            (100.0, 4.0),
        ] {
            s.push((sp, cv, 1000.0, true));
        }
        assert_eq!(onset_of(&s), None);
        // Without the recovery day (day 10 costs 25 too): days 8, 9, 10 roll at 25 → onset 8.
        s[10] = (100.0, 4.0, 1000.0, true);
        assert_eq!(onset_of(&s), Some(8));
    }

    #[test]
    fn baseline_needs_the_impression_floor_within_seven_days() {
        // 100 imps/day never reaches 1,000 in 7 delivering days → no baseline → no onset even
        // though cost per result later quadruples.
        let mut s: Vec<_> = (0..7).map(|_| (10.0, 1.0, 100.0, true)).collect();
        s.extend((0..10).map(|_| (10.0, 0.25, 100.0, true)));
        assert_eq!(onset_of(&s), None);
        // 400 imps/day reaches 1,200 on day 2: baseline = 30 / 3 = 10.
        let mut s: Vec<_> = (0..3).map(|_| (10.0, 1.0, 400.0, true)).collect();
        s.extend((0..10).map(|_| (10.0, 0.25, 400.0, true)));
        // Rolling from day 3 (k days at cost 40): spend 10·min(d+1,7), conv 3 + ... compute:
        // day 3: 40/3.25 = 12.3; day 4: 50/3.5 = 14.3; day 5: 60/3.75 = 16; day 6: 70/4 = 17.5;
        // day 7 (window 1..7): 70/(2 + 1.25) = 21.5 ≥ 20; day 8: 70/(1 + 1.5) = 28; day 9: 40.
        assert_eq!(onset_of(&s), Some(7));
    }
}
