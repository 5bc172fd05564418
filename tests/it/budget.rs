//! `omnify optimize` as a user runs it: explicit curves, a constraints file, JSON and CSV plans.

use crate::common::{fixture, omnify, stderr, stdout};

#[test]
fn optimize_spends_the_budget_within_every_constraint() {
    let dir = tempfile::tempdir().unwrap();
    let curves = fixture("budget/curves.json");
    let constraints = fixture("budget/constraints.toml");
    let out = omnify(
        dir.path(),
        &[
            "optimize",
            "--budget",
            "2600",
            "--curves",
            curves.to_str().unwrap(),
            "--constraints",
            constraints.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let entities = v["entities"].as_array().unwrap();
    assert_eq!(entities.len(), 5);
    let rec = |id: &str| -> f64 {
        entities.iter().find(|e| e["id"] == id).unwrap()["recommended"]
            .as_f64()
            .unwrap()
    };
    let total: f64 = entities
        .iter()
        .map(|e| e["recommended"].as_f64().unwrap())
        .sum();
    assert!(
        (total - 2600.0).abs() <= 2600.0 * 1e-6,
        "budget spent exactly: {total}"
    );
    // Brand search is fixed at its current 300.
    assert!((rec("google_ads:search_brand") - 300.0).abs() < 1e-9);
    // ±50% of current: meta 1200 -> [600, 1800]; tiktok 600 -> [300, 900]; linkedin 500 -> [250, 750].
    let within = |id: &str, lo: f64, hi: f64| {
        let r = rec(id);
        assert!(
            r >= lo - 1e-6 && r <= hi + 1e-6,
            "{id}: {r} not in [{lo}, {hi}]"
        );
    };
    within("meta:prospecting", 600.0, 1800.0);
    within("tiktok:spark_ads", 300.0, 900.0);
    within("linkedin:abm", 250.0, 750.0);
    within("pinterest:new", 0.0, 400.0);
    let expected = v["expected_outcome"].as_f64().unwrap();
    let current = v["expected_outcome_current"].as_f64().unwrap();
    assert!(
        expected >= current - 1e-9,
        "never worse than the current split"
    );
    for e in entities {
        assert!(e["binding"].is_string() && e["marginal_return"].is_number());
    }

    let out = omnify(
        dir.path(),
        &[
            "optimize",
            "--budget",
            "2600",
            "--curves",
            curves.to_str().unwrap(),
            "--out",
            "plan.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = std::fs::read_to_string(dir.path().join("plan.csv")).unwrap();
    assert_eq!(plan.lines().count(), 6, "header + 5 entities: {plan}");
}

#[test]
fn optimize_without_curves_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = omnify(dir.path(), &["optimize", "--budget", "1000"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("train budget"), "{}", stderr(&out));
}

#[test]
fn infeasible_bounds_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let curves = fixture("budget/curves.json");
    // Minimums (tiktok 200) plus fixed brand search (300) cannot fit in 100.
    let out = omnify(
        dir.path(),
        &[
            "optimize",
            "--budget",
            "100",
            "--curves",
            curves.to_str().unwrap(),
            "--constraints",
            fixture("budget/constraints.toml").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("budget") && err.trim().lines().count() == 1,
        "{err}"
    );
}

/// The bundled wide MMM table is what `simulate --mmm` makes, and `train budget --input` fits it.
#[test]
fn bundled_mmm_table_regenerates_and_trains() {
    let dir = tempfile::tempdir().unwrap();
    let out = omnify(
        dir.path(),
        &[
            "simulate", "--mmm", "4", "--days", "1092", "--seed", "11", "--out", "mmm",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mmm");
    for f in ["mmm_weekly.csv", "mmm_truth.csv"] {
        assert_eq!(
            std::fs::read(dir.path().join("mmm").join(f)).unwrap(),
            std::fs::read(root.join(f)).unwrap(),
            "{f}: regenerate data/mmm (see data/README.md)"
        );
    }
    let input = root.join("mmm_weekly.csv");
    let out = omnify(
        dir.path(),
        &[
            "train",
            "budget",
            "--tenant",
            "mmm",
            "--models-dir",
            "models",
            "--bootstrap",
            "0",
            "--input",
            input.to_str().unwrap(),
            "--date-col",
            "week",
            "--outcome-col",
            "outcome",
            "--spend-cols",
            "spend_ch0,spend_ch1,spend_ch2,spend_ch3",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("spend_ch3"), "{text}");
}

/// `simulate --mmm-example` writes a dataset of PyMC-Marketing's example process with its
/// truth, and the wide-table commands recover the channel that pauses (seed 0: within half a
/// point of its true share; over 50 seeds the median error is 0.26 points, docs/evaluation.md,
/// "Budget recovery").
#[test]
fn pymc_example_data_trains_and_evaluates_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let out = omnify(
        dir.path(),
        &["simulate", "--mmm-example", "--seed", "0", "--out", "ex"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("--event-cols event_1,event_2"));
    let input = dir.path().join("ex/mmm_example.csv");
    let out = omnify(
        dir.path(),
        &[
            "train",
            "budget",
            "--tenant",
            "example",
            "--models-dir",
            "models",
            "--input",
            input.to_str().unwrap(),
            "--date-col",
            "date_week",
            "--outcome-col",
            "y",
            "--spend-cols",
            "x1,x2",
            "--event-cols",
            "event_1,event_2",
            "--freq",
            "week",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = omnify(
        dir.path(),
        &[
            "evaluate",
            "budget",
            "--tenant",
            "example",
            "--models-dir",
            "models",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let truth = std::fs::read_to_string(dir.path().join("ex/mmm_example_truth.csv")).unwrap();
    let true_share: f64 = truth
        .lines()
        .find(|l| l.starts_with("x2,"))
        .and_then(|l| l.split(',').nth(5))
        .unwrap()
        .parse()
        .unwrap();
    let entities = v["entities"].as_array().unwrap_or_else(|| panic!("{v}"));
    let x2 = entities.iter().find(|e| e["entity"] == "x2").unwrap();
    let share = x2["contribution_share"].as_f64().unwrap();
    assert!(
        (share - true_share).abs() < 0.005,
        "{share} vs {true_share}"
    );
}
