//! The baseline part of the response model: intercept, linear trend, Fourier seasonality for
//! the period kind (weekday terms for daily data; yearly terms when the data span a year),
//! controls and events — as design columns over a list of period dates, so the same spec
//! builds the training design and the design of future periods.

use std::f64::consts::PI;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::budget::series::{Dataset, PeriodKind};

/// Which baseline columns a model has, and what extrapolation needs to rebuild them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineSpec {
    pub period: PeriodKind,
    /// First fitted period.
    pub first: NaiveDate,
    /// Fitted periods (the trend runs 0 → 1 over them).
    pub n: usize,
    pub trend: bool,
    /// Weekday Fourier order (daily data only).
    pub weekly_order: usize,
    /// Yearly Fourier order (0 when the span is under a year).
    pub yearly_order: usize,
    pub controls: Vec<String>,
    /// Control means, used for future periods.
    pub control_means: Vec<f64>,
    pub events: Vec<String>,
}

impl BaselineSpec {
    /// The spec for a dataset under the fit's settings.
    pub fn for_dataset(ds: &Dataset, trend: bool, weekly: usize, yearly: usize) -> Self {
        let n = ds.dates.len();
        let span_days = (n as i64) * ds.period.days();
        BaselineSpec {
            period: ds.period,
            first: ds.dates.first().copied().unwrap_or_default(),
            n,
            trend: trend && n > 2,
            weekly_order: if ds.period == PeriodKind::Day {
                weekly.min(3)
            } else {
                0
            },
            yearly_order: if span_days >= 365 { yearly } else { 0 },
            controls: ds.controls.iter().map(|c| c.0.clone()).collect(),
            control_means: ds
                .controls
                .iter()
                .map(|c| c.1.iter().sum::<f64>() / c.1.len().max(1) as f64)
                .collect(),
            events: ds.events.iter().map(|e| e.0.clone()).collect(),
        }
    }

    /// Column names, in design order.
    pub fn names(&self) -> Vec<String> {
        let mut v = vec!["intercept".to_string()];
        if self.trend {
            v.push("trend".into());
        }
        for k in 1..=self.weekly_order {
            v.push(format!("weekly_sin{k}"));
            v.push(format!("weekly_cos{k}"));
        }
        for k in 1..=self.yearly_order {
            v.push(format!("yearly_sin{k}"));
            v.push(format!("yearly_cos{k}"));
        }
        v.extend(self.controls.iter().cloned());
        v.extend(self.events.iter().cloned());
        v
    }

    /// Design columns for `dates`; `controls`/`events` per period (None = control means and no
    /// events, for future periods).
    pub fn design(
        &self,
        dates: &[NaiveDate],
        controls: Option<&[(String, Vec<f64>)]>,
        events: Option<&[(String, Vec<f64>)]>,
    ) -> Vec<Vec<f64>> {
        let m = dates.len();
        let mut cols = vec![vec![1.0; m]];
        if self.trend {
            let scale = (self.n.saturating_sub(1)).max(1) as f64;
            cols.push(
                dates
                    .iter()
                    .map(|d| {
                        (*d - self.first).num_days() as f64 / self.period.days() as f64 / scale
                    })
                    .collect(),
            );
        }
        for k in 1..=self.weekly_order {
            let ang: Vec<f64> = dates
                .iter()
                .map(|d| 2.0 * PI * k as f64 * d.weekday().num_days_from_monday() as f64 / 7.0)
                .collect();
            cols.push(ang.iter().map(|a| a.sin()).collect());
            cols.push(ang.iter().map(|a| a.cos()).collect());
        }
        for k in 1..=self.yearly_order {
            let ang: Vec<f64> = dates
                .iter()
                .map(|d| 2.0 * PI * k as f64 * d.ordinal0() as f64 / 365.25)
                .collect();
            cols.push(ang.iter().map(|a| a.sin()).collect());
            cols.push(ang.iter().map(|a| a.cos()).collect());
        }
        for (i, mean) in self.control_means.iter().enumerate() {
            match controls.and_then(|c| c.get(i)) {
                Some((_, v)) if v.len() == m => cols.push(v.clone()),
                _ => cols.push(vec![*mean; m]),
            }
        }
        for i in 0..self.events.len() {
            match events.and_then(|e| e.get(i)) {
                Some((_, v)) if v.len() == m => cols.push(v.clone()),
                _ => cols.push(vec![0.0; m]),
            }
        }
        cols
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_columns_by_hand() {
        let d0 = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(); // a Monday
        let dates: Vec<NaiveDate> = (0..3).map(|i| d0 + chrono::Duration::days(i)).collect();
        let spec = BaselineSpec {
            period: PeriodKind::Day,
            first: d0,
            n: 3,
            trend: true,
            weekly_order: 1,
            yearly_order: 0,
            controls: vec!["price".into()],
            control_means: vec![2.0],
            events: vec![],
        };
        let c = spec.design(&dates, None, None);
        assert_eq!(
            spec.names(),
            ["intercept", "trend", "weekly_sin1", "weekly_cos1", "price"]
        );
        // trend t/(n−1) = 0, 0.5, 1; Tuesday weekly_sin1 = sin(2π/7) = 0.7818315.
        assert_eq!(c[1], vec![0.0, 0.5, 1.0]);
        assert!((c[2][1] - 0.781_831_5).abs() < 1e-7);
        assert_eq!(c[4], vec![2.0; 3]);
    }
}
