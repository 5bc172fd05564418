//! `omnify train budget`, `omnify evaluate budget`, `omnify forecast budget`: thin wrappers
//! that read the series (warehouse or wide table), call [`crate::budget::fit`], store the model
//! as a registry version (`models/<tenant>/budget/<version>/model.json` + `card.json`) and
//! format reports and forecasts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::super::CliError;
use super::super::table::{money, render};
use crate::budget::fit::{BudgetModel, EntityReport};
use crate::budget::job::BudgetJobConfig;
use crate::budget::series::{self, PeriodKind, WideSpec};
use crate::budget::service::{self, ServiceError};
use crate::config::Config;
use crate::registry::{ModelCard, Registry};
use crate::warehouse::Warehouse;

/// Period of a wide table or of the warehouse series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Freq {
    Day,
    Week,
}

/// Fit per-entity response curves (baseline + β·saturation(adstock(spend))) from the
/// warehouse, or from a wide MMM table with --input; store the model as a registry version and
/// promote it if it beats the champion's holdout error.
#[derive(Debug, Args)]
pub struct TrainBudgetArgs {
    /// Tenant whose warehouse rows are fitted and who owns the model [default: configured].
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// Job specification [default: training/budget.toml when present, else built-in defaults].
    #[arg(long, value_name = "FILE.toml")]
    pub spec: Option<PathBuf>,
    /// A wide MMM table (CSV or Parquet, one row per period, one spend column per channel)
    /// instead of the warehouse.
    #[arg(long, value_name = "FILE.csv|parquet", requires_all = ["date_col", "outcome_col", "spend_cols"])]
    pub input: Option<PathBuf>,
    /// Date column of --input (YYYY-MM-DD; the first day of each period).
    #[arg(long, value_name = "C")]
    pub date_col: Option<String>,
    /// Outcome column of --input (conversions, revenue, ...).
    #[arg(long, value_name = "Y")]
    pub outcome_col: Option<String>,
    /// Spend columns of --input, comma-separated (currency units per period).
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    pub spend_cols: Vec<String>,
    /// Control columns of --input (price, distribution, ...), comma-separated.
    #[arg(long, value_name = "C,...", value_delimiter = ',')]
    pub control_cols: Vec<String>,
    /// Event indicator columns of --input (0/1 per period), comma-separated.
    #[arg(long, value_name = "E,...", value_delimiter = ',')]
    pub event_cols: Vec<String>,
    /// Period: for --input, the row spacing [default: inferred]; for the warehouse, overrides
    /// series.period of the spec.
    #[arg(long, value_enum)]
    pub freq: Option<Freq>,
    /// Posterior draws for the intervals (overrides fit.draws; 0 = no intervals, fastest).
    #[arg(long, value_name = "N", alias = "bootstrap")]
    pub draws: Option<usize>,
    /// Seed (overrides fit.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the report and the promotion decision as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Per-entity contributions, shares and ROAS with intervals, fitted adstock/saturation, fit
/// quality (R², holdout MAPE) and identifiability warnings of a budget model.
#[derive(Debug, Args)]
pub struct EvaluateBudgetArgs {
    /// Tenant [default: configured].
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// Model version (see `omnify models list`) [default: the champion].
    #[arg(long = "model-version", value_name = "V")]
    pub model_version: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Predict each future period's outcome under a spend plan, with intervals, carrying adstock
/// over from the most recent spend.
#[derive(Debug, Args)]
pub struct ForecastBudgetArgs {
    /// Tenant [default: configured].
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// Model version (see `omnify models list`) [default: the champion].
    #[arg(long = "model-version", value_name = "V")]
    pub model_version: Option<String>,
    /// Spend per period per entity: the `omnify optimize --json` output (its `recommended`
    /// spends) or {"entities":[{"id":"..","spend":..}]}. Entities left out stay at their
    /// current spend.
    #[arg(long, value_name = "plan.json")]
    pub plan: PathBuf,
    /// Periods to forecast.
    #[arg(long, value_name = "N")]
    pub periods: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn registry(cfg: &Config) -> Registry {
    Registry::open(cfg.models_dir.clone())
}

/// Loads a budget model version (default: the champion) and its card.
pub fn champion_model(
    cfg: &Config,
    tenant: &str,
    version: Option<&str>,
) -> Result<(ModelCard, BudgetModel), CliError> {
    service::load_model(&registry(cfg), tenant, version).map_err(service_err)
}

/// Exit code 2 for the caller's input, 1 for failures of the run.
pub fn service_err(e: ServiceError) -> CliError {
    match e {
        ServiceError::Invalid(_) | ServiceError::NotFound(_) => CliError::input(e),
        ServiceError::Failed(_) => CliError::runtime(e),
    }
}

fn load_datasets(
    cfg: &Config,
    args: &TrainBudgetArgs,
    job: &mut BudgetJobConfig,
    tenant: &str,
) -> Result<(Vec<series::Dataset>, String, String), CliError> {
    if let Some(input) = &args.input {
        let spec = WideSpec {
            date_col: args.date_col.clone().unwrap_or_default(),
            outcome_col: args.outcome_col.clone().unwrap_or_default(),
            spend_cols: args.spend_cols.clone(),
            control_cols: args.control_cols.clone(),
            event_cols: args.event_cols.clone(),
            period: args.freq.map(|f| match f {
                Freq::Day => PeriodKind::Day,
                Freq::Week => PeriodKind::Week,
            }),
        };
        let ds = series::read_wide(input, &spec).map_err(CliError::input)?;
        let name = input.file_name().map_or_else(
            || input.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        return Ok((vec![ds], name, spec.outcome_col));
    }
    if let Some(f) = args.freq {
        job.series.period = match f {
            Freq::Day => PeriodKind::Day,
            Freq::Week => PeriodKind::Week,
        };
    }
    let wh = Warehouse::open(cfg.warehouse_dir())?;
    let (sets, outcome) = service::warehouse_datasets(&wh, tenant, job).map_err(service_err)?;
    Ok((sets, "warehouse".into(), outcome))
}

fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

fn report_table(model: &BudgetModel, rows: &[EntityReport]) -> String {
    let lvl = format!("{:.0}%", 100.0 * model.interval);
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.entity.clone(),
                money(r.spend),
                format!("{:.1}", r.contribution),
                format!(
                    "{} [{}, {}]",
                    pct(r.contribution_share),
                    pct(r.contribution_share_lo),
                    pct(r.contribution_share_hi)
                ),
                format!("{:.4} [{:.4}, {:.4}]", r.roas, r.roas_lo, r.roas_hi),
                match (r.adstock, r.saturation) {
                    (Some(a), Some(s)) => format!("{}+{}", a.family(), s.family()),
                    _ => "none".into(),
                },
                format!("{:.2}", r.r2),
                r.holdout_mape.map_or("-".into(), pct),
            ]
        })
        .collect();
    let mut out = render(
        &[
            "entity",
            ">spend",
            ">contribution",
            &format!(">share [{lvl}]"),
            &format!(">roas [{lvl}]"),
            "transform",
            ">R²",
            ">holdout MAPE",
        ],
        &body,
    );
    let total = model.total_outcome();
    out.push_str(&format!(
        "\n{} per {}, source {}; total outcome {:.1}; contribution = outcome minus the outcome \
         with that entity's spend at zero; roas = contribution / spend.\n",
        model.outcome,
        model.period.as_str(),
        model.source,
        total
    ));
    for r in rows {
        for w in &r.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
    }
    out
}

#[derive(Serialize)]
struct TrainJson<'a> {
    version: &'a str,
    promoted: bool,
    reason: &'a str,
    holdout_wape: Option<f64>,
    entities: &'a [EntityReport],
}

/// Runs `omnify train budget`.
pub fn train(cfg: &Config, args: TrainBudgetArgs) -> Result<(), CliError> {
    let tenant = args.tenant.clone().unwrap_or_else(|| cfg.tenant.clone());
    let mut job = BudgetJobConfig::load(args.spec.as_deref(), Path::new("training/budget.toml"))
        .map_err(CliError::input)?;
    if let Some(b) = args.draws {
        job.fit.draws = b;
    }
    if let Some(s) = args.seed {
        job.fit.seed = s;
    }
    job.fit.validate().map_err(CliError::input)?;
    let (sets, source, outcome) = load_datasets(cfg, &args, &mut job, &tenant)?;
    let t0 = std::time::Instant::now();
    eprintln!(
        "fitting {} series ({} channels, {} periods each, {} posterior draws)...",
        sets.len(),
        sets.iter().map(|d| d.channels.len()).sum::<usize>(),
        sets.first().map_or(0, |d| d.dates.len()),
        job.fit.draws
    );
    let service::Trained { model, decision } =
        service::train_and_register(&registry(cfg), &tenant, &sets, &job, &source, &outcome)
            .map_err(service_err)?;
    eprintln!("fitted in {:.1}s", t0.elapsed().as_secs_f64());
    let rows = model.report();
    if args.json {
        let j = TrainJson {
            version: &decision.version,
            promoted: decision.promoted,
            reason: &decision.reason,
            holdout_wape: model.holdout_wape(),
            entities: &rows,
        };
        super::super::emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&j).map_err(CliError::runtime)?
        ));
    } else {
        let mut out = report_table(&model, &rows);
        out.push_str(&format!(
            "registered budget model {} for tenant {tenant}: {} ({})\n",
            decision.version,
            if decision.promoted {
                "promoted to champion"
            } else {
                "not promoted"
            },
            decision.reason
        ));
        super::super::emit(&out);
    }
    Ok(())
}

#[derive(Serialize)]
struct EvaluateJson<'a> {
    version: &'a str,
    source: &'a str,
    outcome: &'a str,
    period: &'a str,
    interval: f64,
    total_outcome: f64,
    holdout_wape: Option<f64>,
    entities: &'a [EntityReport],
}

/// Runs `omnify evaluate budget`.
pub fn evaluate(cfg: &Config, args: EvaluateBudgetArgs) -> Result<(), CliError> {
    let tenant = args.tenant.clone().unwrap_or_else(|| cfg.tenant.clone());
    let (card, model) = champion_model(cfg, &tenant, args.model_version.as_deref())?;
    let rows = model.report();
    if args.json {
        let j = EvaluateJson {
            version: &card.version,
            source: &model.source,
            outcome: &model.outcome,
            period: model.period.as_str(),
            interval: model.interval,
            total_outcome: model.total_outcome(),
            holdout_wape: model.holdout_wape(),
            entities: &rows,
        };
        super::super::emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&j).map_err(CliError::runtime)?
        ));
    } else {
        let mut out = format!("budget model {} of tenant {tenant}\n", card.version);
        out.push_str(&report_table(&model, &rows));
        super::super::emit(&out);
    }
    Ok(())
}

/// Reads a plan: `{"entities":[{"id","spend"}]}` or the optimize `--json` output
/// (`recommended`). The error names the file and the entity index.
fn read_plan(path: &Path) -> Result<BTreeMap<String, f64>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
    service::parse_plan(&v).map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}

/// Runs `omnify forecast budget`.
pub fn forecast(cfg: &Config, args: ForecastBudgetArgs) -> Result<(), CliError> {
    let tenant = args.tenant.clone().unwrap_or_else(|| cfg.tenant.clone());
    let plan = read_plan(&args.plan)?;
    let (card, model) = champion_model(cfg, &tenant, args.model_version.as_deref())?;
    let f = model
        .forecast(&plan, args.periods)
        .map_err(|e| CliError::input(format!("{}: {e}", args.plan.display())))?;
    for n in &f.notes {
        eprintln!("note: {n}");
    }
    if args.json {
        let view = service::ForecastView::new(&card.version, f);
        super::super::emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&view).map_err(CliError::runtime)?
        ));
        return Ok(());
    }
    let lvl = format!("{:.0}%", 100.0 * f.interval);
    let multi = model.models.len() > 1;
    let body: Vec<Vec<String>> = f
        .rows
        .iter()
        .filter(|r| !multi || r.series == "total")
        .map(|r| {
            vec![
                r.period.to_string(),
                money(r.spend),
                format!("{:.1}", r.outcome),
                format!("[{:.1}, {:.1}]", r.outcome_lo, r.outcome_hi),
                format!("{:.1}", r.media),
            ]
        })
        .collect();
    let mut out = format!(
        "budget model {} of tenant {tenant}: {} per {} under the plan{}\n",
        card.version,
        model.outcome,
        model.period.as_str(),
        if multi {
            " (all entities; --json has each)"
        } else {
            ""
        }
    );
    out.push_str(&render(
        &[
            "period",
            ">spend",
            ">outcome",
            &format!(">{lvl} interval"),
            ">from media",
        ],
        &body,
    ));
    super::super::emit(&out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::budget::synth::{SynthConfig, generate};
    use crate::cli::{Cli, run};
    use crate::registry::ModelKind;

    fn omnify(dir: &Path, args: &[&str]) -> Result<(), CliError> {
        let mut v = vec![
            "omnify".to_string(),
            "--models-dir".into(),
            dir.join("models").display().to_string(),
            "--warehouse".into(),
            dir.join("wh").display().to_string(),
        ];
        v.extend(args.iter().map(|s| s.to_string()));
        run(Cli::try_parse_from(v).map_err(CliError::input)?)
    }

    fn cfg(dir: &Path) -> Config {
        Config {
            models_dir: dir.join("models"),
            warehouse_dir: Some(dir.join("wh")),
            ..Config::default()
        }
    }

    /// A wide weekly table from the known-truth generator: week, sales, ch0, ch1.
    fn wide_csv(dir: &Path) -> PathBuf {
        let (ds, _) = generate(&SynthConfig {
            channels: 2,
            periods: 60,
            noise: 0.02,
            ..SynthConfig::default()
        });
        let mut s = "week,sales,ch0,ch1\n".to_string();
        for t in 0..ds.dates.len() {
            s.push_str(&format!(
                "{},{},{},{}\n",
                ds.dates[t], ds.outcome[t], ds.spend[0][t], ds.spend[1][t]
            ));
        }
        let p = dir.join("mmm.csv");
        std::fs::write(&p, s).unwrap();
        p
    }

    #[test]
    fn wide_table_train_evaluate_forecast_optimize() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let csv = wide_csv(d);
        let csv_s = csv.display().to_string();
        let train = [
            "train",
            "budget",
            "--tenant",
            "acme",
            "--input",
            &csv_s,
            "--date-col",
            "week",
            "--outcome-col",
            "sales",
            "--spend-cols",
            "ch0,ch1",
            "--draws",
            "10",
        ];
        omnify(d, &train).unwrap();
        let (card, model) = champion_model(&cfg(d), "acme", None).unwrap();
        assert_eq!(card.features, ["ch0", "ch1"]);
        assert_eq!(card.selection_metric, "holdout_wape");
        assert_eq!(model.period, PeriodKind::Week);
        assert_eq!(model.models[0].replicates.len(), 10);
        let rep = model.report();
        assert_eq!(rep.len(), 2);
        assert!(
            rep.iter()
                .all(|r| r.contribution_share > 0.0 && r.contribution_share < 1.0)
        );
        // The same data and seed again: same holdout error, so not promoted.
        omnify(d, &train).unwrap();
        let reg = Registry::open(d.join("models"));
        assert_eq!(reg.list("acme", ModelKind::Budget).unwrap().len(), 2);
        assert_eq!(
            reg.champion("acme", ModelKind::Budget).unwrap().as_deref(),
            Some(card.version.as_str())
        );
        omnify(d, &["evaluate", "budget", "--tenant", "acme", "--json"]).unwrap();
        let plan = d.join("plan.json");
        std::fs::write(&plan, r#"{"entities":[{"id":"ch0","spend":500}]}"#).unwrap();
        let plan_s = plan.display().to_string();
        omnify(
            d,
            &[
                "forecast",
                "budget",
                "--tenant",
                "acme",
                "--plan",
                &plan_s,
                "--periods",
                "4",
            ],
        )
        .unwrap();
        // The optimize JSON (field `recommended`) is also a plan.
        let curves = model.curves();
        let budget: f64 = curves.iter().map(|c| c.current_spend).sum();
        let out = d.join("plan.csv");
        omnify(
            d,
            &[
                "optimize",
                "--tenant",
                "acme",
                "--budget",
                &budget.to_string(),
                "--out",
                &out.display().to_string(),
            ],
        )
        .unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let total: f64 = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(2).unwrap().parse::<f64>().unwrap())
            .sum();
        assert!((total - budget).abs() < 1e-6 * budget, "{text}");
        // Flighting over 3 weeks spends the total exactly.
        omnify(
            d,
            &[
                "optimize",
                "--tenant",
                "acme",
                "--budget",
                "3000",
                "--periods",
                "3",
                "--json",
            ],
        )
        .unwrap();
        let f = crate::budget::flight::flight(&model, 3000.0, 3, 300).unwrap();
        let spent: f64 = f.entities.iter().flat_map(|e| &e.spend).sum();
        assert!((spent - 3000.0).abs() < 1e-6, "{spent}");
        std::fs::write(
            &plan,
            r#"{"total_budget":1,"entities":[{"id":"ch0","recommended":10},{"id":"ch1","recommended":20}]}"#,
        )
        .unwrap();
        assert_eq!(read_plan(&plan).unwrap()["ch1"], 20.0);
    }

    #[test]
    fn errors_are_one_line_and_name_the_place() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let csv = wide_csv(d).display().to_string();
        let e = omnify(
            d,
            &[
                "train",
                "budget",
                "--input",
                &csv,
                "--date-col",
                "week",
                "--outcome-col",
                "sales",
                "--spend-cols",
                "ch0,radio",
            ],
        )
        .unwrap_err();
        assert_eq!(e.code, 2);
        assert!(e.message.contains("missing column `radio`") && !e.message.contains('\n'));
        let e = omnify(d, &["evaluate", "budget", "--tenant", "nobody"]).unwrap_err();
        assert_eq!(e.code, 2);
        assert!(
            e.message.contains("no champion budget model"),
            "{}",
            e.message
        );
        let plan = d.join("plan.json");
        std::fs::write(&plan, r#"{"entities":[{"id":"a"},{"id":"b","spend":1}]}"#).unwrap();
        let e = read_plan(&plan).unwrap_err();
        assert!(e.message.contains("entities[0].spend"), "{}", e.message);
    }

    #[test]
    fn warehouse_series_train_per_entity() {
        use crate::platforms::Platform;
        use crate::schema::{AdDailyRow, rows_to_frame};
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // One Meta campaign, 60 days: spend alternates between budget levels; conversions
        // = 2 + 10·s/(s + 100) rounded to cents (no carry-over).
        let d0 = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let rows: Vec<AdDailyRow> = (0..60)
            .map(|i| {
                let s = [50.0, 200.0, 120.0, 20.0, 300.0][i % 5] * (1.0 + 0.01 * (i % 7) as f64);
                let mut r = AdDailyRow::new(
                    Platform::Meta,
                    "a1".into(),
                    "ad1".into(),
                    d0 + chrono::Duration::days(i as i64),
                );
                r.campaign_id = Some("c1".into());
                r.spend = Some(s);
                r.currency = Some("USD".into());
                r.conversions = Some(((2.0 + 10.0 * s / (s + 100.0)) * 100.0).round() / 100.0);
                r
            })
            .collect();
        let wh = Warehouse::open(d.join("wh")).unwrap();
        let df = crate::warehouse::validate_frame(
            rows_to_frame("acme", &rows).unwrap(),
            Some("acme"),
            &Default::default(),
        )
        .unwrap();
        wh.ingest(df).unwrap();
        omnify(d, &["train", "budget", "--tenant", "acme", "--draws", "5"]).unwrap();
        let (_, model) = champion_model(&cfg(d), "acme", None).unwrap();
        let rep = model.report();
        assert_eq!(rep.len(), 1);
        assert_eq!(rep[0].entity, "meta/c1");
        // Media = Σ 10·s/(s+100) over the 60 days; the fit should find nearly all of it.
        let truth: f64 = rows
            .iter()
            .map(|r| {
                let s = r.spend.unwrap();
                10.0 * s / (s + 100.0)
            })
            .sum();
        assert!(
            (rep[0].contribution / truth - 1.0).abs() < 0.1,
            "{} vs {truth}",
            rep[0].contribution
        );
    }
}
