//! Data commands: `normalize`, `ingest`, `warehouse summary`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use polars::prelude::*;

use super::{CliError, table};
use crate::config::Config;
use crate::ingest::{self, InputFile, LoadOptions};
use crate::platforms::Platform;
use crate::warehouse::{Summary, Warehouse, write_atomic};

/// The request scope and platform choice shared by `normalize` and `ingest`.
#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Platform of the files: google_ads, meta, linkedin, tiktok, microsoft_ads, snapchat,
    /// pinterest, x, amazon_ads, or auto (detect from content).
    #[arg(long, default_value = "auto", value_name = "NAME")]
    pub platform: String,
    /// Account id the reports were requested for; used only where the payload lacks it
    /// (LinkedIn, TikTok, Snapchat, X, Amazon, Google Ads UI CSV).
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
    /// Account currency (ISO 4217, e.g. USD); used only where the payload lacks it
    /// (LinkedIn, TikTok, Snapchat, Pinterest, X).
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,
    /// Tenant (the client the data belongs to) [default: from config, else "default"].
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
}

#[derive(Debug, Args)]
pub struct NormalizeArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Native report files or folders (gzip and zip downloads are opened automatically).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output file: .parquet or .csv (written atomically).
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// A manifest listing files with their tenant, platform, account id and currency (as
    /// written by `omnify simulate`); ingested in its order.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Files or folders: native platform reports, or files in the unified ad_daily schema
    /// (Parquet or CSV).
    #[arg(value_name = "FILE", required_unless_present = "manifest")]
    pub files: Vec<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum WarehouseCommand {
    /// Rows, creatives, date range and spend per tenant and platform.
    Summary {
        /// Only this tenant.
        #[arg(long, value_name = "T")]
        tenant: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn inputs_from(
    cfg: &Config,
    scope: &ScopeArgs,
    files: &[PathBuf],
) -> Result<Vec<InputFile>, CliError> {
    let platform = match scope.platform.as_str() {
        "auto" => None,
        name => Some(Platform::from_name(name).map_err(CliError::input)?),
    };
    let tenant = scope.tenant.clone().unwrap_or_else(|| cfg.tenant.clone());
    Ok(ingest::expand_paths(files)?
        .into_iter()
        .map(|path| InputFile {
            path,
            tenant: tenant.clone(),
            platform,
            account_id: scope.account_id.clone(),
            currency: scope.currency.clone(),
        })
        .collect())
}

/// A progress bar on stderr (hidden when stderr is not a terminal, e.g. in scripts and CI).
fn progress_bar(len: u64, what: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} files ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(what);
    bar
}

fn load_options(cfg: &Config) -> LoadOptions {
    LoadOptions::from_config(cfg)
}

/// `omnify normalize`.
pub fn normalize(cfg: &Config, args: NormalizeArgs) -> Result<(), CliError> {
    let kind = output_kind(&args.out)?;
    let inputs = inputs_from(cfg, &args.scope, &args.files)?;
    let bar = progress_bar(inputs.len() as u64, "reading");
    let mut df = ingest::load_latest_with_progress(&inputs, &load_options(cfg), |i| {
        bar.set_position(i as u64)
    })?;
    bar.finish_and_clear();
    write_frame(&mut df, &args.out, kind)?;
    eprintln!(
        "wrote {} rows to {}",
        table::thousands(df.height() as i64),
        args.out.display()
    );
    Ok(())
}

#[derive(Clone, Copy)]
enum OutKind {
    Parquet,
    Csv,
}

fn output_kind(out: &Path) -> Result<OutKind, CliError> {
    match out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("parquet") => Ok(OutKind::Parquet),
        Some("csv") => Ok(OutKind::Csv),
        _ => Err(CliError::input(format!(
            "{}: output must end in .parquet or .csv",
            out.display()
        ))),
    }
}

fn write_frame(df: &mut DataFrame, out: &Path, kind: OutKind) -> Result<(), CliError> {
    let mut buf = Vec::new();
    match kind {
        OutKind::Parquet => {
            ParquetWriter::new(&mut buf)
                .with_compression(ParquetCompression::Zstd(None))
                .finish(df)
                .map_err(CliError::runtime)?;
        }
        OutKind::Csv => {
            CsvWriter::new(&mut buf)
                .include_header(true)
                .finish(df)
                .map_err(CliError::runtime)?;
        }
    }
    write_atomic(out, &buf).map_err(|e| CliError::runtime(format!("{}: {e}", out.display())))
}

/// `omnify ingest`.
/// Rebuilds the materialised latest-day fatigue features of every tenant that keeps some
/// (built with the default job specification, as `score fatigue` uses without `--spec`) and
/// whose rows just changed, so the next scoring run reads them. The rows are already
/// committed: a failure here is logged, and the next scoring run rebuilds instead.
fn refresh_features(wh: &Warehouse) {
    if !wh.root().join("_features").exists() {
        return;
    }
    let started = std::time::Instant::now();
    let job = match crate::bootstrap::fatigue_job() {
        Ok(j) => j,
        Err(e) => {
            tracing::warn!(error = %e, "not refreshing the latest-day features");
            return;
        }
    };
    let mut refreshed = 0;
    for tenant in crate::bootstrap::tenants(wh).unwrap_or_default() {
        match crate::fatigue::snapshot::refresh_if_kept(wh, &tenant, &job.base) {
            Ok(true) => refreshed += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(
                tenant,
                error = %e,
                "refreshing the latest-day features failed; the next scoring run rebuilds them"
            ),
        }
    }
    if refreshed > 0 {
        tracing::info!(
            tenants = refreshed,
            secs = started.elapsed().as_secs_f64(),
            "refreshed the latest-day fatigue features kept for scoring"
        );
    }
}

pub fn ingest(cfg: &Config, args: IngestArgs) -> Result<(), CliError> {
    let mut inputs = match &args.manifest {
        Some(m) => ingest::read_manifest(m)?,
        None => Vec::new(),
    };
    if !args.files.is_empty() {
        inputs.extend(inputs_from(cfg, &args.scope, &args.files)?);
    }
    let n_files = inputs.len();
    let bar = progress_bar(n_files as u64, "reading");
    let batch = ingest::load_all_with_progress(&inputs, &load_options(cfg), |i| {
        bar.set_position(i as u64)
    })?;
    bar.finish_and_clear();
    let wh = Warehouse::open(cfg.warehouse_dir())?;
    let report = wh.ingest(batch)?;
    tracing::info!(
        files = n_files,
        rows = report.rows,
        inserted = report.inserted,
        replaced = report.replaced,
        partitions = report.partitions,
        "ingest complete"
    );
    refresh_features(&wh);
    let summary = wh.summary(None)?;
    if args.json {
        let v = serde_json::json!({"files": n_files, "ingest": report, "warehouse": summary});
        super::emit(&json_text(&v)?);
    } else {
        super::emit(&format!(
            "ingested {} files: {} rows ({} new, {} replaced; {} superseded by later pulls in this batch) into {} partitions of {}\n\n",
            n_files,
            table::thousands(report.rows as i64),
            table::thousands(report.inserted as i64),
            table::thousands(report.replaced as i64),
            table::thousands(report.superseded_in_batch as i64),
            report.partitions,
            wh.root().display()
        ));
        super::emit(&render_summary(&summary));
    }
    Ok(())
}

/// `omnify warehouse ...`.
pub fn warehouse(cfg: &Config, cmd: WarehouseCommand) -> Result<(), CliError> {
    match cmd {
        WarehouseCommand::Summary { tenant, json } => {
            let wh = Warehouse::open(cfg.warehouse_dir())?;
            let s = wh.summary(tenant.as_deref())?;
            if json {
                super::emit(&json_text(&s)?);
            } else {
                super::emit(&render_summary(&s));
            }
            Ok(())
        }
    }
}

/// Pretty JSON with a trailing newline.
fn json_text(v: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(CliError::runtime)
}

fn render_summary(s: &Summary) -> String {
    if s.rows == 0 {
        return "the warehouse is empty\n".into();
    }
    let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let rows: Vec<Vec<String>> = s
        .by_tenant_platform
        .iter()
        .map(|r| {
            vec![
                r.tenant.clone(),
                r.platform.clone(),
                table::thousands(r.rows as i64),
                table::thousands(r.creatives as i64),
                format!("{} .. {}", date(r.first_date), date(r.last_date)),
                table::thousands(r.impressions),
                table::thousands(r.clicks),
                table::money(r.spend),
                r.currencies.join("/"),
                table::decimal(r.conversions, 1),
            ]
        })
        .collect();
    let mut out = table::render(
        &[
            "tenant",
            "platform",
            ">rows",
            ">creatives",
            "dates",
            ">impressions",
            ">clicks",
            ">spend",
            "currency",
            ">conversions",
        ],
        &rows,
    );
    out.push_str(&format!(
        "\ntotal: {} rows, {} creatives, {} .. {}\n",
        table::thousands(s.rows as i64),
        table::thousands(s.creatives as i64),
        date(s.first_date),
        date(s.last_date)
    ));
    out
}
