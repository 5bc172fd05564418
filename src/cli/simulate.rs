//! `omnify simulate`: realistic ad history in every platform's native format, plus ground truth.

use std::path::PathBuf;

use clap::Args;

use super::{CliError, table};
use crate::simulate::{SimConfig, WriteOptions, simulate, write_dataset_with};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Output folder (created): <tenant>/<platform>/ report files, manifest.json, truth/.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of every random stream; the same seed and sizes give byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of tenants (3 or more cover all nine platforms).
    #[arg(long, default_value_t = 3)]
    pub tenants: usize,
    /// Creatives per tenant appearing in the reported window (launches and refreshes).
    #[arg(long, default_value_t = 60)]
    pub creatives: usize,
    /// Reported days.
    #[arg(long, default_value_t = 180)]
    pub days: usize,
    /// First reported day (YYYY-MM-DD).
    #[arg(long, default_value = "2026-01-01", value_name = "YYYY-MM-DD")]
    pub start: chrono::NaiveDate,
    /// Gzip every file (`.gz`; ingestion opens gzip transparently). Used for the bundled sample.
    #[arg(long)]
    pub gzip: bool,
}

/// Runs `omnify simulate`.
pub fn run(args: SimulateArgs) -> Result<(), CliError> {
    let cfg = SimConfig {
        seed: args.seed,
        tenants: args.tenants,
        creatives_per_tenant: args.creatives,
        days: args.days,
        start: args.start,
        ..SimConfig::default()
    };
    cfg.validate().map_err(CliError::input)?;
    let world = simulate(&cfg).map_err(CliError::runtime)?;
    let s = write_dataset_with(&world, &args.out, WriteOptions { gzip: args.gzip })
        .map_err(CliError::runtime)?;
    super::emit(&format!(
        "wrote {} report files for {} tenants / {} accounts ({} ad-day rows, {} creatives, {} campaigns) to {}\n",
        table::thousands(s.files.len() as i64),
        s.tenants,
        s.accounts,
        table::thousands(s.ad_daily_rows as i64),
        table::thousands(s.creatives as i64),
        s.campaigns,
        s.out_dir.display()
    ));
    super::emit(&format!(
        "ingest them with: omnify ingest --manifest {}\n",
        args.out.join("manifest.json").display()
    ));
    Ok(())
}
