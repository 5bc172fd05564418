//! Label tests on tiny hand-written frames; expectations computed by hand in the comments.

use polars::prelude::*;

use super::cols::*;
use super::testutil::*;
use super::{LabelConfig, label_creatives, label_days, rule_counts};
use crate::schema::{AdDailyRow, cols as ad};

const TOL: f64 = 1e-9;

fn days(rows: &[AdDailyRow], cfg: &LabelConfig) -> DataFrame {
    let (rows, cfg) = (rows.to_vec(), cfg.clone());
    big_stack(move || label_days(frame(&rows), &cfg).unwrap().collect().unwrap())
}
fn creatives(rows: &[AdDailyRow], cfg: &LabelConfig) -> DataFrame {
    let (rows, cfg) = (rows.to_vec(), cfg.clone());
    big_stack(move || {
        label_creatives(frame(&rows), &cfg)
            .unwrap()
            .collect()
            .unwrap()
    })
}
fn counts(rows: &[AdDailyRow], cfg: &LabelConfig) -> super::RuleCounts {
    let (rows, cfg) = (rows.to_vec(), cfg.clone());
    big_stack(move || rule_counts(label_creatives(frame(&rows), &cfg).unwrap()).unwrap())
}
/// The status column as strings.
fn statuses(d: &DataFrame) -> Vec<String> {
    let c = d.column(STATUS).unwrap().str().unwrap();
    (0..c.len())
        .map(|i| c.get(i).unwrap_or("null").to_string())
        .collect()
}
fn no_adjust() -> LabelConfig {
    LabelConfig {
        seasonal_adjustment: false,
        ..LabelConfig::default()
    }
}
fn dates(ds: &[u32]) -> Column {
    Column::new(
        ad::DATE.into(),
        ds.iter().map(|d| day(*d)).collect::<Vec<_>>(),
    )
}
fn opt_dates(name: &str, ds: &[Option<u32>]) -> Column {
    Column::new(
        name.into(),
        ds.iter().map(|d| d.map(day)).collect::<Vec<_>>(),
    )
}
fn ads(name: &str, n: usize) -> Column {
    Column::new(ad::AD_ID.into(), vec![name; n])
}
fn df(cols: Vec<Column>) -> DataFrame {
    let h = cols.first().map_or(0, |c| c.len());
    DataFrame::new(h, cols).unwrap()
}
/// Rows of one creative only.
fn only(d: &DataFrame, ad_id: &str) -> DataFrame {
    d.clone()
        .lazy()
        .filter(col(ad::AD_ID).eq(lit(ad_id)))
        .collect()
        .unwrap()
}
const DAY_ORDER: [&str; 2] = [ad::AD_ID, ad::DATE];

fn f(name: &str, v: &[Option<f64>]) -> Column {
    Column::new(name.into(), v.to_vec())
}
fn s(name: &str, v: &[Option<&str>]) -> Column {
    Column::new(name.into(), v.to_vec())
}
fn b(name: &str, v: &[bool]) -> Column {
    Column::new(name.into(), v.to_vec())
}
fn status(v: &[&str]) -> Column {
    Column::new(STATUS.into(), v.to_vec())
}
const INS: &str = STATUS_INSUFFICIENT;
const OK: &str = STATUS_HEALTHY;
const LIM: &str = STATUS_LIMITED;
const FAT: &str = STATUS_FATIGUED;
const INF: f64 = f64::INFINITY;

/// Daily rows of one creative from day `start`: (impressions, clicks, spend, conversions).
fn series(
    acct: &str,
    ad_id: &str,
    start: u32,
    v: &[(i64, i64, Option<f64>, Option<f64>)],
) -> Vec<AdDailyRow> {
    v.iter()
        .enumerate()
        .map(|(i, &(imp, clk, sp, cv))| row(acct, ad_id, start + i as u32, imp, clk, sp, cv))
        .collect()
}

#[test]
fn baseline_ends_where_1000_impressions_are_reached_within_7_active_days() {
    let mut rows = series(
        "A",
        "exact",
        1,
        &[
            (400, 20, Some(20.0), None),
            (400, 20, Some(20.0), None),
            (200, 10, Some(10.0), None),
            (500, 10, Some(15.0), None),
        ],
    );
    // 7 active days of 100 impressions (700), the floor only on the 8th active day: too late.
    rows.extend(series("A", "cap", 1, &[(100, 1, Some(1.0), None); 7]));
    rows.push(row("A", "cap", 8, 400, 4, Some(4.0), None));
    // 6 active days of 100, day 7 missing (not an active day), day 8 brings 400: cumulative
    // 1,000 on the 7th active day, so the baseline ends on day 8.
    rows.extend(series("A", "gapcap", 1, &[(100, 5, Some(5.0), None); 6]));
    rows.push(row("A", "gapcap", 8, 400, 20, Some(20.0), None));
    let cfg = no_adjust();

    // exact: cumulative impressions 400, 800, 1000 → baseline ends day 3 with spend 50 over 50
    // clicks (no conversions reported) → CPC baseline 50/50 = 1.0. Day 4: 7-day sums (days 1-4)
    // spend 65, clicks 60 → 65/60 = 1.0833…; ratio 1.0833 < 1.3 → healthy. Nothing is known
    // before day 3; the ratio only after it.
    let got = only(&days(&rows, &cfg), "exact");
    let want = df(vec![
        ads("exact", 4),
        dates(&[1, 2, 3, 4]),
        Column::new(AGE_DAYS.into(), vec![0i64, 1, 2, 3]),
        s(METRIC_KIND, &[None, None, Some("cpc"), Some("cpc")]),
        f(BASELINE_VALUE, &[None, None, Some(1.0), Some(1.0)]),
        f(ROLLING_VALUE, &[None, None, Some(1.0), Some(65.0 / 60.0)]),
        f(RATIO, &[None, None, None, Some(65.0 / 60.0)]),
        status(&[INS, INS, INS, OK]),
    ]);
    assert_frame_near(&got, &want, &DAY_ORDER, TOL);

    // gapcap: baseline spend 6·5 + 20 = 50, clicks 6·5 + 20 = 50 → 1.0.
    let got = creatives(&rows, &cfg);
    let want = df(vec![
        Column::new(ad::AD_ID.into(), vec!["cap", "exact", "gapcap"]),
        opt_dates(BASELINE_END_DATE, &[None, Some(3), Some(8)]),
        s(METRIC_KIND, &[None, Some("cpc"), Some("cpc")]),
        f(BASELINE_VALUE, &[None, Some(1.0), Some(1.0)]),
        b(INSUFFICIENT_DATA, &[true, false, false]),
    ]);
    assert_frame_near(&got, &want, &[ad::AD_ID], TOL);
    let cap = only(&days(&rows, &cfg), "cap");
    assert_eq!(cap.height(), 8);
    assert!(statuses(&cap).iter().all(|v| v == INS));
}

#[test]
fn metric_falls_back_from_cpa_to_cpc_to_inverse_ctr() {
    let mut rows = vec![
        // 5 conversions on 100 spend → CPA 100/5 = 20.
        row("B", "cpa", 1, 1000, 20, Some(100.0), Some(5.0)),
        // 4 conversions < 5 → CPC 100/20 = 5.
        row("B", "cpc", 1, 1000, 20, Some(100.0), Some(4.0)),
        // conversions not reported → CPC 5.
        row("B", "noconv", 1, 1000, 20, Some(100.0), None),
        // 9 clicks < 10 for both CPC and inverse CTR → insufficient.
        row("B", "few", 1, 1000, 9, Some(100.0), Some(0.0)),
        // spend reported but 0 → no cost metric → inverse CTR 1000/20 = 50.
        row("B", "free", 1, 1000, 20, Some(0.0), Some(10.0)),
    ];
    // No spend, no conversions (impressions and clicks only). Baseline days 1-2: 1000
    // impressions, 15 clicks → 1000/15 = 66.667. Day 3 (7-day sums): 1500/17 = 88.235;
    // ratio (1500/17)/(1000/15) = 22500/17000 = 1.32353 → limited.
    rows.extend(series(
        "B",
        "ctr",
        1,
        &[
            (500, 10, None, None),
            (500, 5, None, None),
            (500, 2, None, None),
        ],
    ));
    let cfg = no_adjust();
    let got = creatives(&rows, &cfg);
    let want = df(vec![
        Column::new(
            ad::AD_ID.into(),
            vec!["cpa", "cpc", "ctr", "few", "free", "noconv"],
        ),
        s(
            METRIC_KIND,
            &[
                Some("cpa"),
                Some("cpc"),
                Some("inv_ctr"),
                None,
                Some("inv_ctr"),
                Some("cpc"),
            ],
        ),
        f(
            BASELINE_VALUE,
            &[
                Some(20.0),
                Some(5.0),
                Some(1000.0 / 15.0),
                None,
                Some(50.0),
                Some(5.0),
            ],
        ),
        b(
            INSUFFICIENT_DATA,
            &[false, false, false, true, false, false],
        ),
    ]);
    assert_frame_near(&got, &want, &[ad::AD_ID], TOL);

    let got = only(&days(&rows, &cfg), "ctr");
    let want = df(vec![
        ads("ctr", 3),
        dates(&[1, 2, 3]),
        f(
            ROLLING_VALUE,
            &[None, Some(1000.0 / 15.0), Some(1500.0 / 17.0)],
        ),
        f(RATIO, &[None, None, Some(22500.0 / 17000.0)]),
        status(&[INS, INS, LIM]),
    ]);
    assert_frame_near(&got, &want, &DAY_ORDER, TOL);

    let c = counts(&rows, &cfg);
    assert_eq!(
        (
            c.creatives,
            c.metric_cpa,
            c.metric_cpc,
            c.metric_inv_ctr,
            c.insufficient_data
        ),
        (6, 1, 2, 2, 1)
    );
}

#[test]
fn rolling_value_is_a_ratio_of_sums_not_a_mean_of_ratios() {
    // Baseline day 1: CPC 10/10 = 1. Day 2: 5 spend / 1 click (daily CPC 5). Day 3: 10/10.
    // Ratio of sums: day 2 = 15/11 = 1.3636 (limited), day 3 = 25/21 = 1.1905 (healthy).
    // A mean of daily ratios would give (1+5)/2 = 3.0 and (1+5+1)/3 = 2.33 instead.
    let rows = series(
        "A",
        "r",
        1,
        &[
            (1000, 10, Some(10.0), None),
            (100, 1, Some(5.0), None),
            (1000, 10, Some(10.0), None),
        ],
    );
    let got = days(&rows, &no_adjust());
    let want = df(vec![
        ads("r", 3),
        dates(&[1, 2, 3]),
        f(
            ROLLING_VALUE,
            &[Some(1.0), Some(15.0 / 11.0), Some(25.0 / 21.0)],
        ),
        f(RATIO, &[None, Some(15.0 / 11.0), Some(25.0 / 21.0)]),
        status(&[INS, LIM, OK]),
    ]);
    assert_frame_near(&got, &want, &DAY_ORDER, TOL);
}

#[test]
fn onset_needs_three_consecutive_days_at_twice_the_baseline() {
    // One-day window so the daily ratio is the rolling ratio. Baseline day 1: CPC 10/10 = 1.
    let cfg = LabelConfig {
        rolling_days: 1,
        ..no_adjust()
    };
    let day_spend = |ad_id: &str, spends: &[f64]| {
        let mut v = vec![row("A", ad_id, 1, 1000, 10, Some(10.0), None)];
        v.extend(
            spends
                .iter()
                .enumerate()
                .map(|(i, s)| row("A", ad_id, 2 + i as u32, 1000, 10, Some(*s), None)),
        );
        v
    };
    // Ratios from day 2: 2.5, 2.0, 1.5 (dip), 3.0, 2.0, 2.2 (run complete day 7), 1.0.
    let mut rows = day_spend("o", &[25.0, 20.0, 15.0, 30.0, 20.0, 22.0, 10.0]);
    // Ratios 2.5, 2.2, then a dip 1.5, 2.5, 2.4, 1.0: two days above then a dip, never three.
    rows.extend(day_spend("dip", &[25.0, 22.0, 15.0, 25.0, 24.0, 10.0]));
    // CPA baseline 100/5 = 20; days 2-4 spend 50 with 0 conversions → +∞ (above); day 5 has
    // impressions but no spend and no conversions → unknown.
    rows.push(row("A", "inf", 1, 1000, 50, Some(100.0), Some(5.0)));
    rows.extend(series(
        "A",
        "inf",
        2,
        &[(1000, 50, Some(50.0), Some(0.0)); 3],
    ));
    rows.push(row("A", "inf", 5, 1000, 50, Some(0.0), Some(0.0)));
    let got = days(&rows, &cfg);
    let want = df(vec![
        ads("o", 8),
        dates(&[1, 2, 3, 4, 5, 6, 7, 8]),
        f(
            RATIO,
            &[
                None,
                Some(2.5),
                Some(2.0),
                Some(1.5),
                Some(3.0),
                Some(2.0),
                Some(2.2),
                Some(1.0),
            ],
        ),
        // Fatigued only once the run is complete (day 7), and it stays fatigued.
        status(&[INS, LIM, LIM, LIM, LIM, LIM, FAT, FAT]),
    ]);
    assert_frame_near(&only(&got, "o"), &want, &DAY_ORDER, TOL);
    let want = df(vec![
        ads("inf", 5),
        dates(&[1, 2, 3, 4, 5]),
        f(
            ROLLING_VALUE,
            &[Some(20.0), Some(INF), Some(INF), Some(INF), None],
        ),
        f(RATIO, &[None, Some(INF), Some(INF), Some(INF), None]),
        status(&[INS, LIM, LIM, FAT, FAT]),
    ]);
    assert_frame_near(&only(&got, "inf"), &want, &DAY_ORDER, TOL);
    let dip = only(&got, "dip");
    assert!(!statuses(&dip).iter().any(|v| v == FAT));

    let got = creatives(&rows, &cfg);
    let want = df(vec![
        Column::new(ad::AD_ID.into(), vec!["dip", "inf", "o"]),
        opt_dates(ONSET_DATE, &[None, Some(2), Some(5)]),
        b(EVENT, &[false, true, true]),
        b(CENSORED, &[true, false, false]),
    ]);
    assert_frame_near(&got, &want, &[ad::AD_ID], TOL);
}

#[test]
fn stopped_creatives_are_censored_at_their_last_active_day() {
    let steady =
        |ad_id: &str, n: usize| series("C", ad_id, 1, &vec![(1000, 10, Some(10.0), None); n]);
    let mut rows = steady("long", 10); // runs to the account's last day, 10
    rows.extend(steady("stop", 5)); // 10 − 5 = 5 ≥ 3 days silent → stopped at 5
    rows.extend(steady("edge", 7)); // 10 − 7 = 3 → stopped at 7
    rows.extend(steady("near", 8)); // 10 − 8 = 2 → still running, censored at 10
    rows.extend(steady("zero_tail", 6)); // reported zeros on days 7-9: last active day 6
    rows.extend(series("C", "zero_tail", 7, &[(0, 0, Some(0.0), None); 3]));
    // Baseline day 1 CPC 1; days 2-4 spend 30 per 10 clicks. 7-day ratios: (10+30)/20 = 2,
    // 70/30 = 2.33, 100/40 = 2.5 → run complete on day 4, onset day 2: an event, not censored.
    rows.extend(steady("fat", 1));
    rows.extend(series("C", "fat", 2, &[(1000, 10, Some(30.0), None); 3]));
    // Reported rows but never an impression: never active, counts as stopped at its first day.
    rows.extend(series("C", "never", 1, &[(0, 0, Some(0.0), None); 2]));
    let cfg = no_adjust();
    let got = creatives(&rows, &cfg);
    let want = df(vec![
        Column::new(
            ad::AD_ID.into(),
            vec!["edge", "fat", "long", "near", "never", "stop", "zero_tail"],
        ),
        opt_dates(
            LAST_ACTIVE_DATE,
            &[Some(7), Some(4), Some(10), Some(8), None, Some(5), Some(6)],
        ),
        opt_dates(ONSET_DATE, &[None, Some(2), None, None, None, None, None]),
        b(STOPPED, &[true, true, false, false, true, true, true]),
        opt_dates(
            CENSOR_DATE,
            &[
                Some(7),
                Some(4),
                Some(10),
                Some(10),
                Some(1),
                Some(5),
                Some(6),
            ],
        ),
        b(CENSORED, &[true, false, true, true, true, true, true]),
        b(
            INSUFFICIENT_DATA,
            &[false, false, false, false, true, false, false],
        ),
    ]);
    assert_frame_near(&got, &want, &[ad::AD_ID], TOL);
    let c = counts(&rows, &cfg);
    assert_eq!(
        (c.events, c.censored_stopped, c.censored_end_of_data),
        (1, 4, 2)
    );
}

#[test]
fn a_missing_day_is_a_calendar_day_with_zero_delivery() {
    // Day 2 missing. Two-day window: day 2 covers days 1-2 → 10/10 = 1; day 3 covers days 2-3
    // → 3/1 = 3.0. Had the gap been skipped, day 3 would cover days 1 and 3: 13/11 = 1.18.
    let rows = vec![
        row("A", "g", 1, 1000, 10, Some(10.0), None),
        row("A", "g", 3, 100, 1, Some(3.0), None),
    ];
    let got = days(
        &rows,
        &LabelConfig {
            rolling_days: 2,
            ..no_adjust()
        },
    );
    let want = df(vec![
        ads("g", 3),
        dates(&[1, 2, 3]),
        Column::new(AGE_DAYS.into(), vec![0i64, 1, 2]),
        f(ROLLING_VALUE, &[Some(1.0), Some(1.0), Some(3.0)]),
        f(RATIO, &[None, Some(1.0), Some(3.0)]),
        status(&[INS, OK, LIM]),
    ]);
    assert_frame_near(&got, &want, &DAY_ORDER, TOL);
}

#[test]
fn a_restated_day_is_counted_once() {
    // "twice": day 2 delivered first with spend 10, then restated with spend 30 (same key, the
    // later row wins). "once": the frame as it is after ingest, restated value only. Both give
    // day 2 = (10 + 30)/(10 + 10) = 2.0; summing both versions would give 50/30 = 1.667.
    let rows = vec![
        row("A", "twice", 1, 1000, 10, Some(10.0), None),
        row("A", "twice", 2, 1000, 10, Some(10.0), None),
        row("A", "twice", 2, 1000, 10, Some(30.0), None),
        row("A", "once", 1, 1000, 10, Some(10.0), None),
        row("A", "once", 2, 1000, 10, Some(30.0), None),
    ];
    let got = days(&rows, &no_adjust());
    for ad_id in ["once", "twice"] {
        let want = df(vec![
            ads(ad_id, 2),
            dates(&[1, 2]),
            f(ROLLING_VALUE, &[Some(1.0), Some(2.0)]),
            f(RATIO, &[None, Some(2.0)]),
        ]);
        assert_frame_near(&only(&got, ad_id), &want, &DAY_ORDER, TOL);
    }
}

#[test]
fn creatives_already_running_when_the_account_starts_are_left_truncated() {
    let mut rows = series("L", "old", 1, &[(1000, 10, Some(10.0), None); 6]);
    rows.extend(series("L", "new", 4, &[(1000, 10, Some(10.0), None); 3]));
    let got = creatives(&rows, &no_adjust());
    let want = df(vec![
        Column::new(ad::AD_ID.into(), vec!["new", "old"]),
        opt_dates(FIRST_DATE, &[Some(4), Some(1)]),
        // The old creative's baseline is its first available day (1,000 impressions).
        opt_dates(BASELINE_END_DATE, &[Some(4), Some(1)]),
        b(LEFT_TRUNCATED, &[false, true]),
    ]);
    assert_frame_near(&got, &want, &[ad::AD_ID], TOL);
    let d = only(&days(&rows, &no_adjust()), "new");
    assert_eq!(d.column(AGE_DAYS).unwrap().i64().unwrap().get(0), Some(0));
    assert_eq!(counts(&rows, &no_adjust()).left_truncated, 1);
}

#[test]
fn seasonal_adjustment_nets_out_an_account_wide_rise() {
    // One-day window. Day 1: every creative CPC 10/10 = 1. Days 2-4: c1-c3 cost 20 per 10
    // clicks (2×, the whole account), c4 cost 40 (4×, really fatigued).
    let cfg = LabelConfig {
        rolling_days: 1,
        ..LabelConfig::default()
    };
    let mut rows = Vec::new();
    for (ad_id, cost) in [("c1", 20.0), ("c2", 20.0), ("c3", 20.0), ("c4", 40.0)] {
        rows.push(row("S", ad_id, 1, 1000, 10, Some(10.0), None));
        rows.extend(series("S", ad_id, 2, &[(1000, 10, Some(cost), None); 3]));
    }
    // c1's index leaves c1 out: others spend 20+20+40 = 80 over 30 clicks = 2.667 vs 30/30 = 1 on
    // its baseline day → index 2.667; adjusted 2/2.667 = 0.75 → healthy.
    // c4's index: others 60/30 = 2 → adjusted 4/2 = 2.0 → fatigued on day 4, onset day 2.
    let got = days(&rows, &cfg);
    let want = df(vec![
        ads("c1", 4),
        dates(&[1, 2, 3, 4]),
        f(RATIO, &[None, Some(2.0), Some(2.0), Some(2.0)]),
        f(
            ACCOUNT_INDEX,
            &[
                None,
                Some(80.0 / 30.0),
                Some(80.0 / 30.0),
                Some(80.0 / 30.0),
            ],
        ),
        f(ADJUSTED_RATIO, &[None, Some(0.75), Some(0.75), Some(0.75)]),
        status(&[INS, OK, OK, OK]),
    ]);
    assert_frame_near(&only(&got, "c1"), &want, &DAY_ORDER, TOL);
    let want = df(vec![
        ads("c4", 4),
        dates(&[1, 2, 3, 4]),
        f(ADJUSTED_RATIO, &[None, Some(2.0), Some(2.0), Some(2.0)]),
        status(&[INS, LIM, LIM, FAT]),
    ]);
    assert_frame_near(&only(&got, "c4"), &want, &DAY_ORDER, TOL);

    let got = creatives(&rows, &cfg);
    let want = df(vec![
        Column::new(ad::AD_ID.into(), vec!["c1", "c2", "c3", "c4"]),
        opt_dates(ONSET_DATE, &[None, None, None, Some(2)]),
        opt_dates(ONSET_DATE_UNADJUSTED, &[Some(2), Some(2), Some(2), Some(2)]),
    ]);
    assert_frame_near(&got, &want, &[ad::AD_ID], TOL);
    let c = counts(&rows, &cfg);
    assert_eq!(
        (
            c.events,
            c.onset_changed_by_adjustment,
            c.onset_removed_by_adjustment,
            c.onset_added_by_adjustment,
            c.onset_moved_by_adjustment
        ),
        (1, 3, 3, 0, 0)
    );
    // Unadjusted, every creative is fatigued.
    assert_eq!(
        counts(
            &rows,
            &LabelConfig {
                seasonal_adjustment: false,
                ..cfg.clone()
            }
        )
        .events,
        4
    );
    // With the creative inside its own index: c4's index is 100/40 = 2.5, adjusted 4/2.5 = 1.6
    // → limited only; this is why leave-one-out is the default.
    let incl = LabelConfig {
        account_index_leave_one_out: false,
        ..cfg
    };
    let d = only(&days(&rows, &incl), "c4");
    let want = df(vec![
        ads("c4", 4),
        dates(&[1, 2, 3, 4]),
        f(ADJUSTED_RATIO, &[None, Some(1.6), Some(1.6), Some(1.6)]),
        status(&[INS, LIM, LIM, LIM]),
    ]);
    assert_frame_near(&d, &want, &DAY_ORDER, TOL);
}

/// Cross-check against an independent implementation of the same definition: the simulator's
/// incremental onset detector (`simulate::truth`, plain Rust loops over each creative's
/// noise-free series). Our pipeline is configured to that definition — CPA only (no fallback),
/// no seasonal adjustment — and fed the same series; impressions are scaled ×1,000 (and the floor
/// with them) so rounding them to integers cannot move the baseline's last day.
#[test]
fn onsets_agree_with_the_simulators_detector() {
    use crate::simulate::{SimConfig, simulate};
    let world = simulate(&SimConfig {
        tenants: 3,
        creatives_per_tenant: 40,
        days: 150,
        ..SimConfig::default()
    })
    .unwrap();
    let mut rows = Vec::new();
    let mut truth = Vec::new();
    for acc in world.tenants.iter().flat_map(|t| &t.accounts) {
        for cr in &acc.creatives {
            truth.push((
                format!("{}/{}", acc.account_id, cr.ad_id),
                cr.latent_onset_day.map(|d| world.date(d)),
            ));
            for (i, d) in cr.days.iter().enumerate() {
                let date = world.date(cr.launch_day + i as i32);
                let mut r =
                    AdDailyRow::new(acc.platform, acc.account_id.clone(), cr.ad_id.clone(), date);
                if d.delivered {
                    r.impressions = (d.expected_impressions * 1000.0).round() as i64;
                    r.clicks = d.expected_clicks.round() as i64;
                    r.spend = Some(d.spend);
                    r.conversions = Some(d.expected_conversions);
                } else {
                    r.spend = Some(0.0);
                    r.conversions = Some(0.0);
                }
                rows.push(r);
            }
        }
    }
    let cfg = LabelConfig {
        baseline_min_impressions: 1_000_000,
        cpa_min_conversions: 1e-12,
        cpc_min_clicks: i64::MAX,
        inv_ctr_min_clicks: i64::MAX,
        seasonal_adjustment: false,
        ..LabelConfig::default()
    };
    let got = creatives(&rows, &cfg);
    let ids = got.column(ad::AD_ID).unwrap().str().unwrap().clone();
    let accts = got.column(ad::ACCOUNT_ID).unwrap().str().unwrap().clone();
    let onsets = got
        .column(ONSET_DATE)
        .unwrap()
        .date()
        .unwrap()
        .physical()
        .clone();
    assert_eq!(got.height(), truth.len());
    let ours: std::collections::HashMap<String, Option<i32>> = (0..got.height())
        .map(|i| {
            let id = format!(
                "{}/{}",
                accts.get(i).unwrap_or(""),
                ids.get(i).unwrap_or("")
            );
            (id, onsets.get(i))
        })
        .collect();
    let with_onset = truth.iter().filter(|(_, o)| o.is_some()).count();
    assert!(
        with_onset >= 5,
        "the simulated world has onsets to compare ({with_onset})"
    );
    for (id, want) in &truth {
        let want = want.map(crate::schema::date_to_days);
        assert_eq!(ours.get(id).copied().flatten(), want, "creative {id}");
    }
}
