//! Flighting: spreading a total budget over N future periods and the entities of a fitted
//! [`BudgetModel`], period by period, with carry-over.
//!
//! The objective is the media outcome inside the horizon: Σ over entities and future periods
//! of β·saturation(adstock), where the adstock continues the fitted spend history (carry-over
//! from past spend counts for nothing we can move, but sets where each entity sits on its
//! curve) and spend in period p also lifts periods p+1.. through the adstock weights. Effects
//! beyond the horizon are not counted, so late spend is worth less — as it should be for a
//! plan judged on the horizon.
//!
//! Method: greedy increments. The total is cut into `chunks` equal parts; each part goes to the
//! (entity, period) whose outcome gain, carry-over included, is largest, evaluated exactly.
//! For concave curves this is the classical greedy for separable-concave resource allocation
//! over the adstock-linear spend map, optimal up to one chunk; S-shaped curves may need a chunk
//! larger than their convex start to be reached, which coarse chunks give. Each (entity,
//! period) is capped at twice the entity's largest historical spend per period: the fitted
//! curve is unknown beyond what the data showed.

use serde::Serialize;

use super::fit::{BudgetModel, ChannelSpec, FitError};
use super::transform::Adstock;

/// One entity's spend per future period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlightEntity {
    pub id: String,
    /// Spend per period (currency units), period 0 first.
    pub spend: Vec<f64>,
    /// Mean spend per period over the latest 4 weeks / 7 days.
    pub current: f64,
    /// Largest spend per period the plan may give it.
    pub cap: f64,
}

/// A flighted plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlightPlan {
    pub total_budget: f64,
    pub periods: usize,
    pub entities: Vec<FlightEntity>,
    /// Media outcome per period under the plan (outcome units).
    pub media_per_period: Vec<f64>,
    /// Σ media over the horizon under the plan.
    pub expected_media: f64,
    /// Σ media over the horizon if the same total were split in proportion to current spend,
    /// evenly over periods (the unchanged-mix reference).
    pub expected_media_proportional: f64,
}

/// One movable entity, precomputed for O(periods) gain evaluations.
struct Unit {
    spec: ChannelSpec,
    beta: f64,
    /// Adstock of the history alone at each future period.
    carry: Vec<f64>,
    /// Adstock weight of spend l periods back (l = 0..periods).
    w: Vec<f64>,
    cap: f64,
}

impl Unit {
    fn media(&self, a: f64) -> f64 {
        self.beta * self.spec.saturation.value(a)
    }
}

fn lag_weights(ad: &Adstock, n: usize) -> Vec<f64> {
    match *ad {
        Adstock::Geometric { decay } => (0..n).map(|l| decay.powi(l as i32)).collect(),
        _ => {
            let w = ad.weights();
            (0..n).map(|l| w.get(l).copied().unwrap_or(0.0)).collect()
        }
    }
}

fn recent(x: &[f64], k: usize) -> f64 {
    let k = k.min(x.len()).max(1);
    x.iter().rev().take(k).sum::<f64>() / k as f64
}

/// Spreads `total` (currency units over the whole horizon) over `periods` future periods.
pub fn flight(
    model: &BudgetModel,
    total: f64,
    periods: usize,
    chunks: usize,
) -> Result<FlightPlan, FitError> {
    if !(total.is_finite() && total >= 0.0) {
        return Err(FitError::Plan(format!(
            "budget must be a finite number ≥ 0, got {total}"
        )));
    }
    if periods == 0 || periods > 366 {
        return Err(FitError::Plan(format!(
            "periods must be 1–366, got {periods}"
        )));
    }
    let k = match model.period {
        super::series::PeriodKind::Day => 7,
        super::series::PeriodKind::Week => 4,
    };
    let mut units = Vec::new();
    let mut entities = Vec::new();
    for ch in model.models.iter().flat_map(|m| &m.channels) {
        let Some(spec) = ch.spec else { continue };
        let n = ch.spend.len();
        let mut hist = ch.spend.clone();
        hist.extend(std::iter::repeat_n(0.0, periods));
        let a = spec.adstock.apply(&hist);
        let cap = 2.0 * ch.spend.iter().fold(0.0f64, |m, v| m.max(*v));
        units.push(Unit {
            spec,
            beta: ch.beta,
            carry: a[n..].to_vec(),
            w: lag_weights(&spec.adstock, periods),
            cap,
        });
        entities.push(FlightEntity {
            id: ch.name.clone(),
            spend: vec![0.0; periods],
            current: recent(&ch.spend, k),
            cap,
        });
    }
    if units.is_empty() {
        return Err(FitError::Plan(
            "the model has no entity with a positive spend effect to plan".into(),
        ));
    }
    let room: f64 = units.iter().map(|u| u.cap * periods as f64).sum();
    if total > room * (1.0 + 1e-12) {
        return Err(FitError::Plan(format!(
            "budget {total:.2} exceeds what the entities can take within their caps ({room:.2}: \
             2× each entity's largest past spend per period)"
        )));
    }
    let chunks = chunks.clamp(1, 100_000);
    let step = total / chunks as f64;
    // Adstock per unit and future period under the plan so far.
    let mut ad: Vec<Vec<f64>> = units.iter().map(|u| u.carry.clone()).collect();
    let mut left = total;
    while left > 1e-9 * total.max(1.0) {
        let delta = step.min(left);
        let mut best: Option<(usize, usize, f64, f64)> = None;
        for (e, u) in units.iter().enumerate() {
            for p in 0..periods {
                let room = u.cap - entities[e].spend[p];
                if room <= 0.0 {
                    continue;
                }
                let d = delta.min(room);
                let mut g = 0.0;
                for (a, w) in ad[e][p..].iter().zip(&u.w) {
                    if *w != 0.0 {
                        g += u.media(a + w * d) - u.media(*a);
                    }
                }
                // Compare gain per currency unit, so a capped smaller step competes fairly.
                let rate = g / d;
                if best.is_none_or(|b| rate > b.3) {
                    best = Some((e, p, d, rate));
                }
            }
        }
        let Some((e, p, d, _)) = best else { break };
        entities[e].spend[p] += d;
        for (a, w) in ad[e][p..].iter_mut().zip(&units[e].w) {
            *a += w * d;
        }
        left -= d;
    }
    let media_of = |ad: &[Vec<f64>]| -> Vec<f64> {
        (0..periods)
            .map(|t| units.iter().zip(ad).map(|(u, a)| u.media(a[t])).sum())
            .collect()
    };
    let media_per_period = media_of(&ad);
    // Reference: the same total in proportion to current spend, even over periods.
    let cur: f64 = entities.iter().map(|e| e.current).sum();
    let mut ad_ref: Vec<Vec<f64>> = units.iter().map(|u| u.carry.clone()).collect();
    for (e, u) in units.iter().enumerate() {
        let share = if cur > 0.0 {
            entities[e].current / cur
        } else {
            1.0 / units.len() as f64
        };
        let x = total * share / periods as f64;
        for p in 0..periods {
            for (a, w) in ad_ref[e][p..].iter_mut().zip(&u.w) {
                *a += w * x;
            }
        }
    }
    Ok(FlightPlan {
        total_budget: total,
        periods,
        expected_media: media_per_period.iter().sum(),
        expected_media_proportional: media_of(&ad_ref).iter().sum(),
        media_per_period,
        entities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::fit::{BaselineSpec, FittedChannel, FittedModel};
    use crate::budget::series::PeriodKind;
    use crate::budget::transform::Saturation;

    fn model(channels: Vec<FittedChannel>) -> BudgetModel {
        let n = channels[0].spend.len();
        BudgetModel {
            source: "hand".into(),
            outcome: "conversions".into(),
            period: PeriodKind::Week,
            interval: 0.9,
            seed: 1,
            models: vec![FittedModel {
                name: "all".into(),
                baseline: BaselineSpec {
                    period: PeriodKind::Week,
                    first: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
                    n,
                    trend: false,
                    weekly_order: 0,
                    yearly_order: 0,
                    controls: vec![],
                    control_means: vec![],
                    events: vec![],
                },
                base_coef: vec![0.0],
                channels,
                replicates: vec![],
                outcome: vec![1.0; n],
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

    fn mm(name: &str, decay: f64, beta: f64, k: f64, spend: Vec<f64>) -> FittedChannel {
        FittedChannel {
            name: name.into(),
            spec: Some(ChannelSpec {
                adstock: Adstock::Geometric { decay },
                saturation: Saturation::MichaelisMenten { half_saturation: k },
            }),
            beta,
            spend,
        }
    }

    #[test]
    fn one_period_no_carry_over_matches_the_equal_marginal_split() {
        // Two MM channels, no carry-over, one period, budget 250. Equal marginals:
        // 100·50/(50+s1)² = 400·200/(200+s2)² ⇒ 200 + s2 = 4(50 + s1) ⇒ s2 = 4·s1;
        // s1 + s2 = 250 ⇒ 50 and 200 (greedy chunks of 0.1 land within one chunk).
        let m = model(vec![
            mm("a", 0.0, 100.0, 50.0, vec![200.0; 4]),
            mm("b", 0.0, 400.0, 200.0, vec![200.0; 4]),
        ]);
        let f = flight(&m, 250.0, 1, 2500).unwrap();
        assert!(
            (f.entities[0].spend[0] - 50.0).abs() <= 0.2,
            "{:?}",
            f.entities
        );
        assert!((f.entities[1].spend[0] - 200.0).abs() <= 0.2);
        let spent: f64 = f.entities.iter().map(|e| e.spend[0]).sum();
        assert!((spent - 250.0).abs() < 1e-9);
        assert!(f.expected_media >= f.expected_media_proportional - 1e-9);
    }

    #[test]
    fn carry_over_makes_early_spend_worth_more() {
        // One linear-ish channel (k huge, so saturation ≈ a/k) with decay 0.5 over 2 periods:
        // spend in period 0 counts 1 + 0.5 = 1.5×, in period 1 only 1× ⇒ all in period 0
        // (up to its cap 2·100 = 200).
        let m = model(vec![mm("a", 0.5, 1e6, 1e6, vec![100.0; 4])]);
        let f = flight(&m, 150.0, 2, 150).unwrap();
        assert!(
            (f.entities[0].spend[0] - 150.0).abs() < 1e-9,
            "{:?}",
            f.entities
        );
        assert_eq!(f.entities[0].spend[1], 0.0);
        // Over the cap the budget is refused with the reason.
        let e = flight(&m, 500.0, 2, 10).unwrap_err().to_string();
        assert!(e.contains("exceeds"), "{e}");
    }
}
