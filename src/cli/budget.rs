//! Budget commands. `omnify optimize`: response curves from explicit JSON (`--curves`) or from
//! the tenant's champion budget model, optional constraints (TOML), then
//! [`crate::budget::allocate`]; the plan as a table, JSON or a CSV file.
//! `omnify train budget`: warehouse series (or a wide `--input` table) → fitted response model
//! → registry version, promoted if it beats the champion on the holdout.
//! `omnify evaluate budget`: per-entity contributions, shares and ROAS with intervals, fitted
//! transforms, fit quality and identifiability warnings. `omnify forecast budget`: per-period
//! outcome under a plan with intervals, adstock carried over.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::Deserialize;

use super::CliError;
use super::table::{money, render};
use crate::budget::service::{self, ModeKind, OptimizeOptions, PlanView};
use crate::budget::{Allocation, AllocationProblem, Constraints, EntitySpec, Mode, allocate};
use crate::config::Config;
use crate::warehouse::write_atomic;

mod model_commands;
pub use model_commands::{
    EvaluateBudgetArgs, ForecastBudgetArgs, TrainBudgetArgs, champion_model, evaluate, forecast,
    train,
};

/// What the curves measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Objective {
    /// Conversions per period.
    Conversions,
    /// Conversion value per period (currency units).
    Value,
}

/// What to optimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Spend exactly the budget, maximising the total outcome.
    #[value(name = "fixed")]
    Fixed,
    /// Most conversions whose cost per conversion is at most --target.
    #[value(name = "target_cpa")]
    TargetCpa,
    /// Most value whose return on ad spend (value/spend) is at least --target.
    #[value(name = "target_roas")]
    TargetRoas,
}

/// Recommend how to split a budget across entities (platforms, campaigns) from their response
/// curves: equal marginal returns for concave curves, a global search for S-shaped ones, with
/// per-entity bounds, shift limits, fixed and zero-spend entities respected.
#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// Tenant whose champion budget model supplies the curves when --curves is not given
    /// [default: the configured tenant].
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// Total budget per period, in currency units: spent exactly in fixed mode; the cap on
    /// total spend in target modes.
    #[arg(long, value_name = "B")]
    pub budget: f64,
    /// Explicit curves (JSON): {"entities":[{"id":"..","curve":{"type":"hill","beta":..,
    /// "half_saturation":..,"shape":..},"current_spend":..,"min_spend":..,"max_spend":..}]};
    /// curve types hill (β·sᵃ/(sᵃ+kᵃ)), logistic (β·(1−e^(−λs))/(1+e^(−λs)), field lambda)
    /// and michaelis_menten (β·s/(k+s)); min/max optional; also max_shift_pct, fixed,
    /// allow_new.
    #[arg(long, value_name = "FILE.json")]
    pub curves: Option<PathBuf>,
    /// Constraints (TOML), overriding the curves file: a global `max_shift_pct = 30`, and per
    /// entity `[entities."<id>"]` with min_spend, max_spend, max_shift_pct (percent of current
    /// spend), fixed (hold at current), allow_new (let a zero-spend entity receive money).
    #[arg(long, value_name = "FILE.toml")]
    pub constraints: Option<PathBuf>,
    /// What the curves measure [default: value for target_roas, else conversions].
    #[arg(long, value_enum)]
    pub objective: Option<Objective>,
    /// fixed: spend the budget exactly; target_cpa / target_roas: the most outcome whose
    /// average (or, with --marginal, last-unit) CPA / ROAS meets --target.
    #[arg(long, value_enum, default_value = "fixed")]
    pub mode: ModeArg,
    /// The CPA (currency per conversion) or ROAS (value per currency unit) to meet; required
    /// by the target modes.
    #[arg(long, value_name = "X")]
    pub target: Option<f64>,
    /// In target modes, hold the marginal (last-unit) CPA/ROAS to the target instead of the
    /// average.
    #[arg(long)]
    pub marginal: bool,
    /// Flighting: spread --budget (the total over the horizon) over this many future periods
    /// with the champion model, carry-over included; prints entity × period spends.
    #[arg(long, value_name = "N", conflicts_with_all = ["curves", "constraints", "out"])]
    pub periods: Option<usize>,
    /// Print the plan as JSON.
    #[arg(long, conflicts_with = "out")]
    pub json: bool,
    /// Write the plan to a CSV file (atomically) instead of printing a table.
    #[arg(long, value_name = "plan.csv")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct CurvesFile {
    entities: Vec<EntitySpec>,
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}

/// Line (1-based) of a byte offset, for one-line TOML errors.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .get(..offset.min(text.len()))
        .map_or(1, |b| b.iter().filter(|c| **c == b'\n').count() + 1)
}

fn load_constraints(path: &Path) -> Result<Constraints, CliError> {
    let text = read(path)?;
    toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(&text, s.start));
        let msg = e.message().replace('\n', " ");
        CliError::input(format!("{}: line {line}: {}", path.display(), msg.trim()))
    })
}

/// Builds the problem from the flags and files.
fn problem(args: &OptimizeArgs, curves: &Path) -> Result<AllocationProblem, CliError> {
    let text = read(curves)?;
    let file: CurvesFile = serde_json::from_str(&text)
        .map_err(|e| CliError::input(format!("{}: {e}", curves.display())))?;
    problem_from(args, file.entities)
}

/// Builds the problem from entity specs and the flags.
fn problem_from(
    args: &OptimizeArgs,
    entities: Vec<EntitySpec>,
) -> Result<AllocationProblem, CliError> {
    let constraints = match &args.constraints {
        Some(p) => Some(load_constraints(p)?),
        None => None,
    };
    let o = OptimizeOptions {
        budget: args.budget,
        objective: args.objective.map(|o| match o {
            Objective::Conversions => service::Objective::Conversions,
            Objective::Value => service::Objective::Value,
        }),
        mode: match args.mode {
            ModeArg::Fixed => ModeKind::Fixed,
            ModeArg::TargetCpa => ModeKind::TargetCpa,
            ModeArg::TargetRoas => ModeKind::TargetRoas,
        },
        target: args.target,
        marginal: args.marginal,
        constraints,
    };
    service::build_problem(entities, &o).map_err(|e| {
        // Name the flags and files the user wrote.
        let msg = e
            .to_string()
            .replace("mode target_", "--mode target_")
            .replace("target is required", "--target is required")
            .replace("target and marginal", "--target and --marginal")
            .replace("(objective ", "(--objective ");
        match (&args.constraints, msg.strip_prefix("constraints: ")) {
            (Some(p), Some(rest)) => CliError::input(format!("{}: {rest}", p.display())),
            _ => CliError::input(msg),
        }
    })
}

fn csv_bytes(a: &Allocation) -> Result<Vec<u8>, CliError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let row_err = |e: csv::Error| CliError::runtime(format!("writing CSV: {e}"));
    w.write_record([
        "id",
        "current",
        "recommended",
        "delta",
        "expected_outcome_current",
        "expected_outcome_recommended",
        "marginal_return",
        "binding",
    ])
    .map_err(row_err)?;
    for e in &a.entities {
        w.write_record([
            e.id.clone(),
            e.current.to_string(),
            e.recommended.to_string(),
            e.delta.to_string(),
            e.expected_outcome_current.to_string(),
            e.expected_outcome_recommended.to_string(),
            e.marginal_return.map_or(String::new(), |m| m.to_string()),
            e.binding.as_str().to_string(),
        ])
        .map_err(row_err)?;
    }
    w.into_inner()
        .map_err(|e| CliError::runtime(format!("writing CSV: {e}")))
}

fn outcome(v: f64) -> String {
    format!("{v:.2}")
}

fn table(a: &Allocation, objective: &str) -> String {
    let rows: Vec<Vec<String>> = a
        .entities
        .iter()
        .map(|e| {
            vec![
                e.id.clone(),
                money(e.current),
                money(e.recommended),
                money(e.delta),
                outcome(e.expected_outcome_current),
                outcome(e.expected_outcome_recommended),
                e.marginal_return
                    .map_or("∞".to_string(), |m| format!("{m:.4}")),
                e.binding.as_str().to_string(),
            ]
        })
        .collect();
    let mut out = render(
        &[
            "entity",
            ">current",
            ">recommended",
            ">delta",
            ">outcome now",
            ">outcome then",
            ">marginal",
            "binding",
        ],
        &rows,
    );
    let lift = if a.expected_outcome_current > 0.0 {
        format!(
            " ({:+.1}%)",
            100.0 * (a.expected_outcome / a.expected_outcome_current - 1.0)
        )
    } else {
        String::new()
    };
    out.push_str(&format!(
        "\n{} mode, total spend {}: expected {objective} {} vs {} at current spend{lift}.\n",
        a.mode,
        money(a.total_budget),
        outcome(a.expected_outcome),
        outcome(a.expected_outcome_current),
    ));
    out.push_str(&match a.lambda {
        Some(l) => format!(
            "Money goes where the next unit buys most: every 'none' entity returns λ = {l:.6} \
             {objective} per currency unit at the margin; 'min'/'max' rows are held by a bound \
             (KKT gap {:.1e}).\n",
            a.kkt_gap
        ),
        None => "No entity is free to move: every spend is pinned by a bound.\n".to_string(),
    });
    out
}

/// `omnify optimize --periods N`: flighting with the champion model.
fn optimize_flight(cfg: &Config, args: &OptimizeArgs, periods: usize) -> Result<(), CliError> {
    if args.mode != ModeArg::Fixed {
        return Err(CliError::input(
            "--periods plans a fixed total: use --mode fixed",
        ));
    }
    let tenant = args.tenant.clone().unwrap_or_else(|| cfg.tenant.clone());
    let (card, model) = champion_model(cfg, &tenant, None)?;
    let f = crate::budget::flight::flight(&model, args.budget, periods, 2000)
        .map_err(CliError::input)?;
    if args.json {
        super::emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&f).map_err(CliError::runtime)?
        ));
        return Ok(());
    }
    let mut head = vec!["entity".to_string(), ">current".to_string()];
    head.extend((1..=periods).map(|p| format!(">p{p}")));
    let rows: Vec<Vec<String>> = f
        .entities
        .iter()
        .map(|e| {
            let mut r = vec![e.id.clone(), money(e.current)];
            r.extend(e.spend.iter().map(|s| money(*s)));
            r
        })
        .collect();
    let head_ref: Vec<&str> = head.iter().map(|s| s.as_str()).collect();
    let mut out = format!(
        "budget model {} of tenant {tenant}: {} over {periods} {}s\n",
        card.version,
        money(args.budget),
        model.period.as_str()
    );
    out.push_str(&render(&head_ref, &rows));
    let lift = if f.expected_media_proportional > 0.0 {
        format!(
            " ({:+.1}%)",
            100.0 * (f.expected_media / f.expected_media_proportional - 1.0)
        )
    } else {
        String::new()
    };
    out.push_str(&format!(
        "\nexpected {} from media over the horizon: {:.2} vs {:.2} with the current mix spread \
         evenly{lift}; carry-over from past spend included, effects after the horizon not \
         counted.\n",
        model.outcome, f.expected_media, f.expected_media_proportional
    ));
    super::emit(&out);
    Ok(())
}

/// Runs `omnify optimize`.
pub fn optimize(cfg: &Config, args: OptimizeArgs) -> Result<(), CliError> {
    if let Some(n) = args.periods {
        return optimize_flight(cfg, &args, n);
    }
    let mut model_version = None;
    let (p, source) = match args.curves.clone() {
        Some(curves) => (problem(&args, &curves)?, curves.display().to_string()),
        None => {
            let tenant = args.tenant.clone().unwrap_or_else(|| cfg.tenant.clone());
            let (card, model) = champion_model(cfg, &tenant, None)?;
            let entities = service::champion_entities(&model);
            model_version = Some(card.version.clone());
            eprintln!(
                "curves: budget model {} of tenant {tenant} ({} per {}, current spend = mean of \
                 the latest periods)",
                card.version,
                model.outcome,
                model.period.as_str()
            );
            (
                problem_from(&args, entities)?,
                format!("budget model {}", card.version),
            )
        }
    };
    let a = allocate(&p).map_err(|e| CliError::input(format!("{source}: {e}")))?;
    for n in &a.notes {
        eprintln!("note: {n}");
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&PlanView {
                model_version,
                ..PlanView::from_allocation(&a)
            })
            .map_err(CliError::runtime)?
        );
    } else if let Some(out) = &args.out {
        write_atomic(out, &csv_bytes(&a)?)
            .map_err(|e| CliError::runtime(format!("{}: {e}", out.display())))?;
        eprintln!(
            "wrote {} entities to {} (total spend {})",
            a.entities.len(),
            out.display(),
            money(a.total_budget)
        );
    } else {
        let objective = match p.mode {
            Mode::TargetRoas { .. } => "value",
            _ => match args.objective {
                Some(Objective::Value) => "value",
                _ => "conversions",
            },
        };
        print!("{}", table(&a, objective));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_errors_are_one_line_with_a_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "max_shift_pct = 20\n[entities.a]\nmin_spnd = 3\n").unwrap();
        let e = load_constraints(&p).unwrap_err().message;
        assert!(e.contains("line 3") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn constraints_for_an_unknown_entity_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let curves = dir.path().join("curves.json");
        std::fs::write(
            &curves,
            r#"{"entities":[{"id":"a","curve":{"type":"logistic","beta":1,"lambda":1},"current_spend":1}]}"#,
        )
        .unwrap();
        let cons = dir.path().join("c.toml");
        std::fs::write(&cons, "[entities.typo]\nfixed = true\n").unwrap();
        let args = OptimizeArgs {
            tenant: None,
            budget: 1.0,
            curves: Some(curves.clone()),
            constraints: Some(cons),
            objective: None,
            mode: ModeArg::Fixed,
            target: None,
            marginal: false,
            periods: None,
            json: false,
            out: None,
        };
        let e = problem(&args, &curves).unwrap_err().message;
        assert!(e.contains("c.toml") && e.contains("typo"), "{e}");
    }

    #[test]
    fn plan_from_files_json_and_csv() {
        let dir = tempfile::tempdir().unwrap();
        let curves = dir.path().join("curves.json");
        // Same problem as the allocator's hand test: s2 = 4·s1, s1 + s2 = 250 ⇒ 50 / 200;
        // the constraints cap b at 150, so a gets 100.
        std::fs::write(
            &curves,
            r#"{"entities":[
              {"id":"a","curve":{"type":"michaelis_menten","beta":100,"half_saturation":50},"current_spend":125},
              {"id":"b","curve":{"type":"michaelis_menten","beta":400,"half_saturation":200},"current_spend":125}]}"#,
        )
        .unwrap();
        let cons = dir.path().join("c.toml");
        std::fs::write(&cons, "[entities.b]\nmax_spend = 150\n").unwrap();
        let args = OptimizeArgs {
            tenant: None,
            budget: 250.0,
            curves: Some(curves.clone()),
            constraints: Some(cons),
            objective: None,
            mode: ModeArg::Fixed,
            target: None,
            marginal: false,
            periods: None,
            json: false,
            out: None,
        };
        let a = allocate(&problem(&args, &curves).unwrap()).unwrap();
        let v = serde_json::to_value(PlanView::from_allocation(&a)).unwrap();
        assert_eq!(v["entities"][1]["binding"], "max");
        assert!((v["entities"][0]["recommended"].as_f64().unwrap() - 100.0).abs() < 1e-9);
        let csv = String::from_utf8(csv_bytes(&a).unwrap()).unwrap();
        assert!(csv.starts_with("id,current,recommended,delta,"), "{csv}");
        assert_eq!(csv.lines().count(), 3);
        assert!(table(&a, "conversions").contains("binding"));
    }
}
