//! The budget training job specification, `training/budget.toml`: `[series]` (which entity,
//! period and outcome the warehouse series use; see [`SeriesConfig`]) and `[fit]` (the search,
//! holdout, prior and posterior draws; see [`FitParams`]). Every key is optional; a missing file means the
//! documented defaults.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::fit::FitParams;
use super::series::SeriesConfig;

/// `training/budget.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetJobConfig {
    pub series: SeriesConfig,
    pub fit: FitParams,
}

impl BudgetJobConfig {
    /// Parses the TOML text; the error is one line with the line number.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let cfg: BudgetJobConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| {
                text.as_bytes()
                    .get(..s.start.min(text.len()))
                    .map_or(1, |b| b.iter().filter(|c| **c == b'\n').count() + 1)
            });
            format!("line {line}: {}", e.message().replace('\n', " ").trim())
        })?;
        cfg.fit.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }

    /// Reads `path`; `None`, or the default path when it does not exist, gives the defaults.
    pub fn load(path: Option<&Path>, default_path: &Path) -> Result<Self, String> {
        let p = match path {
            Some(p) => p,
            None if default_path.exists() => default_path,
            None => return Ok(BudgetJobConfig::default()),
        };
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        Self::from_toml(&text).map_err(|e| format!("{}: {e}", p.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::series::{EntityLevel, PeriodKind};

    #[test]
    fn the_shipped_file_is_the_defaults() {
        let text = include_str!("../../training/budget.toml");
        assert_eq!(
            BudgetJobConfig::from_toml(text).unwrap(),
            BudgetJobConfig::default()
        );
    }

    #[test]
    fn overrides_and_errors() {
        let c = BudgetJobConfig::from_toml("[series]\nentity = \"platform\"\nperiod = \"week\"\n")
            .unwrap();
        assert_eq!(c.series.entity, EntityLevel::Platform);
        assert_eq!(c.series.period, PeriodKind::Week);
        let e = BudgetJobConfig::from_toml("[fit]\nbootstrap = 5\nholdout_fraction = 0.9\n")
            .unwrap_err();
        assert!(e.contains("holdout_fraction"), "{e}");
        // The older name of fit.draws still parses.
        let c = BudgetJobConfig::from_toml("[fit]\nbootstrap = 5\n").unwrap();
        assert_eq!(c.fit.draws, 5);
        let e = BudgetJobConfig::from_toml("[fit]\nbootstrp = 5\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }
}
