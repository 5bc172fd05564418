//! `omnify evaluate budget-recovery`: fits on data with known truth against that truth, the
//! figures of docs/evaluation.md "Budget recovery". A thin wrapper over
//! [`crate::budget::fit::recovery`].

use std::path::PathBuf;

use clap::Args;

use super::{CliError, emit, table};
use crate::budget::FitParams;
use crate::budget::fit::recovery::{Group, Options, Report, Source, WELL_IDENTIFIED, run};
use crate::budget::fit::{AdstockFamily, SaturationFamily};

#[derive(Debug, Args)]
pub struct EvaluateRecoveryArgs {
    /// Data with known truth: generated (3 channels × 156 weeks, Hill curves), pymc-example
    /// (PyMC-Marketing's example process, 2 channels × 179 weeks), bundled-table
    /// (data/mmm/), or sample (the bundled sample's campaigns).
    #[arg(long, value_name = "DATA", default_value = "generated")]
    pub data: String,
    /// Datasets to generate, one per seed (generated and pymc-example).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub runs: u64,
    /// First seed [default: 1000 for generated, 0 for pymc-example].
    #[arg(long, value_name = "S")]
    pub first_seed: Option<u64>,
    /// Noise: a share of the mean outcome for generated data [default: 0.05], the outcome's
    /// standard deviation for pymc-example [default: 0.25].
    #[arg(long, value_name = "X")]
    pub noise: Option<f64>,
    /// Job specification whose [fit] is used [default: built-in defaults for generated and
    /// pymc-example, training/budget.toml for bundled-table and sample].
    #[arg(long, value_name = "FILE.toml")]
    pub spec: Option<PathBuf>,
    /// Saturation families searched, overriding the spec (hill, logistic, ...).
    #[arg(long, value_name = "F,...", value_delimiter = ',')]
    pub saturation: Vec<String>,
    /// Adstock families searched, overriding the spec (geometric, weibull, ...).
    #[arg(long, value_name = "F,...", value_delimiter = ',')]
    pub adstock: Vec<String>,
    /// pymc-example only: write each dataset and every fit to DIR, for
    /// scripts/pymc_reference.py to fit PyMC-Marketing on the same data and compare.
    #[arg(long, value_name = "DIR")]
    pub dump: Option<PathBuf>,
    /// Print the summary and every channel fit as JSON.
    #[arg(long)]
    pub json: bool,
}

fn families<T: serde::de::DeserializeOwned>(
    flag: &str,
    names: &[String],
) -> Result<Vec<T>, CliError> {
    names
        .iter()
        .map(|n| {
            serde_json::from_value(serde_json::Value::String(n.trim().to_string()))
                .map_err(|e| CliError::input(format!("--{flag}: `{n}`: {e}")))
        })
        .collect()
}

fn params(args: &EvaluateRecoveryArgs, source: Source) -> Result<FitParams, CliError> {
    let mut p = match (&args.spec, source) {
        (Some(path), _) => {
            crate::budget::job::BudgetJobConfig::load(Some(path), path)
                .map_err(CliError::input)?
                .fit
        }
        (None, Source::BundledTable | Source::Sample) => {
            crate::bootstrap::budget_job().map_err(CliError::input)?.fit
        }
        (None, _) => FitParams::default(),
    };
    if !args.saturation.is_empty() {
        p.saturation = families::<SaturationFamily>("saturation", &args.saturation)?;
    }
    if !args.adstock.is_empty() {
        p.adstock = families::<AdstockFamily>("adstock", &args.adstock)?;
    }
    p.validate().map_err(|e| CliError::input(e.to_string()))?;
    Ok(p)
}

pub fn evaluate(args: EvaluateRecoveryArgs) -> Result<(), CliError> {
    let source = Source::parse(&args.data).map_err(|e| CliError::input(format!("--data: {e}")))?;
    let opts = Options {
        source,
        runs: args.runs,
        first_seed: args.first_seed.unwrap_or(match source {
            Source::Generated => 1000,
            _ => 0,
        }),
        noise: args.noise.unwrap_or(source.default_noise()),
        params: params(&args, source)?,
        dump: args.dump.clone(),
    };
    if opts.dump.is_some() && source != Source::PymcExample {
        return Err(CliError::input(
            "--dump applies to --data pymc-example only",
        ));
    }
    if !(1..=10_000).contains(&opts.runs) {
        return Err(CliError::input("--runs must be in 1..=10000"));
    }
    if !(opts.noise.is_finite() && opts.noise >= 0.0) {
        return Err(CliError::input("--noise must be a number ≥ 0"));
    }
    let root = std::env::current_dir().map_err(CliError::runtime)?;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = run(&opts, &root, &mut |done, total| {
        if tty {
            eprint!("\rbudget recovery: {done}/{total} fitted");
            if done == total {
                eprintln!();
            }
        } else if done == total || done % 10 == 0 {
            eprintln!("budget recovery: {done}/{total} fitted");
        }
    })
    .map_err(CliError::runtime)?;
    if args.json {
        emit(&(serde_json::to_string_pretty(&report).map_err(CliError::runtime)? + "\n"));
        return Ok(());
    }
    emit(&render(&report));
    Ok(())
}

fn errors(e: &crate::budget::fit::recovery::Errors) -> [String; 3] {
    if e.channels == 0 {
        return ["–".into(), "–".into(), "0".into()];
    }
    [
        format!("{} pt", table::decimal(100.0 * e.median_share_error, 2)),
        format!("{}%", table::decimal(100.0 * e.median_roas_error, 1)),
        format!("{}/{}", e.within, e.channels),
    ]
}

/// The summary table: one row per group of channel fits.
pub fn render(r: &Report) -> String {
    let rows: Vec<Vec<String>> = r
        .groups
        .iter()
        .map(|g: &Group| {
            let [s, ro, w] = errors(&g.all);
            let [is, iro, iw] = errors(&g.well_identified);
            let floor = g
                .floor
                .as_ref()
                .map(|f| {
                    let [a, b, c] = errors(f);
                    format!("{a} / {b}, {c}")
                })
                .unwrap_or_else(|| "–".into());
            vec![
                g.name.clone(),
                format!("{}%", table::decimal(100.0 * g.mean_true_share, 1)),
                format!(
                    "{}/{} ({}%)",
                    g.covered,
                    g.fits,
                    table::decimal(100.0 * g.coverage(), 1)
                ),
                s,
                ro,
                w,
                format!("{is} / {iro}, {iw}"),
                floor,
            ]
        })
        .collect();
    let what = match r.source {
        Source::Generated => format!("{} generated datasets, noise {}", r.runs, r.noise),
        Source::PymcExample => format!("{} datasets of the example process, σ {}", r.runs, r.noise),
        Source::BundledTable => "the bundled table data/mmm/mmm_weekly.csv".into(),
        Source::Sample => "the bundled sample's campaigns".into(),
    };
    format!(
        "Budget recovery on {what} ({} s)\n\n{}\nShare and ROAS errors are medians; within: ±1 point \
         of share and 5% of ROAS; well identified: the 90% share interval within ±{:.0}% of the \
         share; floor: least squares given the true curves.\n",
        table::decimal(r.seconds, 1),
        table::render(
            &[
                "channels",
                ">mean true share",
                ">90% intervals cover",
                ">share error",
                ">ROAS error",
                ">within",
                "well identified",
                "floor",
            ],
            &rows,
        ),
        100.0 * WELL_IDENTIFIED
    )
}
