//! Grouping rules and their life tables.

use ndarray::Array2;

use super::hyperparams::*;
use crate::fatigue::FatigueError;
use crate::fatigue::common::clamp_hazard;
use crate::fatigue::dataset::SurvivalData;
use crate::features::cols::{AGE_DAYS, CTR_VS_PEAK, FREQUENCY_7D, HAS_REACH_7D};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineRule {
    RuleFrequencyCtr,
    RuleCtrPeak3d,
    Reactive2x,
    CalendarRefresh,
    DecayCurve,
}

impl BaselineRule {
    pub const ALL: [BaselineRule; 5] = [
        BaselineRule::RuleFrequencyCtr,
        BaselineRule::RuleCtrPeak3d,
        BaselineRule::Reactive2x,
        BaselineRule::CalendarRefresh,
        BaselineRule::DecayCurve,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BaselineRule::RuleFrequencyCtr => "rule_frequency_ctr",
            BaselineRule::RuleCtrPeak3d => "rule_ctr_peak_3d",
            BaselineRule::Reactive2x => "reactive_2x",
            BaselineRule::CalendarRefresh => "calendar_refresh",
            BaselineRule::DecayCurve => "decay_curve",
        }
    }

    fn groups(self) -> usize {
        match self {
            BaselineRule::CalendarRefresh => CALENDAR_DAYS.len() + 1,
            BaselineRule::DecayCurve => DECAY_BANDS.len() + 1,
            _ => 2,
        }
    }
}

/// Column indices the rules read.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct Cols {
    age: usize,
    freq: usize,
    has_reach: usize,
    ctr_peak: usize,
    ratio: usize,
    ratio_known: usize,
    peak_run: usize,
    decay: usize,
}

fn cols(names: &[String]) -> Result<Cols, FatigueError> {
    let at = |n: &str| {
        names
            .iter()
            .position(|x| x == n)
            .ok_or_else(|| FatigueError::Data(format!("baseline needs feature `{n}`")))
    };
    Ok(Cols {
        age: at(AGE_DAYS)?,
        freq: at(FREQUENCY_7D)?,
        has_reach: at(HAS_REACH_7D)?,
        ctr_peak: at(CTR_VS_PEAK)?,
        ratio: at("label_ratio")?,
        ratio_known: at("label_ratio_known")?,
        peak_run: at("ctr_below_peak_run")?,
        decay: at("decay_days_to_onset")?,
    })
}

/// A fitted baseline: its rule, the columns it reads and one hazard row per group.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Baseline {
    pub rule: BaselineRule,
    cols: Cols,
    /// groups × H.
    pub hazards: Vec<Vec<f64>>,
}

fn band(v: f64, edges: &[f64]) -> usize {
    edges.iter().take_while(|e| v > **e).count()
}

impl Baseline {
    fn group(rule: BaselineRule, c: &Cols, x: ndarray::ArrayView1<f64>) -> usize {
        let g = |j: usize| x.get(j).copied().unwrap_or(0.0);
        match rule {
            BaselineRule::RuleFrequencyCtr => {
                let freq = g(c.has_reach) > 0.5 && g(c.freq) > FREQUENCY_LIMIT;
                usize::from(freq || g(c.ctr_peak) <= CTR_PEAK_SHARE)
            }
            BaselineRule::RuleCtrPeak3d => usize::from(g(c.peak_run) >= CTR_PEAK_DAYS),
            BaselineRule::Reactive2x => usize::from(g(c.ratio_known) > 0.5 && g(c.ratio) >= 2.0),
            BaselineRule::CalendarRefresh => {
                CALENDAR_DAYS.iter().take_while(|e| g(c.age) >= **e).count()
            }
            // Band 0 = already at the onset ratio; higher bands = further away.
            BaselineRule::DecayCurve => band(g(c.decay), &DECAY_BANDS),
        }
    }

    pub fn fit(data: &SurvivalData, rule: BaselineRule) -> Result<Baseline, FatigueError> {
        let c = cols(&data.feature_names)?;
        let h = data.horizon;
        let ng = rule.groups();
        let mut at_risk = vec![vec![0.0; h]; ng];
        let mut events = vec![vec![0.0; h]; ng];
        for i in 0..data.len() {
            let gi = Self::group(rule, &c, data.x.row(i));
            for k in 1..=data.duration[i].min(h) {
                at_risk[gi][k - 1] += 1.0;
            }
            if data.event[i] {
                events[gi][data.duration[i] - 1] += 1.0;
            }
        }
        let pooled: Vec<f64> = (0..h)
            .map(|k| {
                let (e, n): (f64, f64) =
                    (0..ng).fold((0.0, 0.0), |a, g| (a.0 + events[g][k], a.1 + at_risk[g][k]));
                if n > 0.0 { e / n } else { 0.0 }
            })
            .collect();
        let m = BASELINE_PSEUDO_ROWS;
        let hazards = (0..ng)
            .map(|g| {
                (0..h)
                    .map(|k| clamp_hazard((events[g][k] + m * pooled[k]) / (at_risk[g][k] + m)))
                    .collect()
            })
            .collect();
        Ok(Baseline {
            rule,
            cols: c,
            hazards,
        })
    }

    pub fn hazards(&self, x: &Array2<f64>) -> Array2<f64> {
        let h = self.hazards.first().map(Vec::len).unwrap_or(0);
        let mut out = Array2::<f64>::zeros((x.nrows(), h));
        for (i, row) in x.rows().into_iter().enumerate() {
            let g = Self::group(self.rule, &self.cols, row);
            if let Some(hz) = self.hazards.get(g) {
                for (k, v) in hz.iter().enumerate() {
                    out[[i, k]] = *v;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fatigue::dataset::all_feature_names;

    /// Reactive 2×: 4 rows at ratio 2.5 (alert), 4 at 1.0. Alert rows: 2 events on day 1,
    /// 2 censored at day 2 → day 1: 2 events / 4 at risk; day 2: 0 / 2. Quiet rows: all censored
    /// at day 2, no events. Pooled day 1 = 2/8 = 0.25, day 2 = 0/6 = 0.
    /// Alert day 1 = (2 + 5·0.25)/(4 + 5) = 3.25/9 = 0.36111; quiet day 1 = (0 + 1.25)/(4 + 5)
    /// = 0.13889.
    #[test]
    fn life_table_per_group_by_hand() {
        let names = all_feature_names();
        let ratio = names.iter().position(|n| n == "label_ratio").unwrap();
        let known = names.iter().position(|n| n == "label_ratio_known").unwrap();
        let n = 8;
        let mut x = Array2::zeros((n, names.len()));
        for i in 0..n {
            x[[i, ratio]] = if i < 4 { 2.5 } else { 1.0 };
            x[[i, known]] = 1.0;
        }
        let data = SurvivalData {
            feature_names: names,
            horizon: 14,
            creative: (0..n).collect(),
            as_of: vec![0; n],
            x: x.clone(),
            duration: (0..n).map(|i| if i < 2 { 1 } else { 2 }).collect(),
            event: (0..n).map(|i| i < 2).collect(),
            onset: vec![None; n],
            follow_up: Vec::new(),
        };
        let b = Baseline::fit(&data, BaselineRule::Reactive2x).unwrap();
        let h = b.hazards(&x);
        assert!((h[[0, 0]] - 3.25 / 9.0).abs() < 1e-12);
        assert!((h[[5, 0]] - 1.25 / 9.0).abs() < 1e-12);
    }
}
