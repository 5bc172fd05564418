//! Zero-setup start on the bundled sample: when the warehouse is empty, ingest
//! `<data_dir>/sample/manifest.json`; then train and register a fatigue and a budget model for
//! every tenant in the warehouse that has no champion yet. `omnify serve` and `omnify report`
//! call [`ensure_sample`] so a fresh clone works with one command; anything already present
//! (rows, champions) is left alone, so a second start does nothing.

use std::path::Path;

use crate::budget::job::BudgetJobConfig;
use crate::budget::service as budget_service;
use crate::config::Config;
use crate::fatigue::{self, JobConfig};
use crate::ingest::{self, LoadOptions};
use crate::registry::{ModelKind, Registry};
use crate::warehouse::Warehouse;

/// What a bootstrap did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Bootstrap {
    /// Rows ingested from the bundled sample (0 when the warehouse already had rows).
    pub ingested_rows: usize,
    /// Versions trained, as (tenant, kind, version, promoted).
    pub trained: Vec<(String, String, String, bool)>,
    /// Tenants whose training failed, with the reason (the others still work).
    pub failed: Vec<(String, String, String)>,
}

/// The fatigue job spec in force: `training/fatigue.toml` when present, else the defaults.
pub fn fatigue_job() -> Result<JobConfig, String> {
    let default = Path::new("training/fatigue.toml");
    if default.exists() {
        JobConfig::load(default)
    } else {
        tracing::warn!(
            "training/fatigue.toml is not in the current folder; using the built-in defaults"
        );
        JobConfig::from_toml_str("")
    }
    .map_err(|e| e.to_string())
}

/// The budget job spec in force: `training/budget.toml` when present, else the defaults.
pub fn budget_job() -> Result<BudgetJobConfig, String> {
    BudgetJobConfig::load(None, Path::new("training/budget.toml"))
}

/// Tenants with rows in the warehouse, sorted.
pub fn tenants(wh: &Warehouse) -> Result<Vec<String>, String> {
    let mut t: Vec<String> = wh
        .partitions(None)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|k| k.tenant)
        .collect();
    t.sort();
    t.dedup();
    Ok(t)
}

/// Trains and registers a fatigue model for `tenant` from the warehouse; returns the version
/// and whether it was promoted.
pub fn train_fatigue(
    wh: &Warehouse,
    reg: &Registry,
    tenant: &str,
    job: &JobConfig,
    progress: fatigue::Progress,
) -> Result<(String, bool), String> {
    let df = wh.load(Some(tenant)).map_err(|e| e.to_string())?;
    if df.height() == 0 {
        return Err(format!("no ad_daily rows for tenant `{tenant}`"));
    }
    let o = fatigue::train(
        polars::prelude::IntoLazy::lazy(df),
        tenant,
        job,
        reg,
        progress,
    )
    .map_err(|e| e.to_string())?;
    Ok((o.decision.version, o.decision.promoted))
}

/// Ingests the bundled sample into an empty warehouse and trains missing champions.
/// `log` receives one line per step.
pub fn ensure_sample(cfg: &Config, log: &mut dyn FnMut(&str)) -> Result<Bootstrap, String> {
    let wh = Warehouse::open(cfg.warehouse_dir()).map_err(|e| e.to_string())?;
    let reg = Registry::open(&cfg.models_dir);
    let mut out = Bootstrap::default();
    if wh.partitions(None).map_err(|e| e.to_string())?.is_empty() {
        let manifest = cfg.data_dir.join("sample").join("manifest.json");
        if !manifest.exists() {
            return Err(format!(
                "the warehouse {} is empty and the bundled sample {} is missing",
                wh.root().display(),
                manifest.display()
            ));
        }
        log(&format!(
            "ingesting the bundled sample {}",
            manifest.display()
        ));
        let inputs = ingest::read_manifest(&manifest).map_err(|e| e.to_string())?;
        let opts = LoadOptions::from_config(cfg);
        let batch = ingest::load_all(&inputs, &opts).map_err(|e| e.to_string())?;
        let r = wh.ingest(batch).map_err(|e| e.to_string())?;
        out.ingested_rows = r.rows;
    }
    let fjob = fatigue_job()?;
    let bjob = budget_job()?;
    for tenant in tenants(&wh)? {
        if reg
            .champion(&tenant, ModelKind::Fatigue)
            .map_err(|e| e.to_string())?
            .is_none()
        {
            log(&format!("training the fatigue model of tenant {tenant}"));
            match train_fatigue(&wh, &reg, &tenant, &fjob, &mut |_, _, _| {}) {
                Ok((v, p)) => out.trained.push((tenant.clone(), "fatigue".into(), v, p)),
                Err(e) => out.failed.push((tenant.clone(), "fatigue".into(), e)),
            }
        }
        if reg
            .champion(&tenant, ModelKind::Budget)
            .map_err(|e| e.to_string())?
            .is_none()
        {
            log(&format!("training the budget model of tenant {tenant}"));
            match budget_service::train_from_warehouse(&wh, &reg, &tenant, &bjob) {
                Ok(t) => out.trained.push((
                    tenant.clone(),
                    "budget".into(),
                    t.decision.version,
                    t.decision.promoted,
                )),
                Err(e) => out
                    .failed
                    .push((tenant.clone(), "budget".into(), e.to_string())),
            }
        }
    }
    Ok(out)
}
