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
    /// Instead of platform reports, write a wide media-mix table (`mmm_weekly.csv`: week,
    /// outcome, one spend column per channel) with N channels over --days/7 weeks, plus its
    /// truth (`mmm_truth.csv`: adstock decay, Hill half-saturation and shape, β, true
    /// contribution, share and ROAS per channel) — the input `omnify train budget --input`
    /// takes.
    #[arg(long, value_name = "N", conflicts_with = "mmm_example")]
    pub mmm: Option<usize>,
    /// Instead of platform reports, write one dataset of PyMC-Marketing's own example process
    /// (`mmm_example.csv`: date_week, y, x1, x2, event_1, event_2 over 179 weeks; logistic
    /// saturation, normalised geometric adstock, noise σ 0.25) for --seed, plus its truth
    /// (`mmm_example_truth.csv`: α, λ, β, true contribution, share and ROAS per channel), to
    /// compare OmniFy's recovery with that tool's on the data it is quoted for.
    #[arg(long)]
    pub mmm_example: bool,
    /// Instead of platform reports, write one world of a real-shaped regime as unified
    /// `ad_daily` Parquet files, one per tenant (`<tenant>.parquet`): `search` (91 days,
    /// impressions and clicks only, long-lived keywords, an account-wide CTR decline, 15%
    /// zero-delivery days), `display` (40 days, banners of 2–6 weeks with cost and conversions,
    /// a holiday peak), `short_mixed` (60 days, every metric, a seasonal decline) or `sparse`
    /// (75 days, impressions and clicks only, few onsets). The regime fixes the days, start and
    /// creatives; --seed and --tenants apply.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["mmm", "mmm_example"])]
    pub regime: Option<String>,
}

/// Writes one world of a real-shaped regime as unified Parquet, one file per tenant.
fn run_regime(args: &SimulateArgs, name: &str) -> Result<(), CliError> {
    use crate::simulate::regimes::{Regime, regime_rows};
    use polars::prelude::*;
    let regime = Regime::parse(name).map_err(CliError::input)?;
    if args.tenants == 0 || args.tenants > 1000 {
        return Err(CliError::input("--tenants must be 1–1000"));
    }
    let world = regime_rows(regime, args.seed, args.tenants).map_err(CliError::input)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::runtime(format!("{}: {e}", args.out.display())))?;
    let mut lines = Vec::new();
    for (tenant, rows) in world {
        let mut lf = crate::schema::rows_to_frame(&tenant, &rows)
            .map_err(CliError::runtime)?
            .lazy();
        if regime.impressions_clicks_only() {
            lf = crate::fatigue::impressions_clicks_only(lf);
        }
        let mut df = lf.collect().map_err(CliError::runtime)?;
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .finish(&mut df)
            .map_err(CliError::runtime)?;
        let path = args.out.join(format!("{tenant}.parquet"));
        crate::fsutil::write_atomic(&path, &bytes)
            .map_err(|e| CliError::runtime(format!("{}: {e}", path.display())))?;
        lines.push(format!(
            "  {tenant}: {} rows → omnify ingest --tenant {tenant} {}",
            df.height(),
            path.display()
        ));
    }
    super::emit(&format!(
        "wrote one `{}` world (seed {}) to {}:\n{}\n",
        regime.name(),
        args.seed,
        args.out.display(),
        lines.join("\n")
    ));
    Ok(())
}

/// Writes one dataset of PyMC-Marketing's example process and its truth (`--mmm-example`).
fn run_mmm_example(args: &SimulateArgs) -> Result<(), CliError> {
    let (data, truth) = crate::budget::synth::pymc_example(args.seed, 0.25);
    let table = csv_bytes(
        &["date_week", "y", "x1", "x2", "event_1", "event_2"],
        data.dates.iter().enumerate().map(|(i, d)| {
            let mut rec = vec![d.to_string(), format!("{:.6}", data.outcome[i])];
            rec.extend(data.spend.iter().map(|s| format!("{:.6}", s[i])));
            rec.extend(data.events.iter().map(|e| format!("{}", e.1[i])));
            rec
        }),
    )?;
    let t = csv_bytes(
        &[
            "channel",
            "adstock_alpha",
            "logistic_lambda",
            "beta",
            "contribution",
            "share",
            "roas",
        ],
        truth.iter().map(|c| {
            vec![
                c.name.clone(),
                format!("{}", c.alpha),
                format!("{}", c.lam),
                format!("{}", c.beta),
                format!("{:.6}", c.contribution),
                format!("{:.6}", c.share),
                format!("{:.6}", c.roas),
            ]
        }),
    )?;
    write_outputs(
        args,
        [("mmm_example.csv", table), ("mmm_example_truth.csv", t)],
    )?;
    let path = args.out.join("mmm_example.csv");
    super::emit(&format!(
        "wrote {} weeks × 2 channels of PyMC-Marketing's example process to {}\ntrain on it with: \
         omnify train budget --input {} --date-col date_week --outcome-col y --spend-cols x1,x2 \
         --event-cols event_1,event_2 --freq week\n",
        data.dates.len(),
        path.display(),
        path.display(),
    ));
    Ok(())
}

/// A CSV file's bytes: a header line, then one record per row.
fn csv_bytes<H: AsRef<[u8]>>(
    header: &[H],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<Vec<u8>, CliError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(CliError::runtime)?;
    for rec in rows {
        w.write_record(&rec).map_err(CliError::runtime)?;
    }
    w.into_inner().map_err(|e| CliError::runtime(e.error()))
}

/// Writes files into the output folder, each atomically.
fn write_outputs<const N: usize>(
    args: &SimulateArgs,
    files: [(&str, Vec<u8>); N],
) -> Result<(), CliError> {
    for (name, bytes) in files {
        let path = args.out.join(name);
        crate::fsutil::write_atomic(&path, &bytes)
            .map_err(|e| CliError::runtime(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

/// Writes the wide MMM table and its truth (`--mmm N`).
fn run_mmm(args: &SimulateArgs, channels: usize) -> Result<(), CliError> {
    use crate::budget::series::PeriodKind;
    use crate::budget::synth::{SynthConfig, generate};
    if channels == 0 || args.days < 7 * 20 {
        return Err(CliError::input(
            "--mmm needs at least 1 channel and --days of at least 140 (20 weeks)",
        ));
    }
    let cfg = SynthConfig {
        seed: args.seed,
        channels,
        periods: args.days / 7,
        period: PeriodKind::Week,
        ..SynthConfig::default()
    };
    let (data, truth) = generate(&cfg);
    let mut header = vec!["week".to_string(), "outcome".to_string()];
    header.extend(data.channels.iter().map(|c| format!("spend_{c}")));
    let table = csv_bytes(
        &header,
        data.dates.iter().enumerate().map(|(i, d)| {
            let mut rec = vec![d.to_string(), format!("{:.2}", data.outcome[i])];
            rec.extend(data.spend.iter().map(|s| format!("{:.2}", s[i])));
            rec
        }),
    )?;
    let t = csv_bytes(
        &[
            "channel",
            "adstock_decay",
            "hill_half_saturation",
            "hill_shape",
            "beta",
            "contribution",
            "share",
            "roas",
        ],
        truth.iter().map(|c| {
            vec![
                format!("spend_{}", c.name),
                format!("{:.6}", c.decay),
                format!("{:.6}", c.half_saturation),
                format!("{:.6}", c.shape),
                format!("{:.6}", c.beta),
                format!("{:.4}", c.contribution),
                format!("{:.6}", c.share),
                format!("{:.6}", c.roas),
            ]
        }),
    )?;
    write_outputs(args, [("mmm_weekly.csv", table), ("mmm_truth.csv", t)])?;
    let spend_cols: Vec<String> = data.channels.iter().map(|c| format!("spend_{c}")).collect();
    super::emit(&format!(
        "wrote {} weeks × {channels} channels to {}\ntrain on it with: omnify train budget --input {} --date-col week --outcome-col outcome --spend-cols {}\n",
        data.dates.len(),
        args.out.join("mmm_weekly.csv").display(),
        args.out.join("mmm_weekly.csv").display(),
        spend_cols.join(","),
    ));
    Ok(())
}

/// Runs `omnify simulate`.
pub fn run(args: SimulateArgs) -> Result<(), CliError> {
    if let Some(channels) = args.mmm {
        return run_mmm(&args, channels);
    }
    if args.mmm_example {
        return run_mmm_example(&args);
    }
    if let Some(name) = &args.regime {
        return run_regime(&args, name);
    }
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
