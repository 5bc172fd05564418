//! `omnify train fatigue-prior` (rebuild the shipped cold-start prior) and `omnify evaluate
//! fatigue-regimes` (the real-data figures on fresh simulated worlds): thin wrappers over
//! [`crate::fatigue::prior`] and [`crate::fatigue::regime_eval`].

use std::path::PathBuf;

use clap::Args;

use super::fatigue::{SpecArg, load_spec};
use super::{CliError, emit, table};
use crate::fatigue::prior::{PRIOR_DIR, PriorSpec, build};
use crate::fatigue::regime_eval::{TenantResult, mean, pooled_ece, run};
use crate::simulate::regimes::Regime;

#[derive(Debug, Args)]
pub struct TrainPriorArgs {
    #[command(flatten)]
    pub spec: SpecArg,
    /// Folder the prior's files are written to (each atomically).
    #[arg(long, value_name = "DIR", default_value = PRIOR_DIR)]
    pub out: PathBuf,
    /// Seeds of the simulated worlds, one world per regime and seed.
    #[arg(long, value_delimiter = ',', default_values_t = PriorSpec::default().seeds)]
    pub seeds: Vec<u64>,
    /// Tenants per world.
    #[arg(long, default_value_t = 3)]
    pub tenants: usize,
}

#[derive(Debug, Args)]
pub struct EvaluateRegimesArgs {
    #[command(flatten)]
    pub spec: SpecArg,
    /// Regimes to simulate: search, display, short_mixed, sparse [default: all].
    #[arg(long, value_delimiter = ',')]
    pub regimes: Vec<String>,
    /// Seeds of the fresh worlds (the prior is built from 9001–9008; keep these apart).
    #[arg(long, value_delimiter = ',', default_values_t = vec![2041u64, 2042])]
    pub seeds: Vec<u64>,
    /// Tenants per world.
    #[arg(long, default_value_t = 3)]
    pub tenants: usize,
    /// Print every tenant's row as JSON instead of the summary table.
    #[arg(long)]
    pub json: bool,
}

fn regimes(names: &[String]) -> Result<Vec<Regime>, CliError> {
    if names.is_empty() {
        return Ok(Regime::ALL.to_vec());
    }
    names
        .iter()
        .map(|n| Regime::parse(n).map_err(CliError::input))
        .collect()
}

fn check_sizes(seeds: &[u64], tenants: usize) -> Result<(), CliError> {
    if seeds.is_empty() || seeds.len() > 100 {
        return Err(CliError::input("--seeds: give 1 to 100 seeds"));
    }
    if !(1..=50).contains(&tenants) {
        return Err(CliError::input("--tenants must be in 1..=50"));
    }
    Ok(())
}

pub fn train_prior(args: TrainPriorArgs) -> Result<(), CliError> {
    let job = load_spec(&args.spec)?;
    check_sizes(&args.seeds, args.tenants)?;
    let spec = PriorSpec {
        regimes: Regime::ALL.to_vec(),
        seeds: args.seeds.clone(),
        tenants: args.tenants,
    };
    let card = build(&spec, &job, &args.out, &mut |_, _, what| {
        eprintln!("prior: {what}");
    })
    .map_err(CliError::runtime)?;
    let m = |k: &str| {
        card.metrics
            .get(k)
            .map(|v| table::decimal(*v, 3))
            .unwrap_or_else(|| "-".into())
    };
    emit(&format!(
        "wrote the fatigue prior {} to {} ({} training rows; held-out creatives: AUC@14 {} [{}, {}], ECE {})\nrebuild the binary to ship it\n",
        card.version,
        args.out.display(),
        card.rows,
        m("auc_14"),
        m("auc_14_lo90"),
        m("auc_14_hi90"),
        m("ece"),
    ));
    Ok(())
}

/// The summary table: one row per regime, means over its tenants.
pub fn render_regimes(rows: &[TenantResult]) -> String {
    let mut names: Vec<&str> = rows.iter().map(|r| r.regime.as_str()).collect();
    names.dedup();
    let opt = |v: Option<f64>| {
        v.map(|x| table::decimal(x, 3))
            .unwrap_or_else(|| "-".into())
    };
    let body: Vec<Vec<String>> = names
        .iter()
        .map(|name| {
            let rs: Vec<&TenantResult> = rows.iter().filter(|r| r.regime == *name).collect();
            let count = |m: &str| rs.iter().filter(|r| r.method == m).count();
            let served = mean(rs.iter().map(|r| r.served_auc_14));
            let base = mean(rs.iter().map(|r| r.baseline_auc_14));
            let served_c = mean(rs.iter().map(|r| r.served_c_index));
            let base_c = mean(rs.iter().map(|r| r.baseline_c_index));
            let with_auc = rs.iter().filter(|r| r.served_auc_14.is_some()).count();
            vec![
                name.to_string(),
                rs.len().to_string(),
                format!(
                    "{}/{}/{}",
                    count("holdout"),
                    count("rolling_origin"),
                    count("none")
                ),
                rs.iter()
                    .filter(|r| crate::fatigue::pipeline::is_prior(&r.served))
                    .count()
                    .to_string(),
                format!("{} ({with_auc})", opt(served)),
                opt(base),
                opt(mean(rs.iter().map(|r| r.prior_auc_14))),
                opt(mean(rs.iter().map(|r| r.learned_auc_14))),
                opt(served_c),
                opt(base_c),
                opt(mean(rs.iter().map(|r| r.prior_c_index))),
                opt(mean(rs.iter().map(|r| r.learned_c_index))),
                opt(pooled_ece(rs.iter().copied())),
                opt(mean(rs.iter().map(|r| Some(r.scored_share)))),
            ]
        })
        .collect();
    table::render(
        &[
            "regime",
            ">tenants",
            "holdout/folds/none",
            ">on prior",
            ">served auc@14 (n)",
            ">best rule",
            ">prior",
            ">own learned",
            ">served c-index",
            ">best rule",
            ">prior",
            ">own learned",
            ">served ece (pooled)",
            ">scored share",
        ],
        &body,
    )
}

pub fn evaluate_regimes(args: EvaluateRegimesArgs) -> Result<(), CliError> {
    let job = load_spec(&args.spec)?;
    check_sizes(&args.seeds, args.tenants)?;
    let regimes = regimes(&args.regimes)?;
    let rows = run(&regimes, &args.seeds, args.tenants, &job, &mut |line| {
        eprintln!("{line}");
    })
    .map_err(CliError::runtime)?;
    if args.json {
        emit(&(serde_json::to_string_pretty(&rows).map_err(CliError::runtime)? + "\n"));
    } else {
        emit(&format!(
            "fatigue on real-shaped simulated worlds · seeds {:?} · {} tenants each · means over tenants; \
             AUC@14 on out-of-sample rows (every labelled row where unvalidated)\n{}",
            args.seeds,
            args.tenants,
            render_regimes(&rows)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, CliError, run};
    use crate::fatigue::tests::on_big_stack;
    use crate::registry::{ModelKind, Registry};

    /// Small models so every regime runs in seconds in a debug build.
    const SPEC: &str = "[models]\nseed = 3\n[models.forest]\ntrees = 4\n[models.mlp]\nmax_epochs = 8\n\
        [evaluation]\nbootstrap_resamples = 50\n";

    fn cli(dir: &std::path::Path, args: &[&str]) -> Result<(), CliError> {
        let mut argv = vec!["omnify".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        argv.extend([
            "--warehouse".into(),
            dir.join("wh").display().to_string(),
            "--models-dir".into(),
            dir.join("models").display().to_string(),
        ]);
        run(Cli::try_parse_from(argv).map_err(CliError::input)?)
    }

    /// Every real-shaped regime end to end through the CLI: simulate → ingest → train →
    /// score on several days → evaluate. Training never refuses (a served model, its validation
    /// on the card), and every day asked gives a row per active creative.
    #[test]
    fn every_regime_runs_end_to_end() {
        on_big_stack(every_regime);
    }

    fn every_regime() {
        use polars::prelude::*;
        for regime in ["search", "display", "short_mixed", "sparse"] {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let spec = d.join("fatigue.toml");
            std::fs::write(&spec, SPEC).unwrap();
            let spec = spec.display().to_string();
            let sim = d.join("sim").display().to_string();
            cli(
                d,
                &[
                    "simulate",
                    "--regime",
                    regime,
                    "--out",
                    &sim,
                    "--tenants",
                    "1",
                    "--seed",
                    "77",
                ],
            )
            .unwrap();
            let file = std::fs::read_dir(d.join("sim"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.extension().is_some_and(|e| e == "parquet"))
                .unwrap();
            let tenant = file.file_stem().unwrap().to_string_lossy().to_string();
            cli(
                d,
                &["ingest", "--tenant", &tenant, &file.display().to_string()],
            )
            .unwrap();
            cli(
                d,
                &["train", "fatigue", "--tenant", &tenant, "--spec", &spec],
            )
            .unwrap();
            let reg = Registry::open(d.join("models"));
            let champion = reg.load_champion(&tenant, ModelKind::Fatigue).unwrap();
            let v = champion
                .card
                .validation
                .clone()
                .expect("validation recorded");
            let method = v["method"].as_str().unwrap().to_string();
            assert!(
                ["holdout", "rolling_origin", "none"].contains(&method.as_str()),
                "{regime}: {v}"
            );
            if method == "none" {
                // Unvalidated: the prior serves, and says so.
                assert_eq!(champion.card.model, "prior", "{regime}");
            } else {
                let m = &champion.card.selection_metric;
                assert!(champion.card.metrics.contains_key(m), "{regime}: {m}");
            }
            let raw = crate::schema::rows_from_frame(
                &polars::prelude::ParquetReader::new(std::fs::File::open(&file).unwrap())
                    .finish()
                    .unwrap(),
            )
            .unwrap();
            // Scores on an early day and the last day: a row per active creative.
            let frame = crate::warehouse::Warehouse::open(d.join("wh"))
                .unwrap()
                .load(Some(&tenant))
                .unwrap();
            let days = frame
                .column("date")
                .unwrap()
                .cast(&DataType::Int32)
                .unwrap();
            let days = days.i32().unwrap();
            let (lo, hi) = (days.min().unwrap(), days.max().unwrap());
            for day in [lo + 10, hi] {
                let date = crate::schema::days_to_date(day).to_string();
                let out = d.join(format!("scores-{day}.csv"));
                cli(
                    d,
                    &[
                        "score",
                        "fatigue",
                        "--tenant",
                        &tenant,
                        "--spec",
                        &spec,
                        "--as-of",
                        &date,
                        "--out",
                        &out.display().to_string(),
                    ],
                )
                .unwrap();
                let mut csv = csv::Reader::from_path(&out).unwrap();
                let scores: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
                assert!(!scores.is_empty(), "{regime} {date}: no scores");
                let as_of = crate::schema::days_to_date(day);
                // Every creative that delivered on the day gets a row.
                let active: std::collections::BTreeSet<(String, String, String)> = raw
                    .iter()
                    .filter(|r| r.date == as_of && r.impressions > 0)
                    .map(|r| {
                        (
                            r.platform.as_str().to_string(),
                            r.account_id.clone(),
                            r.ad_id.clone(),
                        )
                    })
                    .collect();
                let got: std::collections::BTreeSet<(String, String, String)> = scores
                    .iter()
                    .map(|r| (r[1].to_string(), r[2].to_string(), r[3].to_string()))
                    .collect();
                assert!(
                    active.is_subset(&got),
                    "{regime} {date}: an active creative has no row"
                );
                for r in &scores {
                    assert_eq!(&r[4], date.as_str());
                    assert_eq!(&r[12], champion.card.version.as_str());
                    // `insufficient_data` exactly when the raw rows show no launch baseline yet.
                    let reached = baseline_by(&raw, (&r[1], &r[2], &r[3]), as_of);
                    assert_eq!(
                        &r[5] == "insufficient_data",
                        !reached,
                        "{regime} {date}: {:?}",
                        r
                    );
                }
            }
            cli(
                d,
                &[
                    "evaluate", "fatigue", "--tenant", &tenant, "--spec", &spec, "--json",
                ],
            )
            .unwrap();
        }
    }

    /// Whether a creative has a launch baseline to compare `day` with, from its raw rows alone
    /// (the defaults of training/fatigue.toml): its first active days (impressions > 0), at
    /// most 7, up to the first on which cumulative impressions reach 1,000 — that day before
    /// the day scored, since the ratio starts the day after — holding at least 10 clicks (or,
    /// with spend, 5 conversions). The day scored is the creative's latest delivered day up to
    /// `day` (a creative that paused for a day or two is scored as of its last delivery).
    fn baseline_by(
        raw: &[crate::schema::AdDailyRow],
        key: (&str, &str, &str),
        day: chrono::NaiveDate,
    ) -> bool {
        let mut days: Vec<&crate::schema::AdDailyRow> = raw
            .iter()
            .filter(|r| {
                (r.platform.as_str(), r.account_id.as_str(), r.ad_id.as_str()) == key
                    && r.impressions > 0
            })
            .collect();
        days.sort_by_key(|r| r.date);
        let Some(day) = days.iter().map(|r| r.date).filter(|d| *d <= day).max() else {
            return false;
        };
        let (mut imps, mut clicks, mut conv) = (0i64, 0i64, 0.0f64);
        for r in days.into_iter().take(7) {
            if r.date >= day {
                return false;
            }
            imps += r.impressions;
            clicks += r.clicks;
            conv += r.spend.and(r.conversions).unwrap_or(0.0);
            if imps >= 1000 {
                return clicks >= 10 || conv >= 5.0;
            }
        }
        false
    }

    /// Under 28 days of history, or no creative reaching a launch baseline: exit 2 with what is
    /// missing, nothing registered; scoring meanwhile uses the prior.
    #[test]
    fn too_little_data_is_refused_and_the_prior_serves() {
        on_big_stack(too_little_data);
    }

    fn too_little_data() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (tenant, rows) =
            crate::simulate::regimes::regime_rows(crate::simulate::regimes::Regime::Display, 5, 1)
                .unwrap()
                .remove(0);
        let first = rows.iter().map(|r| r.date).min().unwrap();
        let short: Vec<_> = rows
            .iter()
            .filter(|r| (r.date - first).num_days() < 20)
            .cloned()
            .collect();
        let frame = crate::schema::rows_to_frame(&tenant, &short).unwrap();
        crate::warehouse::Warehouse::open(d.join("wh"))
            .unwrap()
            .ingest(frame)
            .unwrap();
        let err = cli(d, &["train", "fatigue", "--tenant", &tenant]).unwrap_err();
        assert_eq!(err.code, 2);
        assert!(
            err.message.contains("covers 20 days") && err.message.contains("8 more"),
            "{}",
            err.message
        );
        assert!(err.message.contains("prior"), "{}", err.message);
        let reg = Registry::open(d.join("models"));
        assert!(reg.list(&tenant, ModelKind::Fatigue).unwrap().is_empty());
        // With --all-tenants the short tenant does not stop one with enough data: that one is
        // trained, the short one named, and the exit code is 2.
        let full = crate::schema::rows_to_frame("longer", &rows).unwrap();
        crate::warehouse::Warehouse::open(d.join("wh"))
            .unwrap()
            .ingest(full)
            .unwrap();
        let err = cli(d, &["train", "fatigue", "--all-tenants"]).unwrap_err();
        assert_eq!(err.code, 2);
        assert!(
            err.message.starts_with("1 of 2 tenants not trained") && err.message.contains(&tenant),
            "{}",
            err.message
        );
        assert!(
            reg.champion("longer", ModelKind::Fatigue)
                .unwrap()
                .is_some()
        );
        assert!(reg.list(&tenant, ModelKind::Fatigue).unwrap().is_empty());
        // Meanwhile the prior scores.
        let out = d.join("s.csv");
        cli(
            d,
            &[
                "score",
                "fatigue",
                "--tenant",
                &tenant,
                "--out",
                &out.display().to_string(),
            ],
        )
        .unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let prior = crate::fatigue::prior::embedded().unwrap();
        assert!(
            text.lines()
                .skip(1)
                .all(|l| l.ends_with(&prior.card.version))
        );
        assert!(text.lines().count() > 1);

        // 40 days, but no creative reaches 1,000 impressions in its first 7 active days.
        let tiny: Vec<_> = rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.impressions = r.impressions.min(100);
                r.clicks = r.clicks.min(r.impressions);
                r
            })
            .collect();
        let dir2 = tempfile::tempdir().unwrap();
        let d2 = dir2.path();
        crate::warehouse::Warehouse::open(d2.join("wh"))
            .unwrap()
            .ingest(crate::schema::rows_to_frame(&tenant, &tiny).unwrap())
            .unwrap();
        let err = cli(d2, &["train", "fatigue", "--tenant", &tenant]).unwrap_err();
        assert_eq!(err.code, 2);
        assert!(
            err.message
                .contains("no creative reaches a launch baseline"),
            "{}",
            err.message
        );
        assert!(
            Registry::open(d2.join("models"))
                .list(&tenant, ModelKind::Fatigue)
                .unwrap()
                .is_empty()
        );
    }
}
