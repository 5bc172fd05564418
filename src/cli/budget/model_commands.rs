//! `omnify train budget`, `omnify evaluate budget`, `omnify forecast budget`: thin wrappers
//! that read the series (warehouse or wide table), call [`crate::budget::fit`], store the model
//! as a registry version (`models/<tenant>/budget/<version>/model.json` + `card.json`) and
//! format reports and forecasts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::super::CliError;
use super::super::table::{money, render};
use crate::budget::fit::{self, BudgetModel, EntityReport};
use crate::budget::job::BudgetJobConfig;
use crate::budget::series::{self, OutcomeKind, PeriodKind, WideSpec};
use crate::config::Config;
use crate::registry::{ModelCard, ModelKind, Registry};
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
    /// Bootstrap replicates (overrides fit.bootstrap; 0 = no intervals, fastest).
    #[arg(long, value_name = "N")]
    pub bootstrap: Option<usize>,
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
    /// Model version [default: the champion].
    #[arg(long)]
    pub version: Option<String>,
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
    /// Model version [default: the champion].
    #[arg(long)]
    pub version: Option<String>,
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
    let reg = registry(cfg);
    let loaded = match version {
        Some(v) => reg.load(tenant, ModelKind::Budget, v),
        None => reg.load_champion(tenant, ModelKind::Budget),
    }
    .map_err(CliError::input)?;
    let bytes = loaded.files.get("model.json").ok_or_else(|| {
        CliError::runtime(format!(
            "budget model {} has no model.json",
            loaded.card.version
        ))
    })?;
    let model: BudgetModel = serde_json::from_slice(bytes).map_err(|e| {
        CliError::runtime(format!(
            "budget model {}: model.json: {e}",
            loaded.card.version
        ))
    })?;
    Ok((loaded.card, model))
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
        let name = input
            .file_name()
            .map_or_else(|| input.display().to_string(), |n| n.to_string_lossy().into_owned());
        return Ok((vec![ds], name, spec.outcome_col));
    }
    if let Some(f) = args.freq {
        job.series.period = match f {
            Freq::Day => PeriodKind::Day,
            Freq::Week => PeriodKind::Week,
        };
    }
    let wh = Warehouse::open(cfg.warehouse_dir())?;
    let scfg = job.series.clone();
    let df = wh.query(Some(tenant), |lf| {
        series::entity_period(lf, &scfg).collect()
    })?;
    let sets = series::datasets_from_frame(&df, &scfg).map_err(|e| {
        CliError::input(format!("tenant {tenant}: {e}"))
    })?;
    let outcome = match scfg.outcome {
        OutcomeKind::Conversions => "conversions",
        OutcomeKind::ConversionValue => "conversion_value",
    };
    Ok((sets, "warehouse".into(), outcome.into()))
}

fn card_for(tenant: &str, model: &BudgetModel, job: &BudgetJobConfig) -> ModelCard {
    let features: Vec<String> = model
        .models
        .iter()
        .flat_map(|m| m.channels.iter().map(|c| c.name.clone()))
        .collect();
    let mut h = Sha256::new();
    h.update(model.source.as_bytes());
    h.update(model.outcome.as_bytes());
    h.update(model.period.as_str().as_bytes());
    for f in &features {
        h.update(f.as_bytes());
        h.update([0]);
    }
    let mut metrics = BTreeMap::new();
    if let Some(w) = model.holdout_wape() {
        metrics.insert("holdout_wape".to_string(), w);
    }
    let r2: Vec<f64> = model.models.iter().map(|m| m.r2).collect();
    if !r2.is_empty() {
        metrics.insert("mean_r2".into(), r2.iter().sum::<f64>() / r2.len() as f64);
    }
    metrics.insert("entities".into(), features.len() as f64);
    let mut families: Vec<String> = model
        .models
        .iter()
        .flat_map(|m| &m.channels)
        .filter_map(|c| c.spec.map(|s| format!("{}_{}", s.saturation.family(), s.adstock.family())))
        .collect();
    families.sort();
    families.dedup();
    let (from, to) = model.range().unzip();
    ModelCard {
        kind: ModelKind::Budget,
        version: String::new(),
        tenant: tenant.to_string(),
        created: String::new(),
        model: if families.is_empty() {
            "response_curves".into()
        } else {
            format!("response_curves({})", families.join(","))
        },
        data_from: from,
        data_to: to,
        rows: model.models.iter().map(|m| m.baseline.n as u64).sum(),
        features,
        schema_hash: hex::encode(h.finalize()),
        hyperparameters: serde_json::to_value(job).unwrap_or_default(),
        seed: model.seed,
        metrics,
        selection_metric: "holdout_wape".into(),
        higher_is_better: false,
        crate_version: String::new(),
        files: BTreeMap::new(),
    }
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
    if let Some(b) = args.bootstrap {
        job.fit.bootstrap = b;
    }
    if let Some(s) = args.seed {
        job.fit.seed = s;
    }
    job.fit.validate().map_err(CliError::input)?;
    let (sets, source, outcome) = load_datasets(cfg, &args, &mut job, &tenant)?;
    let t0 = std::time::Instant::now();
    eprintln!(
        "fitting {} series ({} channels, {} periods each, {} bootstrap replicates)...",
        sets.len(),
        sets.iter().map(|d| d.channels.len()).sum::<usize>(),
        sets.first().map_or(0, |d| d.dates.len()),
        job.fit.bootstrap
    );
    let model = fit::train(&sets, &job.fit, &source, &outcome).map_err(CliError::input)?;
    eprintln!("fitted in {:.1}s", t0.elapsed().as_secs_f64());
    let bytes = serde_json::to_vec(&model).map_err(CliError::runtime)?;
    let decision = registry(cfg)
        .register_and_maybe_promote(card_for(&tenant, &model, &job), &[("model.json", bytes)])
        .map_err(CliError::runtime)?;
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
    let (card, model) = champion_model(cfg, &tenant, args.version.as_deref())?;
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
    let bad = |m: String| CliError::input(format!("{}: {m}", path.display()));
    let list = v
        .get("entities")
        .and_then(|e| e.as_array())
        .ok_or_else(|| bad("expected {\"entities\": [...]}".into()))?;
    let mut plan = BTreeMap::new();
    for (i, e) in list.iter().enumerate() {
        let id = e
            .get("id")
            .and_then(|x| x.as_str())
            .ok_or_else(|| bad(format!("entities[{i}].id: missing or not a string")))?;
        let spend = e
            .get("spend")
            .or_else(|| e.get("recommended"))
            .and_then(|x| x.as_f64())
            .ok_or_else(|| bad(format!("entities[{i}].spend: missing or not a number")))?;
        if plan.insert(id.to_string(), spend).is_some() {
            return Err(bad(format!("entities[{i}].id: `{id}` appears twice")));
        }
    }
    Ok(plan)
}

/// Runs `omnify forecast budget`.
pub fn forecast(cfg: &Config, args: ForecastBudgetArgs) -> Result<(), CliError> {
    let tenant = args.tenant.clone().unwrap_or_else(|| cfg.tenant.clone());
    let plan = read_plan(&args.plan)?;
    let (card, model) = champion_model(cfg, &tenant, args.version.as_deref())?;
    let f = model
        .forecast(&plan, args.periods)
        .map_err(|e| CliError::input(format!("{}: {e}", args.plan.display())))?;
    for n in &f.notes {
        eprintln!("note: {n}");
    }
    if args.json {
        super::super::emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&f).map_err(CliError::runtime)?
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
        if multi { " (all entities; --json has each)" } else { "" }
    );
    out.push_str(&render(
        &["period", ">spend", ">outcome", &format!(">{lvl} interval"), ">from media"],
        &body,
    ));
    super::super::emit(&out);
    Ok(())
}
