//! The row-by-row engine ([`prepare_rows`]) against the Polars pipelines ([`prepare`]): every
//! creative's labels, every creative-day's status and ratio and every feature value must
//! agree, on simulated accounts (several platforms, reach on some, conversions on some) and
//! on the same data made awkward: days dropped (gaps), fields missing, days restated, an
//! impressions-and-clicks-only source, history cut at an as-of day, and the label switches
//! flipped.

use chrono::NaiveDate;
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::dataset::{
    Prepared, prepare, prepare_frame, prepare_rows, prepare_rows_keep, prepare_rows_last,
};
use super::tests::sim_rows as world_of;
use crate::features::FatigueConfig;
use crate::features::rows::Keep;
use crate::schema::{AdDailyRow, rows_to_frame};

/// Per tenant: its rows, from a small simulated world.
fn world(seed: u64) -> Vec<(String, Vec<AdDailyRow>)> {
    world_of(seed, 2, 30, 90)
}

fn close(a: f64, e: f64) -> bool {
    if a.is_infinite() || e.is_infinite() {
        return a == e;
    }
    (a - e).abs() <= 1e-9 * e.abs().max(1.0)
}

/// Asserts both engines give the same prepared frame.
fn assert_same(tenant: &str, rows: &[AdDailyRow], cfg: &FatigueConfig, what: &str) {
    let lf = rows_to_frame(tenant, rows).expect("frame").lazy();
    let want: Prepared = prepare(lf, cfg).expect("polars prepare");
    let got: Prepared = prepare_rows(tenant, rows, cfg).expect("row prepare");
    assert_prepared_eq(&got, &want, what);

    // Each creative's last day only: the same values as that day's row of the full frame.
    let last: Prepared = prepare_rows_last(tenant, rows, cfg).expect("last rows");
    let mut want_last = vec![None; want.creatives.len()];
    for r in 0..want.day.len() {
        want_last[want.creative[r]] = Some(r);
    }
    assert_eq!(
        last.creatives.len(),
        want.creatives.len(),
        "{what}: last creatives"
    );
    assert_eq!(last.day.len(), want.creatives.len(), "{what}: one row each");
    for (k, &c) in last.creative.iter().enumerate() {
        assert_eq!(c, k, "{what}: last rows in creative order");
        let r = want_last[c].expect("every creative has a row");
        assert_eq!(last.day[k], want.day[r], "{what}: last day of {c}");
        assert_eq!(last.status[k], want.status[r], "{what}: last status of {c}");
        assert_eq!(
            last.ratio[k].is_some(),
            want.ratio[r].is_some(),
            "{what}: ratio {c}"
        );
        for j in 0..want.x.ncols() {
            let (g, w) = (last.x[[k, j]], want.x[[r, j]]);
            assert!(
                close(g, w),
                "{what}: last row `{}` of creative {}: rows {g}, polars {w}",
                want.feature_names[j],
                want.creatives[c].key.ad_id
            );
        }
    }
}

/// Asserts two prepared frames hold the same creatives, rows and values.
fn assert_prepared_eq(got: &Prepared, want: &Prepared, what: &str) {
    assert_eq!(
        got.feature_names, want.feature_names,
        "{what}: feature names"
    );
    assert_eq!(
        got.creatives.len(),
        want.creatives.len(),
        "{what}: creatives"
    );
    for (g, w) in got.creatives.iter().zip(&want.creatives) {
        assert_eq!(g.key, w.key, "{what}: creative order");
        let k = &w.key.ad_id;
        assert_eq!(g.onset, w.onset, "{what}: onset of {k}");
        assert_eq!(
            g.onset_unadjusted, w.onset_unadjusted,
            "{what}: unadjusted onset of {k}"
        );
        assert_eq!(g.metric, w.metric, "{what}: metric of {k}");
        assert_eq!(g.stopped, w.stopped, "{what}: stopped {k}");
        assert_eq!(g.censor, w.censor, "{what}: censor of {k}");
        assert_eq!(g.last_active, w.last_active, "{what}: last active of {k}");
        assert_eq!(g.insufficient, w.insufficient, "{what}: insufficient {k}");
        assert_eq!(g.left_truncated, w.left_truncated, "{what}: left trunc {k}");
    }
    assert_eq!(got.creative, want.creative, "{what}: row creatives");
    assert_eq!(got.day, want.day, "{what}: row days");
    assert_eq!(got.status, want.status, "{what}: statuses");
    for (r, (g, w)) in got.ratio.iter().zip(&want.ratio).enumerate() {
        let ok = match (g, w) {
            (Some(g), Some(w)) => close(*g, *w),
            (None, None) => true,
            _ => false,
        };
        assert!(ok, "{what}: ratio at row {r}: rows {g:?}, polars {w:?}");
    }
    assert_eq!(got.x.dim(), want.x.dim(), "{what}: matrix shape");
    for ((r, j), w) in want.x.indexed_iter() {
        let g = got.x[[r, j]];
        assert!(
            close(g, *w),
            "{what}: `{}` at row {r} (creative {}, day {}): rows {g}, polars {w}",
            want.feature_names[j],
            want.creatives[want.creative[r]].key.ad_id,
            want.day[r]
        );
    }
}

#[test]
fn row_engine_matches_polars_on_simulated_accounts() {
    let cfg = FatigueConfig::default();
    for (tenant, rows) in world(41) {
        assert_same(&tenant, &rows, &cfg, "as simulated");
    }
}

#[test]
fn row_engine_matches_polars_on_awkward_data() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let cfg = FatigueConfig::default();
    for (tenant, rows) in world(42) {
        // Gaps, missing fields and restated days (a repeated day: the last row wins).
        let mut messy: Vec<AdDailyRow> = Vec::with_capacity(rows.len());
        let mut restated = Vec::new();
        for r in &rows {
            if rng.gen_bool(0.08) {
                continue;
            }
            let mut r = r.clone();
            if rng.gen_bool(0.05) {
                r.spend = None;
            }
            if rng.gen_bool(0.1) {
                r.conversions = None;
            }
            if rng.gen_bool(0.1) {
                r.reach = if r.reach.is_some() {
                    None
                } else {
                    Some(r.impressions / 2)
                };
            }
            if rng.gen_bool(0.03) {
                let mut again = r.clone();
                again.impressions = (r.impressions as f64 * 1.1) as i64;
                again.clicks += 1;
                restated.push(again);
            }
            messy.push(r);
        }
        messy.extend(restated);
        assert_same(&tenant, &messy, &cfg, "gaps, missing fields, restated days");

        // Impressions and clicks only: the labels fall back to inverse CTR.
        let bare: Vec<AdDailyRow> = rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.spend = None;
                r.conversions = None;
                r.conversion_value = None;
                r
            })
            .collect();
        assert_same(&tenant, &bare, &cfg, "impressions and clicks only");

        // History cut at an as-of day, as scoring reads it.
        let cut = NaiveDate::from_ymd_opt(2026, 2, 20).expect("date");
        let early: Vec<AdDailyRow> = rows.iter().filter(|r| r.date <= cut).cloned().collect();
        assert_same(&tenant, &early, &cfg, "cut at an as-of day");
    }
}

#[test]
fn row_engine_matches_polars_with_other_label_settings() {
    let (tenant, rows) = world(43).swap_remove(0);
    let mut cfg = FatigueConfig::default();
    cfg.labels.seasonal_adjustment = false;
    cfg.labels.account_index_leave_one_out = false;
    cfg.labels.rolling_days = 5;
    cfg.labels.onset_consecutive_days = 2;
    cfg.features.labels = cfg.labels.clone();
    cfg.features.slope_days = 10;
    assert_same(&tenant, &rows, &cfg, "other label settings");
}

#[test]
fn row_engine_scores_one_creative_like_polars() {
    // One creative alone (the shape of a single-creative API request), 28 days.
    let (tenant, rows) = world(44).swap_remove(1);
    let first = rows[0].ad_id.clone();
    let one: Vec<AdDailyRow> = rows
        .iter()
        .filter(|r| r.ad_id == first)
        .take(28)
        .cloned()
        .collect();
    assert_same(&tenant, &one, &FatigueConfig::default(), "one creative");
}

#[test]
fn row_engine_matches_polars_when_computed_on_all_cores() {
    // Enough creatives in one call for the parallel path: each simulated creative five more
    // times under other ids, with its volumes scaled (accounts computed on all cores).
    let (tenant, rows) = world_of(45, 1, 60, 60).swap_remove(0);
    let mut many = rows.clone();
    for k in 2..=6 {
        many.extend(rows.iter().map(|r| {
            let mut r = r.clone();
            r.ad_id = format!("{}-{k}", r.ad_id);
            r.impressions *= k;
            r.clicks = r.clicks * k - (k - 1) * (r.clicks % 2);
            r.spend = r.spend.map(|s| s * k as f64 * 0.9);
            r
        }));
    }
    // And six more copies in one Meta account, large enough to be split across cores.
    for k in 7..=12 {
        many.extend(rows.iter().map(|r| {
            let mut r = r.clone();
            r.ad_id = format!("{}-{}-{k}", r.platform.as_str(), r.ad_id);
            r.platform = crate::platforms::Platform::Meta;
            r.account_id = "big".into();
            r.impressions *= k;
            r
        }));
    }
    let creatives: std::collections::HashSet<&str> =
        many.iter().map(|r| r.ad_id.as_str()).collect();
    assert!(creatives.len() >= 256, "{} creatives", creatives.len());
    // One account large enough to be split across cores (chunks of 128 creatives).
    let mut per_account: std::collections::HashMap<(&str, &str), std::collections::HashSet<&str>> =
        Default::default();
    for r in &many {
        per_account
            .entry((r.platform.as_str(), r.account_id.as_str()))
            .or_default()
            .insert(r.ad_id.as_str());
    }
    let largest = per_account.values().map(|s| s.len()).max().unwrap_or(0);
    assert!(largest > 2 * 128, "largest account: {largest} creatives");
    assert_same(&tenant, &many, &FatigueConfig::default(), "parallel");
}

#[test]
fn scores_from_a_frame_equal_the_polars_scores() {
    use crate::fatigue::tests::{logistic_on, small_config};
    use crate::fatigue::{score, score_frame};
    let cfg = small_config();
    let (tenant, rows) = world_of(46, 1, 40, 200).swap_remove(0);
    let df = rows_to_frame(&tenant, &rows).expect("frame");
    let model = logistic_on(&df, &cfg);
    let as_of = NaiveDate::from_ymd_opt(2026, 6, 15).expect("date");
    let want = score(df.clone().lazy(), as_of, &model, "v", &cfg).expect("polars scores");
    let got = score_frame(&df, &tenant, as_of, &model, "v", &cfg).expect("row scores");
    assert!(!want.is_empty());
    assert_eq!(got.len(), want.len());
    let near = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => close(a, b),
        (None, None) => true,
        _ => false,
    };
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            (&g.ad_id, &g.status, &g.action),
            (&w.ad_id, &w.status, &w.action)
        );
        assert!(near(g.p_onset_7d, w.p_onset_7d), "{} p7", w.ad_id);
        assert!(near(g.p_onset_14d, w.p_onset_14d), "{} p14", w.ad_id);
        assert!(near(g.expected_days_to_onset, w.expected_days_to_onset));
        assert_eq!(g.drivers, w.drivers, "{}", w.ad_id);
    }
}

#[test]
fn frames_of_several_tenants_prepare_like_polars() {
    // Three tenants in one frame, out of name order; the third is a copy of the first under
    // another name (same account and ad ids: only the tenant keeps them apart) with its
    // volumes changed.
    let world = world(47);
    let (first, rows) = &world[0];
    let copy: Vec<AdDailyRow> = rows
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.impressions = r.impressions * 3 / 2;
            r.spend = r.spend.map(|s| s * 1.7);
            r
        })
        .collect();
    let mut pooled = rows_to_frame("zz-copy", &copy).expect("frame");
    for (tenant, rows) in world.iter().rev() {
        pooled
            .vstack_mut(&rows_to_frame(tenant, rows).expect("frame"))
            .expect("same schema");
    }
    let cfg = FatigueConfig::default();
    let want = prepare(pooled.clone().lazy(), &cfg).expect("polars prepare");
    let got = prepare_frame(&pooled, &cfg, Keep::All).expect("row prepare");
    let tenants: Vec<&str> = got
        .creatives
        .iter()
        .map(|c| c.key.tenant.as_str())
        .collect();
    assert!(tenants.contains(&first.as_str()) && tenants.contains(&"zz-copy"));
    assert_prepared_eq(&got, &want, "three tenants");
}

#[test]
fn rule_counts_from_labels_equal_the_polars_counts() {
    use crate::features::{label_creatives, rule_counts};
    // Polars plans recurse deeply in debug builds: a roomy stack.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let cfg = FatigueConfig::default();
            for (tenant, rows) in world(48) {
                let lf = rows_to_frame(&tenant, &rows).expect("frame").lazy();
                let want =
                    rule_counts(label_creatives(lf, &cfg.labels).expect("labels")).expect("counts");
                let prepared = prepare_rows(&tenant, &rows, &cfg).expect("prepare");
                let got = super::dataset::rule_counts_of(&prepared.creatives);
                assert_eq!(got, want, "{tenant}");
                assert!(
                    want.events > 0 && want.onset_changed_by_adjustment > 0,
                    "{want:?}"
                );
            }
        })
        .expect("thread")
        .join()
        .expect("counts equal");
}

#[test]
fn training_rows_from_at_risk_days_equal_those_from_every_day() {
    use super::dataset::survival_rows;
    use crate::fatigue::tests::small_config;
    let mut cfg = small_config();
    for stride in [1, 2, 3] {
        cfg.evaluation.stride_days = stride;
        for (tenant, rows) in world(49) {
            let all = prepare_rows(&tenant, &rows, &cfg.base).expect("all days");
            let few =
                prepare_rows_keep(&tenant, &rows, &cfg.base, Keep::AtRiskEvery(stride as u32))
                    .expect("at-risk days");
            assert!(few.day.len() < all.day.len());
            let (want, got) = (
                survival_rows(&all, &cfg.evaluation),
                survival_rows(&few, &cfg.evaluation),
            );
            assert!(want.len() > 100, "{}", want.len());
            assert_eq!(got.creative, want.creative, "stride {stride}");
            assert_eq!(got.as_of, want.as_of);
            assert_eq!(got.duration, want.duration);
            assert_eq!(got.event, want.event);
            assert_eq!(got.onset, want.onset);
            assert_eq!(got.x, want.x, "stride {stride}: features");
        }
    }
}
