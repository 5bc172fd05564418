//! Feature tests: hand-computed values on a tiny account, the model matrix, and the
//! no-look-ahead property (perturbing the future never changes features or status at ≤ t),
//! on the Polars definition and on the row engine that scoring and training run.

use polars::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestRunner};

use super::cols::*;
use super::testutil::*;
use super::{FeatureConfig, LabelConfig, feature_matrix, feature_names, features, label_days};
use crate::schema::{AdDailyRow, cols as ad};

fn feats(rows: &[AdDailyRow], cfg: &FeatureConfig) -> DataFrame {
    let (rows, cfg) = (rows.to_vec(), cfg.clone());
    big_stack(move || features(frame(&rows), &cfg).unwrap().collect().unwrap())
}

fn with_reach(mut r: AdDailyRow, reach: i64) -> AdDailyRow {
    r.reach = Some(reach);
    r
}

fn on_day(d: &DataFrame, ad_id: &str, dd: u32) -> DataFrame {
    d.clone()
        .lazy()
        .filter(
            col(ad::AD_ID)
                .eq(lit(ad_id))
                .and(col(ad::DATE).eq(lit(day(dd)))),
        )
        .collect()
        .unwrap()
}

/// Creative "a" over days 1-3 (2025-03-01 is a Saturday, 03-03 a Monday) and three creatives
/// that only deliver on day 3, all in account F on Meta.
fn account() -> Vec<AdDailyRow> {
    vec![
        with_reach(row("F", "a", 1, 1000, 20, Some(10.0), Some(2.0)), 800),
        with_reach(row("F", "a", 2, 1000, 10, Some(10.0), Some(1.0)), 600),
        with_reach(row("F", "a", 3, 500, 5, Some(10.0), Some(0.0)), 400),
        row("F", "b", 3, 1000, 10, Some(5.0), Some(1.0)),
        row("F", "c", 3, 1000, 30, Some(30.0), Some(3.0)),
        row("F", "d", 3, 1000, 40, Some(80.0), Some(8.0)),
        // A source without cost or conversions, in its own account.
        row("G", "e", 1, 1000, 20, None, None),
    ]
}

fn cfg() -> FeatureConfig {
    FeatureConfig {
        labels: LabelConfig {
            seasonal_adjustment: false,
            ..LabelConfig::default()
        },
        ..FeatureConfig::default()
    }
}

fn one_row(pairs: &[(&str, f64)]) -> DataFrame {
    let cols: Vec<Column> = pairs
        .iter()
        .map(|(n, v)| Column::new((*n).into(), vec![*v]))
        .collect();
    DataFrame::new(1, cols).unwrap()
}

#[test]
fn creative_day_features_match_hand_computation() {
    let got = feats(&account(), &cfg());
    // Creative a, day 3 (all windows cover days 1-3):
    // sums: impressions 2500, clicks 35, spend 30, conversions 3, summed reach 1800.
    // Baseline frozen on day 1 (1,000 impressions): CTR 20/1000 = 0.02, CVR 2/20 = 0.1,
    // CPC 10/20 = 0.5, CPM 1000·10/1000 = 10.
    // 7-day: CTR 35/2500 = 0.014, CVR 3/35, CPC 30/35 = 6/7, CPM 30000/2500 = 12.
    // Running best of the 7-day values: CTR max(0.02, 30/2000, 0.014) = 0.02, CVR max(0.1, 0.1,
    // 3/35) = 0.1, CPC min(0.5, 20/30, 6/7) = 0.5, CPM min(10, 10, 12) = 10.
    // Account medians on day 3 over a, b, c, d: CTR {0.014, .01, .03, .04} → (0.014+0.03)/2 =
    // 0.022 → 0.014/0.022 = 7/11; CVR {3/35, .1, .1, .2} → 0.1 → 6/7; CPC {6/7, .5, 1, 2} →
    // (6/7+1)/2 = 13/14 → 12/13; CPM {12, 5, 30, 80} → 21 → 4/7.
    // Slope of ln((c+0.5)/(i+1)) on t = 0, 1, 2 is (y2 − y0)/2.
    // Label ratio (CPC, baseline 0.5): day 2 (20/30)/0.5 = 1.333 ≥ 1.3 → first limited day 2.
    let slope = ((5.5f64 / 501.0).ln() - (20.5f64 / 1001.0).ln()) / 2.0;
    let want = one_row(&[
        (AGE_DAYS, 2.0),
        (CUM_IMPRESSIONS, 2500.0),
        (CUM_SPEND, 30.0),
        (CUM_CLICKS, 35.0),
        (IMPRESSIONS_7D, 2500.0),
        (SPEND_7D, 30.0),
        (CLICKS_7D, 35.0),
        (FREQUENCY_7D, 2500.0 / 1800.0),
        (CUM_FREQUENCY, 2500.0 / 1800.0),
        (REACH_GROWTH_7D, 0.0), // no previous 7 days: neutral
        (HAS_REACH_7D, 1.0),
        (CTR_1D, 5.0 / 500.0),
        (CTR_3D, 0.014),
        (CTR_7D, 0.014),
        (CVR_1D, 0.0),
        (CVR_3D, 3.0 / 35.0),
        (CVR_7D, 3.0 / 35.0),
        (CPC_1D, 2.0),
        (CPC_3D, 6.0 / 7.0),
        (CPC_7D, 6.0 / 7.0),
        (CPM_1D, 20.0),
        (CPM_3D, 12.0),
        (CPM_7D, 12.0),
        (CTR_VS_BASELINE, 0.7),
        (CVR_VS_BASELINE, 6.0 / 7.0),
        (CPC_VS_BASELINE, 12.0 / 7.0),
        (CPM_VS_BASELINE, 1.2),
        (CTR_VS_PEAK, 0.7),
        (CVR_VS_PEAK, 6.0 / 7.0),
        (CPC_VS_PEAK, 12.0 / 7.0),
        (CPM_VS_PEAK, 1.2),
        (CTR_VS_ACCOUNT, 7.0 / 11.0),
        (CVR_VS_ACCOUNT, 6.0 / 7.0),
        (CPC_VS_ACCOUNT, 12.0 / 13.0),
        (CPM_VS_ACCOUNT, 4.0 / 7.0),
        (LOG_CTR_SLOPE_7D, slope),
        (SLOPE_VALID, 1.0),
        (SPEND_CHANGE_7D, 0.0),
        (SPEND_CHANGE_VALID, 0.0),
        (PLATFORM_CODE, 1.0), // Platform::ALL[1] = Meta
        (WEEKDAY, 1.0),       // Monday
        (DAYS_SINCE_LIMITED, 1.0),
        (EVER_LIMITED, 1.0),
        (HAS_SPEND, 1.0),
        (HAS_CONVERSIONS, 1.0),
        (BASELINE_COMPLETE, 1.0),
        (DELIVERED_1D, 1.0),
        (DELIVERED_3D, 1.0),
        (LEFT_TRUNCATED, 1.0), // a's first row is account F's first day
    ]);
    assert_eq!(want.width(), feature_names().len());
    assert_frame_near(&on_day(&got, "a", 3), &want, &[AGE_DAYS], 1e-9);

    // Day 1: one delivering day → slope undefined (0, flagged); frequency 1000/800; nothing
    // limited yet; Saturday.
    let want = one_row(&[
        (FREQUENCY_7D, 1.25),
        (LOG_CTR_SLOPE_7D, 0.0),
        (SLOPE_VALID, 0.0),
        (DAYS_SINCE_LIMITED, 0.0),
        (EVER_LIMITED, 0.0),
        (WEEKDAY, 6.0),
        (CTR_VS_ACCOUNT, 1.0), // a is the only creative delivering on day 1
    ]);
    assert_frame_near(&on_day(&got, "a", 1), &want, &[WEEKDAY], 1e-9);

    // No spend, no conversions: cost and conversion rates neutral 0, relatives neutral 1,
    // indicators 0; CTR 20/1000 still computed.
    let want = one_row(&[
        (CTR_7D, 0.02),
        (CPC_7D, 0.0),
        (CPM_7D, 0.0),
        (CVR_7D, 0.0),
        (CPC_VS_BASELINE, 1.0),
        (CTR_VS_BASELINE, 1.0), // 0.02 / 0.02
        (HAS_SPEND, 0.0),
        (HAS_CONVERSIONS, 0.0),
        (HAS_REACH_7D, 0.0),
        (FREQUENCY_7D, 0.0),
    ]);
    assert_frame_near(&on_day(&got, "e", 1), &want, &[CTR_7D], 1e-9);
}

#[test]
fn matrix_has_one_column_per_feature_name_in_order() {
    let got = feats(&account(), &cfg());
    let m = feature_matrix(&got).unwrap();
    // Rows: a on days 1-3, b, c, d on day 3, e on day 1.
    assert_eq!(m.dim(), (7, feature_names().len()));
    assert!(m.iter().all(|v| v.is_finite()));
    let mut names = feature_names();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        feature_names().len(),
        "feature names are unique"
    );
    // Rows are sorted by key then date: a (F) days 1-3 first; column 1 is cum_impressions.
    assert_eq!(feature_names()[1], CUM_IMPRESSIONS);
    assert_eq!((m[[0, 1]], m[[1, 1]], m[[2, 1]]), (1000.0, 2000.0, 2500.0));
    let missing = got.drop(CTR_7D).unwrap();
    assert!(feature_matrix(&missing).is_err());
}

/// One random history: 3 creatives × 14 days (creatives 0, 1 in account A with spend, 2 in
/// account B without spend), each day present or not.
type Day = Option<(i64, i64, f64, u8, i64)>;

fn history(days: &[Day], alt: &[Day], t: u32) -> Vec<AdDailyRow> {
    let mut rows = Vec::new();
    for (k, d) in days.iter().enumerate() {
        let (c, dd) = (k / 14, (k % 14) as u32 + 1);
        let Some(orig) = d else { continue };
        // After day t every value changes (rows stay where they are).
        let (imps, clicks, spend, conv, reach) = if dd > t {
            alt[k].unwrap_or((0, 0, 0.0, 0, 0))
        } else {
            *orig
        };
        let acct = if c < 2 { "A" } else { "B" };
        let mut r = row(
            acct,
            &format!("c{c}"),
            dd,
            imps,
            clicks.min(imps),
            None,
            None,
        );
        if c < 2 {
            r.spend = Some(spend);
            r.conversions = Some(f64::from(conv));
            r.reach = Some(reach.min(imps));
        }
        rows.push(r);
    }
    rows
}

fn before(d: DataFrame, t: u32) -> DataFrame {
    d.lazy()
        .filter(col(ad::DATE).lt_eq(lit(day(t))))
        .collect()
        .unwrap()
}

#[test]
fn features_and_status_at_t_never_use_later_days() {
    big_stack(|| {
        let day_s = proptest::option::weighted(
            0.85,
            (0i64..1500, 0i64..60, 0.0f64..80.0, 0u8..6, 0i64..1500),
        );
        let strategy = (
            proptest::collection::vec(day_s.clone(), 42),
            proptest::collection::vec(day_s, 42),
            1u32..14,
        );
        let mut runner = TestRunner::new(PropConfig {
            cases: 24,
            failure_persistence: None,
            ..PropConfig::default()
        });
        let fcfg = FeatureConfig {
            labels: LabelConfig {
                // Small floors so random histories reach baselines and onsets often.
                baseline_min_impressions: 500,
                cpa_min_conversions: 2.0,
                ..LabelConfig::default()
            },
            ..FeatureConfig::default()
        };
        runner
            .run(&strategy, |(days, alt, t)| {
                let a = history(&days, &alt, 14);
                let b = history(&days, &alt, t);
                prop_assume!(!a.is_empty());
                let order = [ad::AD_ID, ad::DATE];
                let fa = before(features(frame(&a), &fcfg).unwrap().collect().unwrap(), t);
                let fb = before(features(frame(&b), &fcfg).unwrap().collect().unwrap(), t);
                assert_frame_near(&fb, &fa, &order, 0.0);
                let la = before(
                    label_days(frame(&a), &fcfg.labels)
                        .unwrap()
                        .collect()
                        .unwrap(),
                    t,
                );
                let lb = before(
                    label_days(frame(&b), &fcfg.labels)
                        .unwrap()
                        .collect()
                        .unwrap(),
                    t,
                );
                assert_frame_near(&lb, &la, &order, 0.0);
                Ok(())
            })
            .unwrap();
    });
}

/// The row engine's rows up to day `t`, keyed by (ad, day): status, capped ratio and every
/// feature, as the service and training read them.
type EngineRows = std::collections::BTreeMap<(String, i32), (&'static str, Option<f64>, Vec<f64>)>;

fn engine_rows(
    rows: &[AdDailyRow],
    fcfg: &FeatureConfig,
    keep: super::rows::Keep,
    t: u32,
) -> EngineRows {
    let input = crate::features::input::DayInput::from_rows(rows);
    let f = super::rows::compute(&input, &fcfg.labels, fcfg, keep);
    let last = crate::schema::date_to_days(day(t));
    (0..f.day.len())
        .filter(|&r| f.day[r] <= last)
        .map(|r| {
            let c = &f.creatives[f.creative[r]];
            (
                (format!("{}/{}", c.account_id, c.ad_id), f.day[r]),
                (f.status[r], f.ratio[r], f.x.row(r).to_vec()),
            )
        })
        .collect()
}

/// The no-look-ahead property on the production path: the row engine (what scoring and
/// training run), for every creative-day kept, every day at or before t, whatever happens
/// after t: the same status, ratio and features, bit for bit; for the rows training keeps
/// and for the last day scoring reads.
#[test]
fn the_row_engine_never_uses_later_days() {
    big_stack(|| {
        let day_s = proptest::option::weighted(
            0.85,
            (0i64..1500, 0i64..60, 0.0f64..80.0, 0u8..6, 0i64..1500),
        );
        let strategy = (
            proptest::collection::vec(day_s.clone(), 42),
            proptest::collection::vec(day_s, 42),
            1u32..14,
        );
        let mut runner = TestRunner::new(PropConfig {
            cases: 64,
            failure_persistence: None,
            ..PropConfig::default()
        });
        let fcfg = FeatureConfig {
            labels: LabelConfig {
                baseline_min_impressions: 500,
                cpa_min_conversions: 2.0,
                ..LabelConfig::default()
            },
            ..FeatureConfig::default()
        };
        let compared = std::cell::Cell::new(0usize);
        runner
            .run(&strategy, |(days, alt, t)| {
                let a = history(&days, &alt, 14);
                let b = history(&days, &alt, t);
                prop_assume!(!a.is_empty());
                for keep in [super::rows::Keep::All, super::rows::Keep::AtRiskEvery(1)] {
                    let ra = engine_rows(&a, &fcfg, keep, t);
                    let rb = engine_rows(&b, &fcfg, keep, t);
                    prop_assert_eq!(ra.keys().collect::<Vec<_>>(), rb.keys().collect::<Vec<_>>());
                    for (k, va) in &ra {
                        let vb = &rb[k];
                        prop_assert_eq!(va.0, vb.0, "status of {:?}", k);
                        prop_assert_eq!(
                            va.1.map(f64::to_bits),
                            vb.1.map(f64::to_bits),
                            "ratio of {:?}",
                            k
                        );
                        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        prop_assert_eq!(bits(&va.2), bits(&vb.2), "features of {:?}", k);
                    }
                    compared.set(compared.get() + ra.len());
                }
                // Scoring at t: the rows up to t, each creative's last day (what the service
                // reads), equal to the last day ≤ t of the full run (to rounding: the last-day
                // mode adds its sums in another order).
                let cut: Vec<AdDailyRow> = a.iter().filter(|r| r.date <= day(t)).cloned().collect();
                if !cut.is_empty() {
                    let last = engine_rows(&cut, &fcfg, super::rows::Keep::Last, t);
                    let full = engine_rows(&a, &fcfg, super::rows::Keep::All, t);
                    for (k, v) in &last {
                        let w = &full[k];
                        prop_assert_eq!(v.0, w.0, "status of {:?}", k);
                        for (j, (x, y)) in v.2.iter().zip(&w.2).enumerate() {
                            prop_assert!(
                                (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0),
                                "feature {} of {:?}: {} vs {}",
                                j,
                                k,
                                x,
                                y
                            );
                        }
                    }
                }
                Ok(())
            })
            .unwrap();
        let compared = compared.get();
        assert!(compared > 1000, "too few rows compared: {compared}");
    });
}
