//! Fatigue labels, features, training and scoring at scale, one timed run each (a run at this
//! size takes seconds to minutes; Criterion would need ten). Run with
//! `cargo bench --bench fatigue_scale` (release build). On a simulated world of
//! `OMNIFY_SCALE_TENANTS` tenants (default 1,000, the simulator's most) × `OMNIFY_SCALE_DAYS`
//! days (default 300), all put under one tenant with account ids made distinct:
//!
//! 1. labels + features (labels, 49 features, label-history features): first exactly what
//!    training runs (`fatigue::prepare_frame` with `Keep::AtRiskEvery(stride)`: the frame's
//!    columns → every day labelled and featurised → the matrix of the days that can become
//!    as-of rows), then the same engine keeping every day's features, then the Polars
//!    pipeline (`fatigue::prepare`, the definition): wall time and the process's peak
//!    resident memory above what it held before (the frame);
//! 2. scoring every creative active at the last day from the warehouse, with a logistic
//!    hazard fitted on the world: through the Polars pipeline (`fatigue::score`, skipped with
//!    `OMNIFY_SCALE_POLARS=0`), through the row-by-row engine (`fatigue::score_frame`: read
//!    the tenant's rows, the engine on their columns, model, drivers — what `omnify score
//!    fatigue` runs at another day), then through the tenant's latest-day snapshot (`fatigue::snapshot`):
//!    the first run, which computes and writes it, and the next, which reads it;
//! 3. fitting each learned family on the first as-of rows whose person-period expansion (one
//!    row per day at risk) reaches `OMNIFY_SCALE_PERSON_PERIODS` (default 1,000,000);
//! 4. scoring from a tenant's materialised latest-day feature snapshot
//!    (`fatigue::snapshot`, what `omnify score fatigue` at the latest day and the service's
//!    `ad_ids` batches read), on a synthetic tenant of `OMNIFY_SCALE_SCORED` creatives
//!    (default 100,000) × 60 days in 100 accounts: the first run, which builds it from the
//!    warehouse and writes it; scoring every active creative from it with each fitted family;
//!    then, per family, a cold process (this binary again, started with `OMNIFY_SCALE_COLD`)
//!    that loads the model's files, reads the snapshot from disk and scores every active
//!    creative — timed from spawning it to its exit.
//!
//! Prints one table; nothing is compared with a target here (docs/benchmarks.md, "Fatigue at
//! scale", does that).

use std::time::Instant;

use chrono::NaiveDate;
use omnify::fatigue::snapshot::{self, Origin};
use omnify::fatigue::{self, FittedModel, JobConfig};
use omnify::features::rows::Keep;
use omnify::schema::{AdDailyRow, rows_to_frame};
use omnify::simulate::{SimConfig, simulate};
use omnify::warehouse::Warehouse;
use polars::prelude::*;

/// The allocator of the `omnify` binary, so the in-process figures are the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A field of /proc/self/status, in MB.
fn status_mb(field: &str) -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets the peak resident memory (VmHWM) to the current resident memory, after handing
/// the heap pages freed by earlier steps back to the system (else a step that reuses them
/// would look smaller than it is).
fn reset_peak() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: glibc's malloc_trim takes no pointers from the caller; it only releases the
        // allocator's own free pages.
        unsafe {
            malloc_trim(0);
        }
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// `n` creatives × `days` days in 100 accounts, every one delivering to the last day, with
/// click-through falling at creative-specific rates (deterministic).
fn synthetic_tenant(n: usize, days: usize) -> Vec<AdDailyRow> {
    let start = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
    let mut rows = Vec::with_capacity(n * days);
    for ad in 0..n {
        let wear = 0.002 + (ad % 17) as f64 * 0.0015;
        for day in 0..days {
            let mut r = AdDailyRow::new(
                omnify::platforms::Platform::Meta,
                format!("acct-{}", ad % 100),
                format!("ad-{ad}"),
                start + chrono::Duration::days(day as i64),
            );
            r.impressions = 2000 + (ad * 37 % 3000) as i64;
            let ctr = 0.02 * (1.0 - wear * day as f64).max(0.2);
            r.clicks = (r.impressions as f64 * ctr).round() as i64;
            r.spend = Some(20.0 + (ad % 11) as f64);
            r.conversions = Some((r.clicks as f64 * 0.05).round());
            r.currency = Some("USD".into());
            rows.push(r);
        }
    }
    rows
}

/// The cold process of step 4: `OMNIFY_SCALE_COLD` = `<warehouse dir>|<model files dir>`.
/// Loads the model, reads tenant `big`'s snapshot (it must be current) and scores every active
/// creative; prints the time of each step.
fn cold_child(spec: &str) {
    let t = Instant::now();
    let (wh_dir, model_dir) = spec.split_once('|').expect("warehouse|model");
    let cfg = JobConfig::from_toml_str("").expect("default config");
    let mut files = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(model_dir).expect("model dir") {
        let e = e.expect("entry");
        let name = e.file_name().to_string_lossy().into_owned();
        files.insert(name, std::fs::read(e.path()).expect("model file"));
    }
    let model = FittedModel::from_files(&files).expect("model");
    let loaded = t.elapsed().as_secs_f64();
    let wh = Warehouse::open(wh_dir).expect("warehouse");
    let found = snapshot::at(&wh, "big", None, &cfg.base).expect("snapshot");
    assert_eq!(
        found.origin,
        Origin::Disk,
        "the snapshot on disk is current"
    );
    let snap = found.snapshot.expect("the tenant has rows");
    let read = t.elapsed().as_secs_f64() - loaded;
    let s = fatigue::score_prepared(
        std::slice::from_ref(&snap.prepared),
        snap.as_of,
        &model,
        "bench",
        &cfg,
    )
    .expect("score");
    let scored = s.iter().map(Vec::len).sum::<usize>();
    let total = t.elapsed().as_secs_f64();
    println!(
        "{scored} scored: model {loaded:.2} s, snapshot read {read:.2} s, score {:.2} s",
        total - loaded - read
    );
}

fn main() {
    if let Ok(spec) = std::env::var("OMNIFY_SCALE_COLD") {
        cold_child(&spec);
        return;
    }
    let tenants = env_num("OMNIFY_SCALE_TENANTS", 1000);
    let days = env_num("OMNIFY_SCALE_DAYS", 300);
    let pp_target = env_num("OMNIFY_SCALE_PERSON_PERIODS", 1_000_000);
    let cfg = JobConfig::from_toml_str("").expect("default config");
    let mut report: Vec<(String, String)> = Vec::new();

    let t = Instant::now();
    let world = simulate(&SimConfig {
        seed: 20_261_126,
        tenants,
        creatives_per_tenant: 1000,
        days,
        ..SimConfig::default()
    })
    .expect("simulate");
    let mut rows: Vec<AdDailyRow> = Vec::new();
    for t in world.tenants {
        for a in t.accounts {
            rows.extend(a.rows.into_iter().map(|mut r| {
                r.account_id = format!("{}-{}", t.name, r.account_id);
                r
            }));
        }
    }
    let creatives = rows
        .iter()
        .map(|r| (r.account_id.as_str(), r.ad_id.as_str()))
        .collect::<std::collections::HashSet<_>>()
        .len();
    let df = rows_to_frame("scale", &rows).expect("frame");
    drop(rows);
    eprintln!(
        "simulated {} ad-day rows, {creatives} creatives in {:.0} s",
        df.height(),
        t.elapsed().as_secs_f64()
    );

    // 1. Labels + features: as training runs it (from the frame's columns, every day
    //    computed, the features of the days that can become as-of rows kept), then the same
    //    engine with every day's features kept, then the Polars pipeline (the definition;
    //    skipped with OMNIFY_SCALE_POLARS=0, it needs ~1.6 KB per creative-day).
    let polars = env_num("OMNIFY_SCALE_POLARS", 1) != 0;
    let mut measure = |what: String, f: &mut dyn FnMut() -> usize| {
        reset_peak();
        let before = status_mb("VmRSS:");
        let t = Instant::now();
        let n = f();
        let secs = t.elapsed().as_secs_f64();
        let peak = status_mb("VmHWM:") - before;
        report.push((what, format!("{secs:.1} s, peak memory +{peak:.0} MB")));
        eprintln!("{:?}", report.last());
        n
    };
    let stride = cfg.evaluation.stride_days as u32;
    let mut kept = None;
    measure(
        format!(
            "labels + features as training runs them (`fatigue::prepare_frame`, \
             `Keep::AtRiskEvery({stride})`), from the frame's columns, {creatives} creatives, \
             {} ad-day rows",
            df.height()
        ),
        &mut || {
            let p = fatigue::prepare_frame(&df, &cfg.base, Keep::AtRiskEvery(stride))
                .expect("prepare frame");
            let n = p.day.len();
            kept = Some(p);
            n
        },
    );
    let p = kept.expect("prepared");
    let all_days = measure(
        "labels + features, every day's features kept (`fatigue::prepare_frame`, `Keep::All`)"
            .into(),
        &mut || {
            fatigue::prepare_frame(&df, &cfg.base, Keep::All)
                .expect("prepare frame")
                .day
                .len()
        },
    );
    let polars_days = polars.then(|| {
        measure(
            "labels + features, Polars pipeline (`fatigue::prepare`)".into(),
            &mut || {
                fatigue::prepare(df.clone().lazy(), &cfg.base)
                    .expect("prepare")
                    .day
                    .len()
            },
        )
    });
    if let Some(n) = polars_days {
        assert_eq!(n, all_days, "both engines build every creative-day");
    }
    report.push((
        format!("… {all_days} creative-days in all, {} kept", p.day.len()),
        String::new(),
    ));

    // 3 (fitted first: scoring needs a model). As-of rows up to the person-period target.
    let data = fatigue::survival_rows(&p, &cfg.evaluation);
    let sp = fatigue::split(&data, &cfg.evaluation).expect("split");
    let val = data.subset(&sp.validation);
    let mut take = Vec::new();
    let mut periods = 0usize;
    for &i in &sp.train {
        if periods >= pp_target {
            break;
        }
        take.push(i);
        periods += data.duration[i];
    }
    let train = data.subset(&take);
    drop((p, data));
    let mut fitted = Vec::new();
    for fam in fatigue::LEARNED_FAMILIES {
        let t = Instant::now();
        let m = FittedModel::fit_learned(fam, &train, &val, &cfg.models).expect("fit");
        report.push((
            format!(
                "fit {fam}, {} as-of rows = {periods} person-period rows",
                train.len()
            ),
            format!("{:.1} s", t.elapsed().as_secs_f64()),
        ));
        eprintln!("{:?}", report.last());
        fitted.push((fam, m));
    }
    let model = fitted
        .iter()
        .find_map(|(fam, m)| (*fam == "logistic_hazard").then_some(m))
        .expect("logistic fitted");

    // 2. Scoring from the warehouse, as `omnify score fatigue` does.
    let dir = tempfile::tempdir().expect("temp dir");
    let wh = Warehouse::open(dir.path()).expect("warehouse");
    wh.ingest(df.clone()).expect("ingest");
    let as_of: NaiveDate = {
        let d = df
            .column(omnify::schema::cols::DATE)
            .and_then(|c| c.cast(&DataType::Int32))
            .expect("dates");
        let max = d.i32().expect("i32").max().unwrap_or(0);
        omnify::schema::days_to_date(max)
    };
    drop(df);
    let polars_scored = polars.then(|| {
        let t = Instant::now();
        let lf = wh.load(Some("scale")).expect("load").lazy();
        let scored = fatigue::score(lf, as_of, model, "bench", &cfg).expect("score");
        report.push((
            format!(
                "score from the warehouse (Polars features), {} active creatives at {as_of}",
                scored.len()
            ),
            format!("{:.1} s", t.elapsed().as_secs_f64()),
        ));
        eprintln!("{:?}", report.last());
        scored.len()
    });
    let t = Instant::now();
    let fast = fatigue::score_frame(
        &wh.load(Some("scale")).expect("load"),
        "scale",
        as_of,
        model,
        "bench",
        &cfg,
    )
    .expect("score");
    report.push((
        format!(
            "score from the warehouse (row-by-row features), {} active creatives",
            fast.len()
        ),
        format!("{:.1} s", t.elapsed().as_secs_f64()),
    ));
    if let Some(n) = polars_scored {
        assert_eq!(fast.len(), n, "both paths score the same creatives");
    }
    // The same at the latest day through the materialised snapshot: the first run computes
    // and writes it, the next one reads it.
    for want in [Origin::Built, Origin::Disk] {
        let t = Instant::now();
        let found = snapshot::at(&wh, "scale", None, &cfg.base).expect("snapshot");
        assert_eq!(found.origin, want);
        let snap = found.snapshot.expect("the tenant has rows");
        let scored = fatigue::score_prepared(
            std::slice::from_ref(&snap.prepared),
            snap.as_of,
            model,
            "bench",
            &cfg,
        )
        .expect("score")
        .pop()
        .unwrap_or_default();
        assert_eq!(scored, fast, "the snapshot gives the scores of the rows");
        report.push((
            format!(
                "… through the latest-day snapshot, {} (`omnify score fatigue` at the latest day)",
                if want == Origin::Built {
                    "first run: features computed and written"
                } else {
                    "next run: snapshot read"
                }
            ),
            format!("{:.2} s", t.elapsed().as_secs_f64()),
        ));
        eprintln!("{:?}", report.last());
    }
    drop((wh, dir));

    // 4. Scoring from a tenant's latest-day feature snapshot, as the service does for `ad_ids`
    //    batches, on a synthetic tenant large enough for the figure.
    let n = env_num("OMNIFY_SCALE_SCORED", 100_000);
    let days = 60;
    let dir = tempfile::tempdir().expect("temp dir");
    let wh = Warehouse::open(dir.path()).expect("warehouse");
    wh.ingest(rows_to_frame("big", &synthetic_tenant(n, days)).expect("frame"))
        .expect("ingest");
    let t = Instant::now();
    let found = snapshot::at(&wh, "big", None, &cfg.base).expect("snapshot");
    assert_eq!(
        found.origin,
        Origin::Built,
        "no snapshot before the first run"
    );
    let snap = found.snapshot.expect("the tenant has rows");
    report.push((
        format!(
            "first run at the latest day: latest-day feature snapshot of {n} creatives × {days} \
             days (read + features + write)"
        ),
        format!("{:.1} s", t.elapsed().as_secs_f64()),
    ));
    eprintln!("{:?}", report.last());
    let all: Vec<usize> = (0..snap.prepared.creatives.len()).collect();
    for (fam, m) in &fitted {
        let t = Instant::now();
        let picked = snap.prepared.select_creatives(&all);
        let s = fatigue::score_prepared(&[picked], snap.as_of, m, "bench", &cfg).expect("score");
        let scored = s.iter().map(Vec::len).sum::<usize>();
        report.push((
            format!(
                "score {scored} active creatives from that snapshot in memory with {fam} \
                 (probabilities, survival curves, drivers)"
            ),
            format!("{:.2} s", t.elapsed().as_secs_f64()),
        ));
        eprintln!("{:?}", report.last());
    }
    drop(snap);
    let exe = std::env::current_exe().expect("bench binary");
    for (fam, m) in &fitted {
        let model_dir = tempfile::tempdir().expect("temp dir");
        for (name, bytes) in m.to_files().expect("model files") {
            std::fs::write(model_dir.path().join(name), bytes).expect("write model file");
        }
        let spec = format!("{}|{}", dir.path().display(), model_dir.path().display());
        let t = Instant::now();
        let out = std::process::Command::new(&exe)
            .env("OMNIFY_SCALE_COLD", spec)
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("cold process");
        let secs = t.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "the cold process failed (its errors are above)"
        );
        report.push((
            format!(
                "cold process with {fam}: load the model, read the snapshot from disk, score \
                 ({})",
                String::from_utf8_lossy(&out.stdout).trim()
            ),
            format!("{secs:.2} s"),
        ));
        eprintln!("{:?}", report.last());
    }

    println!("\n| Measure | Result |\n|---|---|");
    for (k, v) in &report {
        println!("| {k} | {v} |");
    }
}
