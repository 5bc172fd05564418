//! The daily process of one platform account: budgets, delivery, CPM, reach and frequency,
//! wear-in / wear-out, the campaign response and its allocation to creatives, count noise,
//! advertiser pauses and refreshes, missing days. Fills an [`Account`]'s creatives, campaign
//! truth and report rows. The process and its units are documented in `simulate/mod.rs`.
//!
//! One ChaCha8 stream per account, consumed in a fixed order (day, campaign, slot), so an
//! account's output depends only on the seed and its position, never on other accounts.

use chrono::Datelike;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Poisson};

use super::SimConfig;
use super::response::{AdstockState, hill};
use super::truth::OnsetDetector;
use super::world::{
    Account, CampaignDay, Creative, CreativeDay, CreativeParams, StopReason, lognormal, make_id,
    platform_ctr, stream,
};
use crate::platforms::Platform;
use crate::schema::AdDailyRow;

/// Day of year at which the yearly sinusoid peaks (early December: the Q4 peak).
const YEARLY_PEAK_DOY: f64 = 340.0;
/// Negative-binomial (Poisson–gamma) shape of daily clicks: variance μ + μ²/15.
const CLICK_DISPERSION: f64 = 15.0;
/// Elasticity of CPM to the campaign's budget relative to its initial budget (auction pressure).
const AUCTION_PRESSURE: f64 = 0.15;

/// Impressions per person of the audience a creative can buy in a day at full quality.
const DAILY_FREQUENCY_CAP: f64 = 1.2;

/// Splits `total` over items in proportion to their weights, no item above its cap; what a
/// capped item cannot take goes to the others (water-filling). Spend nobody can take stays
/// unspent (the campaign is limited by its audience). Items are (weight, cap).
pub fn water_fill(total: f64, items: &[(f64, f64)]) -> Vec<f64> {
    let mut out = vec![0.0; items.len()];
    // Items that hit their cap first are those with the smallest cap per unit of weight.
    let mut order: Vec<usize> = (0..items.len()).filter(|&i| items[i].0 > 0.0).collect();
    order.sort_by(|&a, &b| {
        (items[a].1 / items[a].0)
            .total_cmp(&(items[b].1 / items[b].0))
            .then(a.cmp(&b))
    });
    let mut remaining = total.max(0.0);
    let mut weight_left: f64 = order.iter().map(|&i| items[i].0).sum();
    for (k, &i) in order.iter().enumerate() {
        let (w, cap) = items[i];
        let share = remaining * w / weight_left;
        if share >= cap {
            out[i] = cap.max(0.0);
            remaining -= out[i];
            weight_left -= w;
        } else {
            for &j in &order[k..] {
                out[j] = remaining * items[j].0 / weight_left;
            }
            break;
        }
    }
    out
}

/// `cos(2π (doy − 340) / 365.25)`: +1 in early December, −1 in early June.
pub fn yearly_wave(date: chrono::NaiveDate) -> f64 {
    let doy = date.ordinal() as f64;
    (2.0 * std::f64::consts::PI * (doy - YEARLY_PEAK_DOY) / 365.25).cos()
}

/// Wear-in multiplier `1 − w·exp(−age/τ)` (age in days since launch, 0 on the launch day).
pub fn wear_in(age: f64, depth: f64, tau: f64) -> f64 {
    1.0 - depth * (-age / tau.max(1e-9)).exp()
}

/// Wear-out multiplier `exp(−λ·max(0, f − f0))`.
pub fn wear_out(frequency: f64, rate: f64, start: f64) -> f64 {
    (-rate * (frequency - start).max(0.0)).exp()
}

/// Cumulative unique reach after `n` impressions against an audience of `a` people:
/// `a (1 − exp(−n/a))` (each impression hits a uniformly random member).
pub fn cumulative_reach(n: f64, a: f64) -> f64 {
    if a <= 0.0 {
        return 0.0;
    }
    a * (1.0 - (-n / a).exp())
}

/// Frequency `n / reach(n)`; 1 before any impression (the limit as n → 0).
pub fn frequency(n: f64, a: f64) -> f64 {
    let r = cumulative_reach(n, a);
    if r > 0.0 { n / r } else { 1.0 }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Live state of a creative that the truth record does not keep.
struct Live {
    index: usize,
    cum_imps: f64,
    detector: OnsetDetector,
    pause_age: Option<i32>,
    refresh_day: Option<i32>,
    ignores_fatigue: bool,
}

struct Slot {
    campaign: usize,
    ad_group: usize,
    current: Option<Live>,
    next_launch: Option<i32>,
}

/// Runs the daily process of account `a` of tenant `t` from `−warmup_days` to `days − 1`,
/// launching at most `creative_budget` creatives that show up in the reported window.
pub fn run_account(
    cfg: &SimConfig,
    t: usize,
    a: usize,
    yearly_amplitude: f64,
    acc: &mut Account,
    creative_budget: usize,
) {
    let mut rng = stream(cfg.seed, &[4, t as u64, a as u64]);
    let warmup = cfg.warmup_days as i32;
    let days = cfg.days as i32;
    let mut budget_left = creative_budget;
    let mut serial = (t as u64 + 1) * 10_000 + 1_000 + a as u64 * 1_000_000;

    let mut slots: Vec<Slot> = Vec::new();
    for (c, camp) in acc.campaigns.iter().enumerate() {
        for (g, group) in camp.ad_groups.iter().enumerate() {
            for _ in 0..group.slots {
                slots.push(Slot {
                    campaign: c,
                    ad_group: g,
                    current: None,
                    next_launch: Some(rng.gen_range(-warmup..=25.min(days - 1).max(-warmup))),
                });
            }
        }
    }
    let mut budgets: Vec<f64> = acc.campaigns.iter().map(|c| c.initial_budget).collect();
    let mut adstocks: Vec<AdstockState> = acc
        .campaigns
        .iter()
        .map(|c| AdstockState::new(c.response.adstock))
        .collect();
    let mut drift = 0.0f64;

    for day in -warmup..days {
        let date = cfg.start + chrono::Duration::days(day as i64);
        let wd = date.weekday().num_days_from_monday() as usize;
        let wave = yearly_wave(date);
        // CPM drift: a mean-reverting log random walk (auction-wide moves).
        drift = 0.98 * drift + 0.02 * standard_normal(&mut rng);
        let account_gap = rng.gen_bool(cfg.gap_day_prob);

        for slot in slots.iter_mut() {
            if slot.current.is_none() && slot.next_launch == Some(day) {
                slot.next_launch = None;
                if budget_left > 0 {
                    budget_left -= 1;
                    serial += 1;
                    let idx = acc.creatives.len();
                    let (cr, live) = launch(cfg, acc, slot, idx, day, serial, &mut rng);
                    acc.creatives.push(cr);
                    slot.current = Some(live);
                }
            }
        }

        for c in 0..acc.campaigns.len() {
            // Budget step changes of ±20–60%, about once a month, kept within 0.2–5× start.
            if rng.gen_bool(1.0 / 30.0) {
                let step = rng.gen_range(0.2..0.6);
                let factor = if rng.gen_bool(0.5) {
                    1.0 + step
                } else {
                    1.0 - step
                };
                let init = acc.campaigns[c].initial_budget;
                budgets[c] = (budgets[c] * factor).clamp(0.2 * init, 5.0 * init);
            }
            let budget = budgets[c];
            let init_budget = acc.campaigns[c].initial_budget;
            let params = acc.campaigns[c].response;
            let cpm_nf = acc.cpm_base
                * drift.exp()
                * (1.0 + 0.5 * yearly_amplitude * wave)
                * acc.weekday_cpm[wd]
                * (budget / init_budget).powf(AUCTION_PRESSURE);

            // Per active creative: (slot index, quality parts, delivered?)
            struct Today {
                slot: usize,
                index: usize,
                wearin: f64,
                wo_ctr: f64,
                wo_cvr: f64,
                weight: f64,
                delivered: bool,
                spend: f64,
                /// Most it can spend today, currency units.
                cap: f64,
            }
            let mut today: Vec<Today> = Vec::new();
            for (s, slot) in slots.iter().enumerate() {
                let Some(live) = slot.current.as_ref() else {
                    continue;
                };
                if slot.campaign != c {
                    continue;
                }
                let cr = &acc.creatives[live.index];
                let p = &cr.params;
                let age = (day - cr.launch_day) as f64;
                let f = frequency(live.cum_imps, p.audience_size);
                let wearin = wear_in(age, p.wear_in_depth, p.wear_in_days);
                let wo_ctr = wear_out(f, p.wearout_rate, p.wearout_start_frequency);
                let wo_cvr = wear_out(f, p.cvr_wearout_rate, p.wearout_start_frequency);
                let q = wearin * wo_ctr * wo_cvr;
                let delivered = !account_gap && !rng.gen_bool(cfg.missing_ad_day_prob);
                today.push(Today {
                    slot: s,
                    index: live.index,
                    wearin,
                    wo_ctr,
                    wo_cvr,
                    // Platforms shift delivery towards what currently performs.
                    weight: p.appeal * q * q,
                    delivered,
                    spend: 0.0,
                    // A worn-out ad wins fewer auctions, and a platform will not show an ad
                    // much more than once a day per person of its audience.
                    cap: DAILY_FREQUENCY_CAP * p.audience_size * q * cpm_nf / 1000.0,
                });
            }
            let pace = lognormal(&mut rng, 1.0, 0.08).clamp(0.7, 1.25);
            let wanted: Vec<(f64, f64)> = today
                .iter()
                .map(|d| {
                    if d.delivered {
                        (d.weight, d.cap)
                    } else {
                        (0.0, 0.0)
                    }
                })
                .collect();
            for (d, x) in today.iter_mut().zip(water_fill(budget * pace, &wanted)) {
                d.spend = round2(x);
                if d.spend < 0.01 {
                    d.delivered = false;
                    d.spend = 0.0;
                }
            }
            let spend: f64 = today.iter().map(|d| d.spend).sum();
            let adstock = adstocks[c].step(spend);
            let season = (1.0 + yearly_amplitude * wave) * acc.weekday_response[wd];
            let ctr_season = (1.0 + 0.3 * yearly_amplitude * wave) * acc.weekday_response[wd];
            let quality = if spend > 0.0 {
                today
                    .iter()
                    .map(|d| d.spend * d.wearin * d.wo_ctr * d.wo_cvr)
                    .sum::<f64>()
                    / spend
            } else {
                1.0
            };
            // Ads that serve nothing get no attributed conversions: the campaign's response is
            // gated on delivery (its baseline too).
            let media = if spend > 0.0 {
                params.beta * hill(adstock, params.half_saturation, params.shape) * quality * season
            } else {
                0.0
            };
            let response = if spend > 0.0 {
                params.baseline + media
            } else {
                0.0
            };

            // Funnel-implied conversions decide each creative's share of the response.
            let funnel: Vec<f64> = today
                .iter()
                .map(|d| {
                    let p = &acc.creatives[d.index].params;
                    let ctr = p.ctr0 * d.wearin * d.wo_ctr * ctr_season;
                    d.spend / cpm_nf * 1000.0 * ctr * p.cvr0 * d.wo_cvr
                })
                .collect();
            let funnel_total: f64 = funnel.iter().sum();

            for (d, fun) in today.iter().zip(&funnel) {
                let idx = d.index;
                let group_idx = slots[d.slot].ad_group;
                let exp_conv = if funnel_total > 0.0 {
                    response * fun / funnel_total
                } else {
                    0.0
                };
                let p = acc.creatives[idx].params.clone();
                let exp_imps = d.spend / cpm_nf * 1000.0;
                let exp_ctr = p.ctr0 * d.wearin * d.wo_ctr * ctr_season;
                let live = match slots[d.slot].current.as_mut() {
                    Some(l) => l,
                    None => continue,
                };
                let mut imps = 0.0;
                if d.delivered {
                    let cpm = cpm_nf * lognormal(&mut rng, 1.0, 0.06);
                    imps = (d.spend / cpm * 1000.0).round().max(1.0);
                    let mu = imps * exp_ctr;
                    let lam = Gamma::new(CLICK_DISPERSION, mu / CLICK_DISPERSION)
                        .map(|g| g.sample(&mut rng))
                        .unwrap_or(mu);
                    let clicks = poisson(&mut rng, lam).min(imps);
                    let n_conv = poisson(&mut rng, exp_conv);
                    let conversions = if acc.platform == Platform::GoogleAds && n_conv > 0.0 {
                        // Data-driven attribution gives fractional credit around the count.
                        let g = Gamma::new(4.0 * n_conv, 0.25)
                            .map(|g| g.sample(&mut rng))
                            .unwrap_or(n_conv);
                        round2(g)
                    } else {
                        n_conv
                    };
                    let value = if conversions > 0.0 {
                        round2(conversions * acc.order_value * lognormal(&mut rng, 1.0, 0.25))
                    } else {
                        0.0
                    };
                    let a = p.audience_size;
                    let reach = (cumulative_reach(imps, a).round()).clamp(1.0, imps);
                    let video = p
                        .video_rate
                        .map(|r| (imps * r * lognormal(&mut rng, 1.0, 0.05)).round() as i64);
                    if day >= 0 {
                        let camp = &acc.campaigns[c];
                        let group = &camp.ad_groups[group_idx];
                        let cr = &acc.creatives[idx];
                        let mut row = AdDailyRow::new(
                            acc.platform,
                            acc.account_id.clone(),
                            cr.ad_id.clone(),
                            date,
                        );
                        row.campaign_id = Some(camp.id.clone());
                        row.ad_group_id = Some(group.id.clone());
                        row.campaign_name = Some(camp.name.clone());
                        row.ad_group_name = Some(group.name.clone());
                        row.ad_name = Some(cr.ad_name.clone());
                        row.impressions = imps as i64;
                        row.clicks = clicks as i64;
                        row.reach = Some(reach as i64);
                        row.spend = Some(d.spend);
                        row.currency = Some(acc.currency.clone());
                        row.conversions = Some(conversions);
                        row.conversion_value = Some(value);
                        row.video_views = video;
                        acc.rows.push(row);
                    }
                }
                live.cum_imps += imps;
                let cum_reach = cumulative_reach(live.cum_imps, p.audience_size);
                let q = d.wearin * d.wo_ctr * d.wo_cvr;
                let cr = &mut acc.creatives[idx];
                cr.days.push(CreativeDay {
                    day,
                    delivered: d.delivered,
                    spend: d.spend,
                    expected_impressions: exp_imps,
                    expected_ctr: exp_ctr,
                    expected_clicks: exp_imps * exp_ctr,
                    expected_conversions: exp_conv,
                    quality: q,
                    cumulative_impressions: live.cum_imps,
                    cumulative_reach: cum_reach,
                    frequency: frequency(live.cum_imps, p.audience_size),
                });
                let known = live.detector.onset.is_some();
                if let Some(o) = live.detector.push(d.spend, exp_conv, exp_imps, d.delivered)
                    && !known
                {
                    cr.latent_onset_day = Some(cr.launch_day + o as i32);
                    if !live.ignores_fatigue {
                        let onset_day = cr.launch_day + o as i32;
                        live.refresh_day = Some((onset_day + rng.gen_range(3..=8)).max(day + 1));
                    }
                }
            }
            if day >= 0 {
                acc.campaigns[c].daily.push(CampaignDay {
                    day,
                    budget: round2(budget),
                    spend,
                    adstock,
                    quality,
                    season,
                    expected_response: response,
                    media_contribution: media,
                });
            }
        }

        // Advertiser decisions at the end of the day.
        for slot in slots.iter_mut() {
            let Some(live) = slot.current.as_ref() else {
                continue;
            };
            let cr = &acc.creatives[live.index];
            let age = day - cr.launch_day;
            let reason = if live.refresh_day == Some(day) {
                Some(StopReason::RefreshedAfterFatigue)
            } else if live.pause_age == Some(age) && live.detector.onset.is_none() {
                Some(StopReason::PausedEarly)
            } else {
                None
            };
            if let Some(reason) = reason {
                if let Some(live) = slot.current.take() {
                    let cr = &mut acc.creatives[live.index];
                    cr.stop_day = day;
                    cr.stop_reason = reason;
                    if day < 0 {
                        // Never visible in the reported window: does not use up the budget.
                        budget_left += 1;
                    }
                }
                slot.next_launch = Some(day + rng.gen_range(1..=4));
            }
        }
    }
    for slot in slots.iter_mut() {
        if let Some(live) = slot.current.take() {
            let cr = &mut acc.creatives[live.index];
            cr.stop_day = days - 1;
            cr.stop_reason = StopReason::EndOfData;
        }
    }
    acc.rows
        .sort_by(|x, y| (&x.ad_id, x.date).cmp(&(&y.ad_id, y.date)));
}

fn launch(
    cfg: &SimConfig,
    acc: &Account,
    slot: &Slot,
    index: usize,
    day: i32,
    serial: u64,
    rng: &mut ChaCha8Rng,
) -> (Creative, Live) {
    let platform = acc.platform;
    let wearout_rate = if rng.gen_bool(cfg.never_fatigue_share) {
        0.0
    } else {
        (rng.gen_range(0.1f64.ln()..1.0f64.ln())).exp()
    };
    let video_rate = match platform {
        Platform::TikTok | Platform::Snapchat => Some(rng.gen_range(0.15..0.4)),
        Platform::MicrosoftAds | Platform::AmazonAds => None,
        _ if rng.gen_bool(0.5) => Some(rng.gen_range(0.05..0.25)),
        _ => None,
    };
    let params = CreativeParams {
        audience_size: lognormal(rng, 150_000.0, 1.1).clamp(20_000.0, 5_000_000.0),
        ctr0: lognormal(rng, platform_ctr(platform), 0.3).clamp(0.003, 0.03),
        cvr0: lognormal(rng, 0.03, 0.4).clamp(0.01, 0.1),
        wear_in_depth: rng.gen_range(0.1..0.4),
        wear_in_days: rng.gen_range(1.0..4.0),
        wearout_rate,
        wearout_start_frequency: rng.gen_range(1.3..3.0),
        cvr_wearout_rate: wearout_rate * rng.gen_range(0.2..0.5),
        appeal: lognormal(rng, 1.0, 0.3),
        video_rate,
    };
    let pause_age = rng
        .gen_bool(cfg.pause_early_share)
        .then(|| rng.gen_range(5..40));
    let ignores_fatigue = !rng.gen_bool(cfg.refresh_share);
    let ad_id = make_id(platform, rng, serial);
    let kinds = ["Video", "Static", "Carousel", "UGC", "Story"];
    let ad_name = format!(
        "{} {:03} - {}",
        kinds[rng.gen_range(0..kinds.len())],
        index + 1,
        acc.campaigns[slot.campaign].ad_groups[slot.ad_group].name
    );
    let cr = Creative {
        ad_id,
        ad_name,
        campaign: slot.campaign,
        ad_group: slot.ad_group,
        launch_day: day,
        stop_day: day,
        stop_reason: StopReason::EndOfData,
        params,
        days: Vec::new(),
        latent_onset_day: None,
    };
    let live = Live {
        index,
        cum_imps: 0.0,
        detector: OnsetDetector::default(),
        pause_age,
        refresh_day: None,
        ignores_fatigue,
    };
    (cr, live)
}

fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    rand_distr::StandardNormal.sample(rng)
}

fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> f64 {
    if lambda.is_nan() || lambda <= 0.0 || !lambda.is_finite() {
        return 0.0;
    }
    Poisson::new(lambda).map(|p| p.sample(rng)).unwrap_or(0.0)
}
