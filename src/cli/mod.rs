//! The `omnify` command line: parses flags, builds the configuration, calls one library
//! function per command and formats its result. Exit codes: 0 success, 1 runtime failure,
//! 2 bad input or usage (the message names the file, place and field).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;

mod alerts;
mod budget;
mod budget_recovery;
mod data;
mod fatigue;
mod fatigue_regimes;
mod mcp;
mod models;
mod report;
mod serve;
mod simulate;
mod table;

/// OmniFy: creative-fatigue and budget-shift forecasting for ad platforms.
///
/// Ingest daily ad history from Google Ads, Meta, LinkedIn, TikTok, Microsoft Ads, Snapchat,
/// Pinterest, X (and Amazon Ads) into one Parquet warehouse.
#[derive(Debug, Parser)]
#[command(name = "omnify", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Default: $OMNIFY_CONFIG, else ./omnify.toml when present.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data folder (sample data; default home of the warehouse and state).
    #[arg(long, global = true, value_name = "DIR", env = "OMNIFY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Warehouse folder [default: warehouse/ in the data folder].
    #[arg(long, global = true, value_name = "DIR", env = "OMNIFY_WAREHOUSE_DIR")]
    pub warehouse: Option<PathBuf>,
    /// Model registry folder [default: models].
    #[arg(long, global = true, value_name = "DIR", env = "OMNIFY_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    /// Log more (-v: debug, -vv: trace). Logs go to stderr; RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write realistic ad history in every platform's native format, plus ground truth.
    Simulate(simulate::SimulateArgs),
    /// Convert native platform reports into the unified ad_daily table (Parquet or CSV).
    Normalize(data::NormalizeArgs),
    /// Load reports (native or unified) into the warehouse; re-ingested ad-days replace old ones.
    Ingest(data::IngestArgs),
    /// Inspect the warehouse.
    Warehouse {
        #[command(subcommand)]
        command: data::WarehouseCommand,
    },
    /// The model registry: list, show, promote and roll back versions.
    Models {
        #[command(subcommand)]
        command: models::ModelsCommand,
    },
    /// Score with the champion model.
    Score {
        #[command(subcommand)]
        command: ScoreCommand,
    },
    /// Recommend a budget split across entities from response curves (exact for concave
    /// curves, global for S-shaped), within bounds; or the most outcome meeting a CPA/ROAS target.
    Optimize(budget::OptimizeArgs),
    /// Train models from the warehouse (or a wide table) and register them (promoted only if
    /// they beat the champion on the holdout).
    Train {
        #[command(subcommand)]
        command: TrainCommand,
    },
    /// Evaluate: every fatigue model and baseline on held-out rows, how well a budget model fits
    /// and what it attributes, the real-data regimes, and budget fits against known truth.
    Evaluate {
        #[command(subcommand)]
        command: EvaluateCommand,
    },
    /// Forecast future periods with a registered model.
    Forecast {
        #[command(subcommand)]
        command: ForecastCommand,
    },
    /// Write the forecast report of a tenant: one self-contained HTML page (creatives at risk,
    /// forecast quality, budget shifts) plus its tables as CSV and Parquet.
    Report(report::ReportArgs),
    /// Serve the JSON API over HTTP; on an empty state, bootstrap the bundled sample first.
    Serve(serve::ServeArgs),
    /// Serve the agent tools (MCP) over stdio for one tenant; `omnify serve` serves them over
    /// HTTP at /mcp.
    Mcp(mcp::McpArgs),
    /// Alert destinations, their deliveries, and an evaluation on demand.
    Alerts {
        #[command(subcommand)]
        command: alerts::AlertsCommand,
    },
    /// API keys: create (printed once), list, revoke. Stored hashed in the state file.
    Keys {
        #[command(subcommand)]
        command: serve::KeysCommand,
    },
    /// Internal: run one claimed training job (the server starts this as a child process).
    #[command(hide = true)]
    JobRun(serve::JobRunArgs),
}

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Fit every fatigue model, validated as the data allows (the time split, else
    /// rolling-origin folds, else none), register the best (or the cold-start prior) and
    /// promote it only if it beats the champion on the same rows.
    Fatigue(fatigue::TrainFatigueArgs),
    /// Fit per-entity budget response curves (adstock + saturation, 90% intervals from
    /// posterior draws) and register them; promoted only if better than the champion on the
    /// holdout.
    Budget(budget::TrainBudgetArgs),
    /// Rebuild the cold-start fatigue prior (shipped in models/prior.fatigue and compiled into
    /// the binary) from simulated worlds of every real-data regime.
    FatiguePrior(fatigue_regimes::TrainPriorArgs),
}

#[derive(Debug, Subcommand)]
pub enum EvaluateCommand {
    /// One row per model, non-learned baseline and the prior with every metric and 90%
    /// intervals, validated as the data allows (time split, rolling-origin folds, or none).
    Fatigue(fatigue::EvaluateFatigueArgs),
    /// Per-entity contribution, share and ROAS with intervals, fitted curves, fit quality and
    /// identifiability warnings of the budget model.
    Budget(budget::EvaluateBudgetArgs),
    /// The real-data figures: fresh simulated worlds of each real-shaped regime (short
    /// histories, impressions and clicks only, few onsets, seasonal declines), every tenant
    /// trained as `train fatigue` would; the served model against the best rule baseline, the
    /// prior alone and the tenant's own learned models.
    FatigueRegimes(fatigue_regimes::EvaluateRegimesArgs),
    /// How well budget fits recover contributions they were not told: generated datasets,
    /// PyMC-Marketing's example process, the bundled MMM table or the sample's campaigns,
    /// each against its known truth (interval coverage, share and ROAS errors).
    BudgetRecovery(budget_recovery::EvaluateRecoveryArgs),
}

#[derive(Debug, Subcommand)]
pub enum ScoreCommand {
    /// Score every active creative at an as-of day with the tenant's champion model.
    Fatigue(fatigue::ScoreFatigueArgs),
}

#[derive(Debug, Subcommand)]
pub enum ForecastCommand {
    /// Outcome per future period under a spend plan, with intervals, adstock carried over.
    Budget(budget::ForecastBudgetArgs),
}

/// A command failure: the one-line message and the exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    /// Bad input or usage (exit code 2).
    pub fn input(e: impl std::fmt::Display) -> Self {
        CliError {
            code: 2,
            message: e.to_string(),
        }
    }
    /// A failure of the run itself (exit code 1).
    pub fn runtime(e: impl std::fmt::Display) -> Self {
        CliError {
            code: 1,
            message: e.to_string(),
        }
    }
}

impl From<crate::ingest::IngestError> for CliError {
    fn from(e: crate::ingest::IngestError) -> Self {
        use crate::ingest::IngestError::*;
        match e {
            Parse { .. } | Invalid { .. } | Usage(_) => CliError::input(e),
            Read { .. } => CliError::input(e),
        }
    }
}

impl From<crate::warehouse::WarehouseError> for CliError {
    fn from(e: crate::warehouse::WarehouseError) -> Self {
        match e {
            crate::warehouse::WarehouseError::Invalid(_) => CliError::input(e),
            _ => CliError::runtime(e),
        }
    }
}

/// Writes command output to stdout. A closed pipe (`omnify ... | head`) ends the process
/// quietly instead of panicking.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write output: {e}");
        std::process::exit(1);
    }
}

/// Prints a listing: pretty JSON with `json`, else `none` when empty, else a table of one
/// `row` per item under `headers`.
pub(crate) fn emit_list<T: serde::Serialize>(
    items: &[T],
    json: bool,
    none: &str,
    headers: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) -> Result<(), CliError> {
    if json {
        emit(&(serde_json::to_string_pretty(items).map_err(CliError::runtime)? + "\n"));
    } else if items.is_empty() {
        emit(&format!("{none}\n"));
    } else {
        let rows: Vec<Vec<String>> = items.iter().map(row).collect();
        emit(&table::render(headers, &rows));
    }
    Ok(())
}

/// Builds the configuration in force: defaults → file → environment → flags.
pub fn config_from(cli: &Cli) -> Result<Config, CliError> {
    let mut cfg = Config::load(cli.config.as_deref()).map_err(CliError::input)?;
    if let Some(d) = &cli.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(w) = &cli.warehouse {
        cfg.warehouse_dir = Some(w.clone());
    }
    if let Some(m) = &cli.models_dir {
        cfg.models_dir = m.clone();
    }
    Ok(cfg)
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let cfg = config_from(&cli)?;
    match cli.command {
        Command::Simulate(args) => simulate::run(args),
        Command::Normalize(args) => data::normalize(&cfg, args),
        Command::Ingest(args) => data::ingest(&cfg, args),
        Command::Warehouse { command } => data::warehouse(&cfg, command),
        Command::Models { command } => models::run(&cfg, command),
        Command::Optimize(args) => budget::optimize(&cfg, args),
        Command::Train { command } => match command {
            TrainCommand::Fatigue(args) => fatigue::train(&cfg, args),
            TrainCommand::Budget(args) => budget::train(&cfg, args),
            TrainCommand::FatiguePrior(args) => fatigue_regimes::train_prior(args),
        },
        Command::Evaluate { command } => match command {
            EvaluateCommand::Fatigue(args) => fatigue::evaluate(&cfg, args),
            EvaluateCommand::Budget(args) => budget::evaluate(&cfg, args),
            EvaluateCommand::FatigueRegimes(args) => fatigue_regimes::evaluate_regimes(args),
            EvaluateCommand::BudgetRecovery(args) => budget_recovery::evaluate(args),
        },
        Command::Score { command } => match command {
            ScoreCommand::Fatigue(args) => fatigue::score(&cfg, args),
        },
        Command::Forecast { command } => match command {
            ForecastCommand::Budget(args) => budget::forecast(&cfg, args),
        },
        Command::Report(args) => report::run(&cfg, args),
        Command::Serve(args) => serve::serve(&cfg, args),
        Command::Mcp(args) => mcp::run(&cfg, args),
        Command::Alerts { command } => alerts::run(&cfg, command),
        Command::Keys { command } => serve::keys(&cfg, command),
        Command::JobRun(args) => serve::job_run(args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks every subcommand's definition (unique names, valid defaults...).
    #[test]
    fn the_command_line_definition_is_valid() {
        super::Cli::command().debug_assert();
    }
}
