//! The simulated world's structure and truth: tenants → platform accounts → campaigns → ad
//! groups → creatives, with every hidden parameter the generating process used, plus the
//! deterministic random streams and id formats. Built by [`build_structure`]; the daily process
//! (`dynamics.rs`) fills in creatives, daily truth and report rows.
//!
//! Day indices are `i32` offsets from `SimConfig::start` (day 0); negative days are the
//! warm-up before the reported window (left-truncated history).

use chrono::NaiveDate;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

use super::SimConfig;
use super::response::{Adstock, ResponseParams};
use crate::platforms::{NativeFormat, Platform};
use crate::schema::AdDailyRow;

/// Everything the simulator generated: structure, hidden parameters, daily truth and the final
/// (post-restatement) report rows of every account.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    pub config: SimConfig,
    /// In generation order (`tenant_01`, `tenant_02`, ...).
    pub tenants: Vec<Tenant>,
}

impl World {
    /// The calendar date of a day index.
    pub fn date(&self, day: i32) -> NaiveDate {
        self.config.start + chrono::Duration::days(day as i64)
    }

    /// The last reported day index (`days − 1`).
    pub fn last_day(&self) -> i32 {
        self.config.days as i32 - 1
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub name: String,
    /// Amplitude of the yearly sinusoid on the response (dimensionless; 0.15–0.2 for strongly
    /// seasonal tenants, 0.03–0.08 otherwise). CPM and CTR use scaled-down versions.
    pub yearly_amplitude: f64,
    /// Accounts sorted by platform name.
    pub accounts: Vec<Account>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub platform: Platform,
    pub account_id: String,
    pub account_name: String,
    /// ISO 4217 code; all money of the account is in this currency.
    pub currency: String,
    /// Day boundaries are local midnight at this offset (minutes east of UTC).
    pub utc_offset_minutes: i32,
    /// The format the account's reports are delivered in.
    pub format: NativeFormat,
    /// Median CPM at neutral season and no drift, currency units per 1,000 impressions.
    pub cpm_base: f64,
    /// Weekday multipliers on CPM, Monday first (dimensionless).
    pub weekday_cpm: [f64; 7],
    /// Weekday multipliers on CTR and on the response, Monday first.
    pub weekday_response: [f64; 7],
    /// Median order value, currency units per conversion.
    pub order_value: f64,
    pub campaigns: Vec<Campaign>,
    /// Every creative whose life overlaps the reported window, plus those stopped during the
    /// warm-up, in launch order.
    pub creatives: Vec<Creative>,
    /// Final report rows (day ≥ 0, delivering ad-days only), sorted by ad id then date. Full
    /// rows: the platform writer/`carried` drop what the platform does not report.
    pub rows: Vec<AdDailyRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    pub ad_groups: Vec<AdGroup>,
    pub response: ResponseParams,
    /// Daily budget at the start of the warm-up, currency units per day.
    pub initial_budget: f64,
    /// Per reported day (day ≥ 0), in day order.
    pub daily: Vec<CampaignDay>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AdGroup {
    pub id: String,
    pub name: String,
    /// Concurrent creative slots (1–2): a stopped creative is replaced in its slot.
    pub slots: usize,
}

/// One campaign-day of truth.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignDay {
    pub day: i32,
    /// Daily budget, currency units.
    pub budget: f64,
    /// Realised spend (sum of its creatives' spend), currency units.
    pub spend: f64,
    /// Adstocked spend, currency units per day.
    pub adstock: f64,
    /// Q(t): spend-weighted mean creative quality (1 fresh; 1 when nothing delivers).
    pub quality: f64,
    /// season(t): yearly × weekday multiplier on the response.
    pub season: f64,
    /// Expected conversions attributed to the campaign's ads (0 when none delivers).
    pub expected_response: f64,
    /// `beta · hill(adstock) · Q · season` on delivering days: the part that exists because
    /// of spend (expected response minus what zero spend would have left).
    pub media_contribution: f64,
}

/// Why a creative stopped delivering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The advertiser paused it before it fatigued (censored).
    PausedEarly,
    /// Paused a few days after its latent fatigue onset (and replaced when budget remained).
    RefreshedAfterFatigue,
    /// Still running on the last simulated day.
    EndOfData,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::PausedEarly => "paused_early",
            StopReason::RefreshedAfterFatigue => "refreshed_after_fatigue",
            StopReason::EndOfData => "end_of_data",
        }
    }
}

/// A creative's hidden parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct CreativeParams {
    /// People the creative can reach (20k–5M).
    pub audience_size: f64,
    /// Fresh CTR at neutral season (clicks per impression).
    pub ctr0: f64,
    /// Fresh CVR (conversions per click) at neutral season.
    pub cvr0: f64,
    /// Wear-in depth `w` in `1 − w·exp(−age/τ)`.
    pub wear_in_depth: f64,
    /// Wear-in time constant τ, days.
    pub wear_in_days: f64,
    /// λ: CTR decays as `exp(−λ·max(0, f − f0))`; 0 never fatigues.
    pub wearout_rate: f64,
    /// f0: frequency (impressions per reached person) where wear-out begins.
    pub wearout_start_frequency: f64,
    /// CVR wear-out rate (a fraction of λ: CVR wears out more weakly).
    pub cvr_wearout_rate: f64,
    /// Platform delivery preference independent of performance (dimensionless, median 1).
    pub appeal: f64,
    /// Video views per impression for video creatives.
    pub video_rate: Option<f64>,
}

/// One creative-day of truth (every day from launch to stop, delivering or not).
#[derive(Debug, Clone, PartialEq)]
pub struct CreativeDay {
    pub day: i32,
    pub delivered: bool,
    /// Currency units.
    pub spend: f64,
    /// Spend / noise-free CPM × 1000.
    pub expected_impressions: f64,
    /// Noise-free CTR of the day (wear-in, wear-out, season).
    pub expected_ctr: f64,
    pub expected_clicks: f64,
    /// The creative's share of the campaign's expected response.
    pub expected_conversions: f64,
    /// Quality multiplier (wear-in × CTR wear-out × CVR wear-out), 1 when fresh.
    pub quality: f64,
    /// Cumulative realised impressions at the end of the day.
    pub cumulative_impressions: f64,
    /// Cumulative unique reach `A(1 − exp(−N/A))` at the end of the day.
    pub cumulative_reach: f64,
    /// `cumulative_impressions / cumulative_reach` at the end of the day (1 before delivery).
    pub frequency: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Creative {
    pub ad_id: String,
    pub ad_name: String,
    /// Index into the account's `campaigns`.
    pub campaign: usize,
    /// Index into that campaign's `ad_groups`.
    pub ad_group: usize,
    pub launch_day: i32,
    /// Last day it was active (inclusive).
    pub stop_day: i32,
    pub stop_reason: StopReason,
    pub params: CreativeParams,
    /// From `launch_day` to `stop_day`, one entry per day.
    pub days: Vec<CreativeDay>,
    /// Latent fatigue onset (docs/design.md §4 on the noise-free series), if within its life.
    pub latent_onset_day: Option<i32>,
}

/// A deterministic random stream for one entity: the seed and the entity's path are mixed
/// (SplitMix64) into a ChaCha8 seed, so streams do not depend on iteration order elsewhere.
pub fn stream(seed: u64, path: &[u64]) -> ChaCha8Rng {
    let mut h = splitmix(seed ^ 0x6f6d_6e69_6679_0001);
    for &p in path {
        h = splitmix(h ^ p.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    }
    ChaCha8Rng::seed_from_u64(h)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A log-normal draw with the given median and log-sd.
pub fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    match LogNormal::new(median.ln(), sigma) {
        Ok(d) => d.sample(rng),
        Err(_) => median,
    }
}

/// A platform-style id, unique within the run because `serial` is embedded.
pub fn make_id(platform: Platform, rng: &mut ChaCha8Rng, serial: u64) -> String {
    match platform {
        Platform::Snapchat => {
            // UUID v4 layout; the low 32 bits of the last group carry the serial.
            let a: u32 = rng.r#gen();
            let b: u16 = rng.r#gen();
            let c: u16 = rng.gen_range(0x4000..0x5000);
            let d: u16 = rng.gen_range(0x8000..0xc000);
            let e: u16 = rng.r#gen();
            format!(
                "{a:08x}-{b:04x}-{c:04x}-{d:04x}-{e:04x}{:08x}",
                serial as u32
            )
        }
        Platform::X => {
            // X entity ids are short base-36 strings.
            let mut n = rng.gen_range(36u64.pow(3)..36u64.pow(4)) * 100_000 + serial;
            let mut s = Vec::new();
            while n > 0 {
                let d = (n % 36) as u32;
                s.push(char::from_digit(d, 36).unwrap_or('0'));
                n /= 36;
            }
            s.iter().rev().collect()
        }
        Platform::GoogleAds | Platform::MicrosoftAds => {
            format!("{}{:06}", rng.gen_range(100..999), serial)
        }
        Platform::TikTok => format!(
            "17{}{:06}",
            rng.gen_range(10_000_000_000u64..99_999_999_999),
            serial
        ),
        _ => format!("{}{:07}", rng.gen_range(10_000..99_999), serial),
    }
}

const TENANT_NAMES: [&str; 6] = [
    "northwind",
    "contoso",
    "fabrikam",
    "tailspin",
    "wingtip",
    "litware",
];
const CAMPAIGN_THEMES: [&str; 8] = [
    "Prospecting",
    "Retargeting",
    "Brand",
    "Spring Sale",
    "Evergreen",
    "Launch",
    "Lookalikes",
    "Always On",
];
const AD_GROUP_THEMES: [&str; 6] = [
    "Broad",
    "Interest",
    "LAL 1%",
    "Site Visitors",
    "Cart",
    "Keywords",
];

pub fn tenant_name(i: usize) -> String {
    match TENANT_NAMES.get(i) {
        Some(n) if i < TENANT_NAMES.len() => n.to_string(),
        _ => format!("tenant_{:02}", i + 1),
    }
}

/// Which platforms each tenant advertises on: platform `p` (in `Platform::ALL` order) goes to
/// tenant `p mod tenants` (so 3+ tenants cover all nine), at most 6 each; then, as most
/// advertisers do, every tenant also runs Google and Meta, and Microsoft is mirrored on the
/// tenant after its owner (while a tenant has fewer than 6); finally random extras up to a
/// random size in 3–6. Sorted by platform name.
pub fn choose_platforms(seed: u64, tenants: usize) -> Vec<Vec<Platform>> {
    let mut out: Vec<Vec<Platform>> = (0..tenants)
        .map(|t| {
            Platform::ALL
                .iter()
                .enumerate()
                .filter(|(p, _)| p % tenants == t)
                .map(|(_, &pl)| pl)
                .take(6)
                .collect()
        })
        .collect();
    let add = |list: &mut Vec<Platform>, p: Platform| {
        if list.len() < 6 && !list.contains(&p) {
            list.push(p);
        }
    };
    for list in out.iter_mut() {
        add(list, Platform::GoogleAds);
        add(list, Platform::Meta);
    }
    if tenants > 1 {
        let owner = 4 % tenants; // MicrosoftAds is index 4 of Platform::ALL
        if let Some(list) = out.get_mut((owner + 1) % tenants) {
            add(list, Platform::MicrosoftAds);
        }
    }
    for (t, list) in out.iter_mut().enumerate() {
        let mut rng = stream(seed, &[1, t as u64]);
        let target = rng.gen_range(3..=6usize).max(list.len());
        while list.len() < target {
            let cand = Platform::ALL[rng.gen_range(0..Platform::ALL.len())];
            if !list.contains(&cand) {
                list.push(cand);
            }
        }
        list.sort_by_key(|p| p.as_str());
    }
    out
}

/// The report format of tenant `t`'s account on `p`: platforms with a UI export (Google, Meta,
/// Microsoft) alternate by occurrence — the first tenant holding the platform exports the UI
/// CSV, the next uses the API JSON, and so on — so both parsers of each get data.
pub fn report_format(all: &[Vec<Platform>], t: usize, p: Platform) -> NativeFormat {
    let has_ui = matches!(
        p,
        Platform::GoogleAds | Platform::Meta | Platform::MicrosoftAds
    );
    let earlier = all.iter().take(t).filter(|l| l.contains(&p)).count();
    if has_ui && earlier.is_multiple_of(2) {
        NativeFormat::UiCsv
    } else {
        NativeFormat::ApiJson
    }
}

/// Platform medians: (CPM in currency units, fresh CTR).
fn platform_norms(p: Platform) -> (f64, f64) {
    match p {
        Platform::GoogleAds => (6.0, 0.02),
        Platform::MicrosoftAds => (7.0, 0.018),
        Platform::Meta => (10.0, 0.011),
        Platform::LinkedIn => (28.0, 0.006),
        Platform::TikTok => (7.0, 0.009),
        Platform::Snapchat => (5.0, 0.009),
        Platform::Pinterest => (5.5, 0.007),
        Platform::X => (6.5, 0.008),
        Platform::AmazonAds => (9.0, 0.007),
    }
}

/// The fresh-CTR median of a platform (used when drawing creatives).
pub fn platform_ctr(p: Platform) -> f64 {
    platform_norms(p).1
}

/// Builds a tenant's accounts, campaigns and ad groups (no creatives or days yet).
pub fn build_tenant(cfg: &SimConfig, t: usize, all: &[Vec<Platform>]) -> Tenant {
    let platforms: &[Platform] = all.get(t).map(Vec::as_slice).unwrap_or(&[]);
    let mut rng = stream(cfg.seed, &[2, t as u64]);
    let strongly_seasonal = t.is_multiple_of(2);
    let yearly_amplitude = if strongly_seasonal {
        rng.gen_range(0.15..0.2)
    } else {
        rng.gen_range(0.03..0.08)
    };
    let currencies = ["USD", "EUR", "GBP"];
    let home = currencies[t % currencies.len()];
    let mut serial = (t as u64 + 1) * 10_000;
    let mut accounts = Vec::new();
    for (a, &platform) in platforms.iter().enumerate() {
        let mut rng = stream(cfg.seed, &[3, t as u64, a as u64]);
        serial += 1;
        let currency = if rng.gen_bool(0.8) {
            home
        } else {
            currencies[rng.gen_range(0..currencies.len())]
        };
        // LinkedIn reports UTC days and Pinterest defaults to UTC: give them UTC accounts so
        // the reporting day is the account day.
        let offsets = [-480, -300, -240, 0, 60, 120, 330, 600];
        let utc_offset_minutes = match platform {
            Platform::LinkedIn | Platform::Pinterest => 0,
            _ => offsets[rng.gen_range(0..offsets.len())],
        };
        let format = report_format(all, t, platform);
        let (cpm_med, ctr_med) = platform_norms(platform);
        let cpm_base = lognormal(&mut rng, cpm_med, 0.2);
        // Cheaper weekends (less competition), with an account-specific strength.
        let strength = rng.gen_range(0.5..1.0);
        let mut weekday_cpm = [1.0; 7];
        let mut weekday_response = [1.0; 7];
        for (d, (c, r)) in weekday_cpm
            .iter_mut()
            .zip(weekday_response.iter_mut())
            .enumerate()
        {
            let weekend = d >= 5;
            *c = if weekend {
                1.0 - 0.14 * strength
            } else {
                1.0 + 0.05 * strength
            };
            *r = if weekend {
                1.0 - 0.06 * strength
            } else {
                1.0 + 0.02 * strength
            };
        }
        let order_value = lognormal(&mut rng, 60.0, 0.5);
        let n_campaigns = rng.gen_range(2..=4usize);
        let mut campaigns = Vec::with_capacity(n_campaigns);
        for c in 0..n_campaigns {
            serial += 1;
            let id = make_id(platform, &mut rng, serial);
            let name = format!(
                "{} {} #{}",
                CAMPAIGN_THEMES[rng.gen_range(0..CAMPAIGN_THEMES.len())],
                platform.as_str(),
                c + 1
            );
            let n_groups = rng.gen_range(1..=3usize);
            let ad_groups = (0..n_groups)
                .map(|g| {
                    serial += 1;
                    AdGroup {
                        id: make_id(platform, &mut rng, serial),
                        name: format!(
                            "{} {}",
                            AD_GROUP_THEMES[rng.gen_range(0..AD_GROUP_THEMES.len())],
                            g + 1
                        ),
                        slots: if rng.gen_bool(0.7) { 1 } else { 2 },
                    }
                })
                .collect();
            let initial_budget = lognormal(&mut rng, 350.0, 0.7).clamp(40.0, 4000.0);
            let adstock = if rng.gen_bool(0.7) {
                Adstock::Geometric {
                    decay: rng.gen_range(0.2..0.7),
                }
            } else {
                Adstock::Weibull {
                    shape: rng.gen_range(1.2..2.5),
                    scale: rng.gen_range(1.5..4.0),
                    max_lag: 10,
                }
            };
            // Calibrate so that at the initial budget the funnel-implied conversions (clicks
            // × 3% CVR) match the response: conversions stay a plausible share of clicks.
            let steady = adstock.steady_state(initial_budget);
            let half_saturation = steady * rng.gen_range(0.5..1.5);
            let shape = rng.gen_range(0.8..2.5);
            let target = initial_budget / cpm_base * 1000.0 * ctr_med * 0.03;
            let baseline_share = rng.gen_range(0.05..0.2);
            let h = super::response::hill(steady, half_saturation, shape).max(1e-6);
            let response = ResponseParams {
                adstock,
                half_saturation,
                shape,
                beta: target * (1.0 - baseline_share) / h,
                baseline: target * baseline_share,
            };
            campaigns.push(Campaign {
                id,
                name,
                ad_groups,
                response,
                initial_budget,
                daily: Vec::new(),
            });
        }
        serial += 100;
        let account_id = make_id(platform, &mut rng, serial);
        accounts.push(Account {
            platform,
            account_name: format!("{} {}", tenant_name(t), platform.as_str()),
            account_id,
            currency: currency.to_string(),
            utc_offset_minutes,
            format,
            cpm_base,
            weekday_cpm,
            weekday_response,
            order_value,
            campaigns,
            creatives: Vec::new(),
            rows: Vec::new(),
        });
    }
    Tenant {
        name: tenant_name(t),
        yearly_amplitude,
        accounts,
    }
}
