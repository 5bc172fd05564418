//! `omnify train fatigue`, `omnify evaluate fatigue`, `omnify score fatigue`: thin wrappers
//! over [`crate::fatigue`] (load the warehouse, call the job, format the result). The job
//! specification is `--spec FILE` (default `training/fatigue.toml`; the global `--config` is
//! the omnify configuration file).

use std::path::{Path, PathBuf};

use clap::Args;
use polars::prelude::*;

use super::{CliError, emit, table};
use crate::config::Config;
use crate::fatigue::validation::Method;
use crate::fatigue::{
    self, EvaluationReport, FatigueError, FittedModel, JobConfig, impressions_clicks_only,
};
use crate::registry::{ModelKind, Registry};
use crate::warehouse::Warehouse;

#[derive(Debug, Args)]
pub struct SpecArg {
    /// Fatigue job specification (TOML) [default: training/fatigue.toml if present, else the
    /// built-in defaults].
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TrainFatigueArgs {
    #[command(flatten)]
    pub spec: SpecArg,
    /// Tenant whose data trains the model and whose registry receives it [default: from config].
    #[arg(long, value_name = "T", conflicts_with = "all_tenants")]
    pub tenant: Option<String>,
    /// Train one model per tenant in the warehouse.
    #[arg(long)]
    pub all_tenants: bool,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvaluateFatigueArgs {
    #[command(flatten)]
    pub spec: SpecArg,
    /// Only this tenant's data [default: every tenant, pooled].
    #[arg(long, value_name = "T", conflicts_with = "all_tenants")]
    pub tenant: Option<String>,
    /// One evaluation per tenant.
    #[arg(long)]
    pub all_tenants: bool,
    /// Drop spend, conversions and conversion value first (a source with only impressions and
    /// clicks; labels fall back to inverse CTR).
    #[arg(long)]
    pub impressions_clicks_only: bool,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScoreFatigueArgs {
    #[command(flatten)]
    pub spec: SpecArg,
    /// Tenant [default: from config].
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// Score with history up to and including this day (YYYY-MM-DD) [default: the tenant's
    /// latest data day, served from its materialised feature snapshot when current].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Write the scores to a .parquet or .csv file instead of printing a table.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

fn fatigue_err(e: FatigueError) -> CliError {
    match e {
        FatigueError::Config(_) | FatigueError::Data(_) => CliError::input(e),
        FatigueError::Registry(ref r) => match r {
            crate::registry::RegistryError::Io { .. } => CliError::runtime(e),
            _ => CliError::input(e),
        },
        _ => CliError::runtime(e),
    }
}

pub(super) fn load_spec(spec: &SpecArg) -> Result<JobConfig, CliError> {
    match &spec.spec {
        Some(p) => JobConfig::load(p).map_err(CliError::input),
        None => crate::bootstrap::fatigue_job().map_err(CliError::input),
    }
}

fn tenants(wh: &Warehouse) -> Result<Vec<String>, CliError> {
    crate::bootstrap::tenants(wh).map_err(CliError::runtime)
}

fn frame(wh: &Warehouse, tenant: Option<&str>) -> Result<LazyFrame, CliError> {
    let df = wh.load(tenant)?;
    if df.height() == 0 {
        return Err(no_rows(wh, tenant));
    }
    Ok(df.lazy())
}

fn no_rows(wh: &Warehouse, tenant: Option<&str>) -> CliError {
    CliError::input(format!(
        "no ad_daily rows{} in the warehouse {}; run omnify ingest first",
        tenant
            .map(|t| format!(" for tenant `{t}`"))
            .unwrap_or_default(),
        wh.root().display()
    ))
}

fn bar() -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new(1);
    b.set_style(
        indicatif::ProgressStyle::with_template("{msg:32} {bar:30} {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b
}

fn interval(v: Option<&[f64; 2]>) -> String {
    v.map(|[lo, hi]| format!("{}–{}", table::decimal(*lo, 3), table::decimal(*hi, 3)))
        .unwrap_or_else(|| "-".into())
}

fn opt(v: Option<f64>, places: usize) -> String {
    v.map(|x| table::decimal(x, places))
        .unwrap_or_else(|| "-".into())
}

/// The evaluation as a text table with the split and label-rule counts.
pub fn render_evaluation(title: &str, r: &EvaluationReport) -> String {
    let v = r.validation_done();
    let mut out = format!("{title}\nvalidation: {} — {}\n", v.summary(), v.reason);
    out.push_str(&match v.method {
        Method::Holdout => format!(
            "train {} … {} ({} rows, {} events) · validation {} … {} ({} rows) · test {} … {} ({} rows, {} events) · {} features\n",
            r.train.from,
            r.train.to,
            r.train.rows,
            r.train.events,
            r.validation.from,
            r.validation.to,
            r.validation.rows,
            r.test.from,
            r.test.to,
            r.test.rows,
            r.test.events,
            r.features
        ),
        Method::RollingOrigin => format!(
            "out-of-fold rows {} … {} ({} rows, {} events) · served model refitted on {} … {} ({} rows, {} events; {} rows of held-out creatives calibrate it) · {} features\n",
            r.test.from,
            r.test.to,
            r.test.rows,
            r.test.events,
            r.train.from,
            r.train.to,
            r.train.rows,
            r.train.events,
            r.validation.rows,
            r.features
        ),
        Method::None => format!(
            "labelled rows {} … {} ({} rows, {} events): too few onsets to score models out of sample · {} features\n",
            r.train.from,
            r.train.to,
            r.train.rows + r.validation.rows,
            r.train.events + r.validation.events,
            r.features
        ),
    });
    let c = &r.rule_counts;
    out.push_str(&format!(
        "labels: {} creatives · {} events · {} censored (stopped) · {} censored (end of data) · {} insufficient · metric cpa/cpc/inv_ctr {}/{}/{} · {} left-truncated · onsets changed by seasonal adjustment {} (removed {}, added {}, moved {})\n\n",
        c.creatives,
        c.events,
        c.censored_stopped,
        c.censored_end_of_data,
        c.insufficient_data,
        c.metric_cpa,
        c.metric_cpc,
        c.metric_inv_ctr,
        c.left_truncated,
        c.onset_changed_by_adjustment,
        c.onset_removed_by_adjustment,
        c.onset_added_by_adjustment,
        c.onset_moved_by_adjustment
    ));
    let rows: Vec<Vec<String>> = r
        .models
        .iter()
        .map(|m| {
            let x = &m.metrics;
            vec![
                m.model.clone(),
                if m.learned {
                    "model"
                } else if fatigue::pipeline::is_prior(&m.model) {
                    "prior"
                } else {
                    "baseline"
                }
                .into(),
                opt(x.auc_7, 3),
                opt(x.auc_14, 3),
                interval(m.intervals.get("auc_14")),
                opt(x.c_index, 3),
                opt(x.ibs, 4),
                opt(x.ece, 4),
                opt(x.onset_mae, 2),
                opt(x.precision_at_recall_50, 3),
                opt(x.median_lead_days, 1),
            ]
        })
        .collect();
    out.push_str(&table::render(
        &[
            "model",
            "kind",
            ">auc@7",
            ">auc@14",
            ">auc@14 90%",
            ">c-index",
            ">ibs",
            ">ece",
            ">onset_mae_d",
            ">prec@rec.5",
            ">lead_d",
        ],
        &rows,
    ));
    out
}

fn progress_fn(b: &indicatif::ProgressBar) -> impl FnMut(usize, usize, &str) + '_ {
    move |done, total, what| {
        b.set_length(total as u64);
        b.set_position(done as u64);
        b.set_message(what.to_string());
    }
}

pub fn evaluate(cfg: &Config, args: EvaluateFatigueArgs) -> Result<(), CliError> {
    let job = load_spec(&args.spec)?;
    let wh = Warehouse::open(cfg.warehouse_dir())?;
    let scopes: Vec<Option<String>> = if args.all_tenants {
        tenants(&wh)?.into_iter().map(Some).collect()
    } else {
        vec![args.tenant.clone()]
    };
    let mut reports = Vec::new();
    let mut refused = Vec::new();
    let mut text = String::new();
    let total = scopes.len();
    for scope in scopes {
        let mut lf = frame(&wh, scope.as_deref())?;
        if args.impressions_clicks_only {
            lf = impressions_clicks_only(lf);
        }
        let b = bar();
        let mut p = progress_fn(&b);
        let ev = match fatigue::evaluate(lf, &job, &mut p) {
            Ok(ev) => ev,
            // As in `train --all-tenants`: one tenant's short data does not stop the others.
            Err(FatigueError::Data(e)) if args.all_tenants => {
                b.finish_and_clear();
                let t = scope.clone().unwrap_or_default();
                eprintln!("tenant {t} not evaluated: {e}");
                refused.push(format!("{t} ({e})"));
                continue;
            }
            Err(e) => return Err(fatigue_err(e)),
        };
        b.finish_and_clear();
        let title = format!(
            "fatigue evaluation · {}{}",
            scope
                .as_deref()
                .map(|t| format!("tenant {t}"))
                .unwrap_or_else(|| "all tenants".into()),
            if args.impressions_clicks_only {
                " · impressions and clicks only"
            } else {
                ""
            }
        );
        text.push_str(&render_evaluation(&title, &ev.report));
        text.push('\n');
        reports.push(serde_json::json!({"tenant": scope, "impressions_clicks_only": args.impressions_clicks_only, "report": ev.report}));
    }
    if args.json {
        emit(&(serde_json::to_string_pretty(&reports).map_err(CliError::runtime)? + "\n"));
    } else {
        emit(&text);
    }
    if !refused.is_empty() {
        return Err(CliError::input(format!(
            "{} of {total} tenants not evaluated: {}",
            refused.len(),
            refused.join("; ")
        )));
    }
    Ok(())
}

pub fn train(cfg: &Config, args: TrainFatigueArgs) -> Result<(), CliError> {
    let job = load_spec(&args.spec)?;
    let wh = Warehouse::open(cfg.warehouse_dir())?;
    let reg = Registry::open(&cfg.models_dir);
    let list = if args.all_tenants {
        tenants(&wh)?
    } else {
        vec![args.tenant.clone().unwrap_or_else(|| cfg.tenant.clone())]
    };
    let mut outcomes = Vec::new();
    let mut refused = Vec::new();
    let mut text = String::new();
    let total = list.len();
    for tenant in list {
        let lf = frame(&wh, Some(&tenant))?;
        let b = bar();
        let mut p = progress_fn(&b);
        let o = match fatigue::train(lf, &tenant, &job, &reg, &mut p) {
            Ok(o) => o,
            // With --all-tenants, a tenant whose data cannot train a model (too short, no
            // baseline) does not stop the others; it is reported and the exit code says so.
            Err(FatigueError::Data(e)) if args.all_tenants => {
                b.finish_and_clear();
                eprintln!("tenant {tenant} not trained: {e}");
                refused.push(format!("{tenant} ({e})"));
                continue;
            }
            Err(e) => return Err(fatigue_err(e)),
        };
        b.finish_and_clear();
        text.push_str(&render_evaluation(
            &format!("fatigue training · tenant {tenant}"),
            &o.evaluation,
        ));
        text.push_str(&format!(
            "\nserving {}: {} ({} {}{})\nregistered {} — {}: {}\n\n",
            o.model,
            o.chosen_because,
            o.selection_metric,
            opt(o.score, 4),
            o.score_interval
                .map(|iv| format!(", 90% {}", interval(Some(&iv))))
                .unwrap_or_default(),
            o.decision.version,
            if o.decision.promoted {
                "promoted to champion"
            } else {
                "not promoted"
            },
            o.decision.reason
        ));
        outcomes.push(o);
    }
    if args.json {
        emit(&(serde_json::to_string_pretty(&outcomes).map_err(CliError::runtime)? + "\n"));
    } else {
        emit(&text);
    }
    if !refused.is_empty() {
        return Err(CliError::input(format!(
            "{} of {total} tenants not trained: {}",
            refused.len(),
            refused.join("; ")
        )));
    }
    Ok(())
}

pub fn score(cfg: &Config, args: ScoreFatigueArgs) -> Result<(), CliError> {
    let job = load_spec(&args.spec)?;
    let tenant = args.tenant.clone().unwrap_or_else(|| cfg.tenant.clone());
    let reg = Registry::open(&cfg.models_dir);
    let (model, version) = match reg.load_champion(&tenant, ModelKind::Fatigue) {
        Ok(loaded) => (
            FittedModel::from_files(&loaded.files).map_err(fatigue_err)?,
            loaded.card.version,
        ),
        Err(crate::registry::RegistryError::NoChampion { .. }) => {
            let Some(p) = fatigue::prior::embedded() else {
                return Err(fatigue_err(
                    crate::registry::RegistryError::NoChampion {
                        tenant: tenant.clone(),
                        kind: "fatigue",
                    }
                    .into(),
                ));
            };
            eprintln!(
                "tenant `{tenant}` has no fatigue model of its own yet: scored by the cold-start prior {} (train one with omnify train fatigue --tenant {tenant}; it needs at least {} days of history)",
                p.card.version, job.evaluation.min_history_days
            );
            (p.model.clone(), p.card.version.clone())
        }
        Err(e) => return Err(fatigue_err(e.into())),
    };
    let wh = Warehouse::open(cfg.warehouse_dir())?;
    // At the latest day the features come from (or go to) the tenant's snapshot.
    let Some(rows) =
        fatigue::snapshot::score_tenant(&wh, &tenant, args.as_of, &model, &version, &job)
            .map_err(fatigue_err)?
    else {
        return Err(no_rows(&wh, Some(&tenant)));
    };
    if let Some(out) = &args.out {
        let mut df = fatigue::scores_frame(&rows).map_err(CliError::runtime)?;
        write_frame(&mut df, out)?;
        emit(&format!(
            "wrote {} scores to {}\n",
            rows.len(),
            out.display()
        ));
    } else if args.json {
        emit(&(serde_json::to_string_pretty(&rows).map_err(CliError::runtime)? + "\n"));
    } else {
        let t: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.platform.clone(),
                    r.account_id.clone(),
                    r.ad_id.clone(),
                    r.status.clone(),
                    opt(r.p_onset_7d, 3),
                    opt(r.p_onset_14d, 3),
                    opt(r.expected_days_to_onset, 1),
                    r.action.clone(),
                    r.drivers.clone(),
                ]
            })
            .collect();
        emit(&table::render(
            &[
                "platform",
                "account",
                "ad",
                "status",
                ">p7",
                ">p14",
                ">exp_days",
                "action",
                "drivers",
            ],
            &t,
        ));
    }
    Ok(())
}

fn write_frame(df: &mut DataFrame, out: &Path) -> Result<(), CliError> {
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("");
    let tmp = out.with_extension(format!("{ext}.tmp"));
    let file = std::fs::File::create(&tmp)
        .map_err(|e| CliError::runtime(format!("cannot write {}: {e}", tmp.display())))?;
    let res = match ext {
        "parquet" => ParquetWriter::new(file).finish(df).map(|_| ()),
        "csv" => CsvWriter::new(file).finish(df),
        other => {
            let _ = std::fs::remove_file(&tmp);
            return Err(CliError::input(format!(
                "--out {}: unknown extension `{other}` (use .parquet or .csv)",
                out.display()
            )));
        }
    };
    res.map_err(|e| CliError::runtime(format!("cannot write {}: {e}", out.display())))?;
    std::fs::rename(&tmp, out)
        .map_err(|e| CliError::runtime(format!("cannot write {}: {e}", out.display())))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, run};
    use crate::registry::{ModelKind, Registry};
    use crate::warehouse::Warehouse;

    const SPEC: &str = "[evaluation]\nstride_days = 2\ntest_days = 40\nvalidation_days = 25\nmin_onsets = 1\n\
        [models]\nseed = 3\n[models.forest]\ntrees = 4\n[models.mlp]\nmax_epochs = 10\n";

    fn cli(dir: &std::path::Path, args: &[&str]) -> Result<(), crate::cli::CliError> {
        let wh = dir.join("wh");
        let models = dir.join("models");
        let spec = dir.join("fatigue.toml");
        let mut argv = vec!["omnify".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        argv.extend([
            "--warehouse".into(),
            wh.display().to_string(),
            "--models-dir".into(),
            models.display().to_string(),
        ]);
        if args.len() >= 2 {
            argv.extend(["--spec".into(), spec.display().to_string()]);
        }
        run(Cli::try_parse_from(argv).map_err(crate::cli::CliError::input)?)
    }

    /// train → registry version promoted; evaluate --json; score --out csv with one row per
    /// active creative and the documented columns; a bad spec is an input error (exit 2).
    #[test]
    fn train_evaluate_score_in_a_temp_dir() {
        // Polars plans recurse deeply in debug builds: run on a thread with a roomy stack so a
        // deep plan fails this test instead of aborting the test binary.
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(train_evaluate_score)
            .unwrap()
            .join()
            .unwrap();
    }

    fn train_evaluate_score() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fatigue.toml"), SPEC).unwrap();
        let frame = crate::fatigue::tests::sim_frame_with(5, 1, 160, 200)
            .collect()
            .unwrap();
        let tenant = frame
            .column("tenant")
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .unwrap()
            .to_string();
        Warehouse::open(dir.path().join("wh"))
            .unwrap()
            .ingest(frame)
            .unwrap();

        cli(dir.path(), &["train", "fatigue", "--tenant", &tenant]).unwrap();
        let reg = Registry::open(dir.path().join("models"));
        let champion = reg.load_champion(&tenant, ModelKind::Fatigue).unwrap();
        assert!(champion.card.metrics.contains_key("auc_14"));
        assert_eq!(champion.card.seed, 3);
        assert!(champion.files.contains_key("model.json"));

        cli(dir.path(), &["evaluate", "fatigue", "--json"]).unwrap();

        let out = dir.path().join("scores.csv");
        let out_s = out.display().to_string();
        cli(
            dir.path(),
            &[
                "score",
                "fatigue",
                "--tenant",
                &tenant,
                "--as-of",
                "2026-07-10",
                "--out",
                &out_s,
            ],
        )
        .unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "tenant,platform,account_id,ad_id,as_of,status,p_onset_7d,p_onset_14d,p_onset_7_14d,\
             expected_days_to_onset,drivers,action,model_version"
        );
        let rows: Vec<&str> = lines.collect();
        assert!(rows.len() >= 5, "{} scored creatives", rows.len());
        assert!(rows.iter().all(|r| r.contains("2026-07-10")));
        assert!(rows.iter().all(|r| r.ends_with(&champion.card.version)));

        // Without --as-of: the tenant's latest day; the first run writes its feature snapshot
        // next to the warehouse, the next ones read it and print the same scores.
        let stamp = Warehouse::open(dir.path().join("wh"))
            .unwrap()
            .derived_dir(&tenant)
            .join(crate::fatigue::snapshot::STAMP_FILE);
        assert!(!stamp.exists());
        let latest = |args: &[&str]| {
            let mut all = vec!["score", "fatigue", "--tenant", &tenant, "--out", &out_s];
            all.extend_from_slice(args);
            cli(dir.path(), &all).unwrap();
            std::fs::read_to_string(&out).unwrap()
        };
        let first = latest(&[]);
        assert!(stamp.exists());
        let day = first
            .lines()
            .nth(1)
            .unwrap()
            .split(',')
            .nth(4)
            .unwrap()
            .to_string();
        assert!(day.as_str() > "2026-07-10", "{day}");
        assert_eq!(latest(&[]), first);
        assert_eq!(latest(&["--as-of", &day]), first);

        std::fs::write(
            dir.path().join("fatigue.toml"),
            "[evaluation]\nhorizon_days = 3\n",
        )
        .unwrap();
        let err = cli(dir.path(), &["evaluate", "fatigue"]).unwrap_err();
        assert_eq!(err.code, 2);
        assert!(err.message.contains("horizon_days"), "{}", err.message);
    }
}
