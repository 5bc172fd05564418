//! `omnify optimize`: reads explicit response curves (JSON) and optional constraints (TOML),
//! calls [`crate::budget::allocate`] and prints the plan as a table, JSON or a CSV file.
//! Curves fitted from the warehouse (`omnify train budget`) are a later step; without
//! `--curves` the command says so and exits 2.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use super::CliError;
use super::table::{money, render};
use crate::budget::{Allocation, AllocationProblem, Constraints, EntitySpec, Mode, allocate};
use crate::warehouse::write_atomic;

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
    /// Tenant whose champion budget model supplies the curves (fitted curves are not built
    /// yet: pass --curves).
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
    let mut entities = file.entities;
    let mut global_shift = None;
    if let Some(cpath) = &args.constraints {
        global_shift = load_constraints(cpath)?
            .apply(&mut entities)
            .map_err(|e| CliError::input(format!("{}: {e}", cpath.display())))?;
    }
    let objective = args.objective.unwrap_or(match args.mode {
        ModeArg::TargetRoas => Objective::Value,
        _ => Objective::Conversions,
    });
    let need_target = || {
        args.target.ok_or_else(|| {
            CliError::input("--target is required with --mode target_cpa or target_roas")
        })
    };
    let mode = match args.mode {
        ModeArg::Fixed => {
            if args.target.is_some() || args.marginal {
                return Err(CliError::input(
                    "--target and --marginal apply only to --mode target_cpa or target_roas",
                ));
            }
            Mode::FixedBudget
        }
        ModeArg::TargetCpa => {
            if objective != Objective::Conversions {
                return Err(CliError::input(
                    "--mode target_cpa needs curves of conversions (--objective conversions)",
                ));
            }
            Mode::TargetCpa {
                target: need_target()?,
                marginal: args.marginal,
            }
        }
        ModeArg::TargetRoas => {
            if objective != Objective::Value {
                return Err(CliError::input(
                    "--mode target_roas needs curves of conversion value (--objective value)",
                ));
            }
            Mode::TargetRoas {
                target: need_target()?,
                marginal: args.marginal,
            }
        }
    };
    Ok(AllocationProblem {
        entities,
        budget: args.budget,
        mode,
        max_shift_pct: global_shift,
    })
}

/// The `--json` shape (field order as documented).
#[derive(Debug, Serialize)]
struct PlanJson<'a> {
    total_budget: f64,
    expected_outcome: f64,
    expected_outcome_current: f64,
    mode: &'a str,
    lambda: Option<f64>,
    kkt_gap: f64,
    entities: Vec<EntityJson<'a>>,
}

#[derive(Debug, Serialize)]
struct EntityJson<'a> {
    id: &'a str,
    current: f64,
    recommended: f64,
    delta: f64,
    expected_outcome_current: f64,
    expected_outcome_recommended: f64,
    marginal_return: Option<f64>,
    binding: &'static str,
}

fn plan_json(a: &Allocation) -> PlanJson<'_> {
    PlanJson {
        total_budget: a.total_budget,
        expected_outcome: a.expected_outcome,
        expected_outcome_current: a.expected_outcome_current,
        mode: &a.mode,
        lambda: a.lambda,
        kkt_gap: a.kkt_gap,
        entities: a
            .entities
            .iter()
            .map(|e| EntityJson {
                id: &e.id,
                current: e.current,
                recommended: e.recommended,
                delta: e.delta,
                expected_outcome_current: e.expected_outcome_current,
                expected_outcome_recommended: e.expected_outcome_recommended,
                marginal_return: e.marginal_return,
                binding: e.binding.as_str(),
            })
            .collect(),
    }
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

/// Runs `omnify optimize`.
pub fn optimize(args: OptimizeArgs) -> Result<(), CliError> {
    let Some(curves) = args.curves.clone() else {
        return Err(CliError::input(
            "optimize: curves fitted from the warehouse come from `omnify train budget`, which \
             is not built yet; pass explicit curves with --curves FILE.json",
        ));
    };
    let p = problem(&args, &curves)?;
    let a = allocate(&p).map_err(|e| CliError::input(format!("{}: {e}", curves.display())))?;
    for n in &a.notes {
        eprintln!("note: {n}");
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&plan_json(&a)).map_err(CliError::runtime)?
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
            json: false,
            out: None,
        };
        let a = allocate(&problem(&args, &curves).unwrap()).unwrap();
        let v = serde_json::to_value(plan_json(&a)).unwrap();
        assert_eq!(v["entities"][1]["binding"], "max");
        assert!((v["entities"][0]["recommended"].as_f64().unwrap() - 100.0).abs() < 1e-9);
        let csv = String::from_utf8(csv_bytes(&a).unwrap()).unwrap();
        assert!(csv.starts_with("id,current,recommended,delta,"), "{csv}");
        assert_eq!(csv.lines().count(), 3);
        assert!(table(&a, "conversions").contains("binding"));
    }
}
