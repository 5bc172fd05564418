//! Model tests on small simulated data: every learned family learns something on the holdout
//! (AUC@14 well above 0.5), outputs valid hazards (probabilities in [0, 1], survival never
//! rises), is reproducible from its seed and survives a save/load round trip.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use polars::prelude::*;
use proptest::prelude::*;

use super::*;
use crate::fatigue::common::survival;
use crate::schema::rows_to_frame;
use crate::simulate::{SimConfig, simulate};

/// `ad_daily` of a small simulated world (3 tenants, 50 creatives each, 200 days).
pub(crate) fn sim_frame(seed: u64) -> LazyFrame {
    sim_frame_with(seed, 3, 50, 200)
}

/// `ad_daily` of a simulated world starting 2026-01-01.
pub(crate) fn sim_frame_with(
    seed: u64,
    tenants: usize,
    creatives: usize,
    days: usize,
) -> LazyFrame {
    let frames: Vec<LazyFrame> = sim_rows(seed, tenants, creatives, days)
        .iter()
        .map(|(t, rows)| rows_to_frame(t, rows).expect("frame").lazy())
        .collect();
    concat(frames, UnionArgs::default()).expect("concat")
}

/// Per tenant of a simulated world starting 2026-01-01: its name and rows.
pub(crate) fn sim_rows(
    seed: u64,
    tenants: usize,
    creatives: usize,
    days: usize,
) -> Vec<(String, Vec<crate::schema::AdDailyRow>)> {
    let world = simulate(&SimConfig {
        seed,
        tenants,
        creatives_per_tenant: creatives,
        days,
        ..SimConfig::default()
    })
    .expect("simulate");
    world
        .tenants
        .into_iter()
        .map(|t| {
            let rows = t.accounts.into_iter().flat_map(|a| a.rows).collect();
            (t.name, rows)
        })
        .collect()
}

/// A logistic hazard fitted on the time split of one tenant's `ad_daily` frame (labels and
/// features by the Polars pipeline).
pub(crate) fn logistic_on(df: &DataFrame, cfg: &JobConfig) -> FittedModel {
    let p = prepare(df.clone().lazy(), &cfg.base).expect("prepare");
    let data = survival_rows(&p, &cfg.evaluation);
    let sp = split(&data, &cfg.evaluation).expect("split");
    FittedModel::fit_learned(
        "logistic_hazard",
        &data.subset(&sp.train),
        &data.subset(&sp.validation),
        &cfg.models,
    )
    .expect("fit")
}

/// Runs `f` on a thread with a roomy stack: Polars plans recurse deeply in debug builds, and a
/// deep plan should fail the test rather than abort the test binary.
pub(crate) fn on_big_stack(f: fn()) {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .expect("spawn the test thread")
        .join()
        .expect("the test thread panicked");
}

pub(crate) fn small_config() -> JobConfig {
    let mut cfg = JobConfig::from_toml_str("").expect("defaults");
    cfg.evaluation.stride_days = 1;
    cfg.evaluation.test_days = 40;
    cfg.evaluation.validation_days = 25;
    cfg.models.forest.trees = 8;
    cfg.models.mlp.max_epochs = 25;
    cfg
}

struct Fixture {
    train: SurvivalData,
    val: SurvivalData,
    test: SurvivalData,
    split: dataset::Split,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let cfg = small_config();
        let p = prepare(sim_frame(11), &cfg.base).expect("prepare");
        let d = survival_rows(&p, &cfg.evaluation);
        let sp = split(&d, &cfg.evaluation).expect("split");
        Fixture {
            train: d.subset(&sp.train),
            val: d.subset(&sp.validation),
            test: d.subset(&sp.test),
            split: sp,
        }
    })
}

fn fitted(family: &str) -> &'static FittedModel {
    static M: OnceLock<BTreeMap<String, FittedModel>> = OnceLock::new();
    let all = M.get_or_init(|| {
        let f = fixture();
        let cfg = small_config();
        LEARNED_FAMILIES
            .iter()
            .map(|fam| {
                let m = FittedModel::fit_learned(fam, &f.train, &f.val, &cfg.models).expect("fit");
                (fam.to_string(), m)
            })
            .collect()
    });
    &all[family]
}

#[test]
fn split_has_gaps_of_at_least_the_horizon_and_durations_in_range() {
    let f = fixture();
    let h = f.train.horizon as i32;
    assert!(f.split.train_days.1 + h < f.split.validation_days.0);
    assert!(f.split.validation_days.1 + h < f.split.test_days.0);
    // A training row's label reads days ≤ t + H, all before the validation slice starts.
    for (t, d) in f.train.as_of.iter().zip(&f.train.duration) {
        assert!(*d >= 1 && *d <= f.train.horizon);
        assert!(t + h < f.split.validation_days.0);
    }
    assert!(
        f.train.event.iter().any(|e| *e),
        "training slice has events"
    );
    assert!(f.test.event.iter().any(|e| *e), "test slice has events");
}

#[test]
fn learned_models_beat_chance_on_the_holdout() {
    let f = fixture();
    for fam in LEARNED_FAMILIES {
        let m = fitted(fam);
        let metrics = metrics(&m.hazards(&f.test.x).unwrap(), &f.test);
        let auc = metrics.auc_14.expect("auc defined");
        assert!(auc > 0.7, "{fam}: AUC@14 {auc:.3} on {} rows", metrics.rows);
        let c = metrics.c_index.expect("c-index defined");
        assert!(c > 0.65, "{fam}: concordance {c:.3}");
    }
}

#[test]
fn same_seed_same_predictions_and_files_round_trip() {
    let f = fixture();
    let cfg = small_config();
    for fam in LEARNED_FAMILIES {
        let a = fitted(fam);
        let b = FittedModel::fit_learned(fam, &f.train, &f.val, &cfg.models).unwrap();
        let (ha, hb) = (a.hazards(&f.test.x).unwrap(), b.hazards(&f.test.x).unwrap());
        assert_eq!(ha, hb, "{fam}: refit with the same seed differs");
        let files: BTreeMap<String, Vec<u8>> = a.to_files().unwrap().into_iter().collect();
        let back = FittedModel::from_files(&files).unwrap();
        let hc = back.hazards(&f.test.x).unwrap();
        let diff = ha
            .iter()
            .zip(&hc)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(diff < 1e-6, "{fam}: loaded model differs by {diff}");
    }
}

#[test]
fn large_inputs_scored_in_pieces_equal_row_by_row_scores() {
    // More rows than one piece holds (512), so hazards and drivers run in pieces on all
    // cores; each row scored alone must give the same hazards (to rounding) and drivers.
    let f = fixture();
    let idx: Vec<usize> = (0..1300).map(|i| (i * 7) % f.test.len()).collect();
    let x = f.test.x.select(ndarray::Axis(0), &idx);
    for fam in LEARNED_FAMILIES {
        let m = fitted(fam);
        let h = m.hazards(&x).unwrap();
        let d = m.drivers(&x, &h, 3).unwrap();
        assert!(
            d.iter().any(|v| !v.is_empty()),
            "{fam}: some row has drivers"
        );
        for i in (0..x.nrows())
            .step_by(37)
            .chain([511, 512, 1023, 1024, 1299])
        {
            let xi = x.select(ndarray::Axis(0), &[i]);
            let hi = m.hazards(&xi).unwrap();
            let diff = hi
                .row(0)
                .iter()
                .zip(h.row(i))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            // The network computes in f32, and its matrix products round differently with
            // the batch size.
            assert!(diff <= 1e-6, "{fam}: row {i} differs by {diff}");
            assert_eq!(m.drivers(&xi, &hi, 3).unwrap()[0], d[i], "{fam}: row {i}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Any feature vector (perturbed test rows, including extreme values) gives hazards in
    /// [0, 1] and a survival curve that never rises, for every family and baseline.
    #[test]
    fn hazards_are_probabilities_and_survival_never_rises(
        row in 0usize..1000, scale in -50.0f64..50.0, col in 0usize..64
    ) {
        let f = fixture();
        let mut x = f.test.x.select(ndarray::Axis(0), &[row % f.test.len()]);
        let c = col % x.ncols();
        x[[0, c]] *= scale;
        let mut models: Vec<FittedModel> =
            LEARNED_FAMILIES.iter().map(|fam| fitted(fam).clone()).collect();
        for rule in baselines::BaselineRule::ALL {
            models.push(FittedModel::fit_baseline(rule, &f.train).unwrap());
        }
        for m in &models {
            let h = m.hazards(&x).unwrap();
            prop_assert!(h.iter().all(|v| (0.0..=1.0).contains(v)), "{}", m.name());
            let s = survival(h.row(0));
            prop_assert!(s.windows(2).into_iter().all(|w| w[1] <= w[0]), "{}", m.name());
            let sm = common::summarize(h.row(0));
            prop_assert!(sm.p7 <= sm.p14 + 1e-12 && (0.0..=1.0).contains(&sm.p14));
        }
    }
}

/// Promotion: a challenger validated on less never replaces a champion validated on more
/// without beating it on the same rows; the decision follows the numbers it prints.
#[test]
fn a_weaker_validation_never_replaces_a_stronger_champion() {
    on_big_stack(weaker_validation);
}

fn weaker_validation() {
    let dir = tempfile::tempdir().unwrap();
    let reg = crate::registry::Registry::open(dir.path());
    let df = sim_frame_with(5, 1, 160, 200).collect().unwrap();
    let tenant = df
        .column("tenant")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    let mut cfg = small_config();
    cfg.evaluation.stride_days = 2;
    cfg.evaluation.min_onsets = 1;
    cfg.evaluation.bootstrap_resamples = 20;
    cfg.models.families = vec!["logistic_hazard".into()];
    let first = train(df.clone().lazy(), &tenant, &cfg, &reg, &mut |_, _, _| {}).unwrap();
    assert_eq!(first.validation.method, validation::Method::Holdout);
    assert!(first.decision.promoted, "{}", first.decision.reason);
    let card = reg
        .card(
            &tenant,
            crate::registry::ModelKind::Fatigue,
            &first.decision.version,
        )
        .unwrap();
    assert_eq!(card.validation.as_ref().unwrap()["method"], "holdout");
    assert!(card.metrics.contains_key("auc_14_lo90") && card.metrics.contains_key("auc_14_hi90"));

    // The last 45 days only, with a bar no data meets: unvalidated, kept out.
    let last = df
        .column("date")
        .unwrap()
        .cast(&DataType::Int32)
        .unwrap()
        .i32()
        .unwrap()
        .max()
        .unwrap();
    let recent = df
        .clone()
        .lazy()
        .filter(col("date").cast(DataType::Int32).gt(lit(last - 45)))
        .collect()
        .unwrap();
    let mut strict = cfg.clone();
    strict.evaluation.min_onsets = 10_000;
    let weak = train(
        recent.clone().lazy(),
        &tenant,
        &strict,
        &reg,
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!(weak.validation.method, validation::Method::None);
    assert_eq!(weak.model, "prior");
    // With the prior disabled, a rule baseline serves instead, and says so.
    let other = tempfile::tempdir().unwrap();
    let mut no_prior = strict.clone();
    no_prior.models.use_prior = false;
    let rule = train(
        recent.clone().lazy(),
        &tenant,
        &no_prior,
        &crate::registry::Registry::open(other.path()),
        &mut |_, _, _| {},
    )
    .unwrap();
    assert!(
        baselines::BaselineRule::ALL
            .iter()
            .any(|r| r.name() == rule.model),
        "{}",
        rule.model
    );
    assert!(
        rule.chosen_because.contains("disabled"),
        "{}",
        rule.chosen_because
    );
    assert!(
        rule.evaluation
            .models
            .iter()
            .all(|m| !pipeline::is_prior(&m.model))
    );
    assert!(!weak.decision.promoted, "{}", weak.decision.reason);
    assert!(
        weak.decision.reason.contains("weaker"),
        "{}",
        weak.decision.reason
    );
    assert_eq!(
        reg.champion(&tenant, crate::registry::ModelKind::Fatigue)
            .unwrap(),
        Some(first.decision.version.clone())
    );

    // Rolling origin on the same recent data: compared with the champion on the same rows,
    // promoted exactly when its printed number is better.
    let mut folds = cfg.clone();
    folds.evaluation.fold_days = 7;
    folds.evaluation.min_train_days = 7;
    let ro = train(recent.lazy(), &tenant, &folds, &reg, &mut |_, _, _| {}).unwrap();
    assert_eq!(
        ro.validation.method,
        validation::Method::RollingOrigin,
        "{}",
        ro.validation.reason
    );
    let r = &ro.decision.reason;
    assert!(r.contains("on the same"), "{r}");
    let nums: Vec<f64> = r
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|t| t.parse::<f64>().ok())
        .filter(|v| *v <= 1.0)
        .collect();
    let (ours, theirs) = (nums[nums.len() - 2], nums[nums.len() - 1]);
    assert_eq!(ro.decision.promoted, ours > theirs, "{r}");
}
