//! `omnify report`: the analysts' forecast report of one tenant (HTML page plus the score and
//! plan tables) into a folder. On an empty warehouse (fresh clone) it first loads the bundled
//! sample and trains the missing champions, so one command works from scratch.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, emit};
use crate::config::Config;
use crate::fatigue::JobConfig;
use crate::report::{self, ReportError};
use crate::warehouse::Warehouse;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Tenant [default: the configured tenant; when it has no rows, the first tenant in the
    /// warehouse].
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// Report day: history up to and including it (YYYY-MM-DD) [default: the tenant's last
    /// data day].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Output folder (created if missing): report.html, scores.csv, scores.parquet, plan.csv,
    /// plan.parquet.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Creatives charted under "Creatives at risk".
    #[arg(long, value_name = "N", default_value_t = report::DEFAULT_TOP_N)]
    pub top: usize,
    /// Fatigue job spec (label definition, scoring thresholds) [default:
    /// training/fatigue.toml, else the built-in defaults].
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// Print what was written as JSON.
    #[arg(long)]
    pub json: bool,
}

fn report_err(e: ReportError) -> CliError {
    match e {
        ReportError::NotFound(_) | ReportError::Invalid(_) => CliError::input(e),
        ReportError::Failed(_) => CliError::runtime(e),
    }
}

/// The tenant to report on: the flag, else the configured one when it has rows, else the
/// first tenant in the warehouse (said on stderr).
fn pick_tenant(cfg: &Config, wh: &Warehouse, flag: Option<&str>) -> Result<String, CliError> {
    if let Some(t) = flag {
        return Ok(t.to_string());
    }
    let tenants = crate::bootstrap::tenants(wh).map_err(CliError::runtime)?;
    if tenants.contains(&cfg.tenant) {
        return Ok(cfg.tenant.clone());
    }
    match tenants.first() {
        Some(t) => {
            eprintln!(
                "note: the configured tenant `{}` has no rows; reporting on `{t}`, the first \
                 tenant in the warehouse (choose with --tenant)",
                cfg.tenant
            );
            Ok(t.clone())
        }
        None => Ok(cfg.tenant.clone()),
    }
}

/// Runs `omnify report`.
pub fn run(cfg: &Config, args: ReportArgs) -> Result<(), CliError> {
    let job = match &args.spec {
        Some(p) => JobConfig::load(p).map_err(CliError::input)?,
        None => {
            let default = Path::new("training/fatigue.toml");
            if default.exists() {
                JobConfig::load(default).map_err(CliError::input)?
            } else {
                JobConfig::from_toml_str("").map_err(CliError::input)?
            }
        }
    };
    let wh = Warehouse::open(cfg.warehouse_dir())?;
    if wh.partitions(None)?.is_empty() {
        eprintln!(
            "the warehouse {} is empty: loading the bundled sample first",
            wh.root().display()
        );
        let b = crate::bootstrap::ensure_sample(cfg, &mut |line| eprintln!("  {line}"))
            .map_err(CliError::runtime)?;
        for (tenant, kind, why) in &b.failed {
            eprintln!("warning: training the {kind} model of {tenant} failed: {why}");
        }
    }
    let tenant = pick_tenant(cfg, &wh, args.tenant.as_deref())?;
    let meta = report::generate_with(cfg, &tenant, args.as_of, &args.out, &job, args.top)
        .map_err(report_err)?;
    if args.json {
        emit(&(serde_json::to_string_pretty(&meta).map_err(CliError::runtime)? + "\n"));
    } else {
        let c = |k: &str| meta.counts.get(k).copied().unwrap_or(0);
        emit(&format!(
            "wrote the {} report of tenant {} as of {} to {}: {} creatives scored ({} at risk, \
             {} fatigued), {} budget entities\n",
            meta.files.join(", "),
            meta.tenant,
            meta.as_of,
            args.out.display(),
            c("creatives_scored"),
            c("creatives_at_risk"),
            c("creatives_fatigued"),
            c("entities"),
        ));
    }
    Ok(())
}
