//! Warehouse upserts, atomicity, concurrency and readability by an independent Parquet reader.

use std::collections::BTreeMap;

use omnify::ingest::{InputFile, LoadOptions, load_all};
use omnify::schema::cols;
use omnify::warehouse::Warehouse;
use polars::prelude::*;

use crate::common::{fixture, omnify, snapshot};

fn unified(rel: &str, tenant: &str) -> InputFile {
    InputFile {
        path: fixture(rel),
        tenant: tenant.into(),
        platform: None,
        account_id: None,
        currency: None,
    }
}

fn totals(wh: &Warehouse) -> (usize, i64, f64, f64) {
    let df = wh.load(None).unwrap();
    let sum = |name: &str| -> f64 {
        let c = df.column(name).unwrap().cast(&DataType::Float64).unwrap();
        c.f64().unwrap().sum().unwrap_or(0.0)
    };
    let imp = sum(cols::IMPRESSIONS) as i64;
    (df.height(), imp, sum(cols::SPEND), sum(cols::CONVERSIONS))
}

#[test]
fn reingesting_a_key_replaces_the_row_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wh = Warehouse::open(dir.path()).unwrap();
    let opts = LoadOptions::default();
    let r1 = wh
        .ingest(load_all(&[unified("unified/history.csv", "acme")], &opts).unwrap())
        .unwrap();
    assert_eq!((r1.rows, r1.inserted, r1.replaced), (5, 5, 0));
    // meta 2026-01, meta 2026-02, google_ads 2026-02
    assert_eq!(r1.partitions, 3);
    // Hand totals of history.csv: impressions 1000+1200+900+5000+300 = 8400,
    // spend 12.50+13.25+10.00+40.00+4.75 = 80.50, conversions 1+0+2+3+0.5 = 6.5.
    let (n, imp, spend, conv) = totals(&wh);
    assert_eq!((n, imp), (5, 8400));
    assert!((spend - 80.5).abs() < 1e-9 && (conv - 6.5).abs() < 1e-9);

    let r2 = wh
        .ingest(load_all(&[unified("unified/restated.csv", "acme")], &opts).unwrap())
        .unwrap();
    assert_eq!(
        (r2.rows, r2.inserted, r2.replaced, r2.partitions),
        (2, 1, 1, 2)
    );
    // a1/2026-01-31 restated (conversions 0 -> 2, value null -> 70), a1/2026-02-02 added:
    // 6 rows, impressions 8400 + 800 = 9200, spend 80.50 + 9.00 = 89.50, conversions 6.5 + 2 = 8.5.
    let (n, imp, spend, conv) = totals(&wh);
    assert_eq!((n, imp), (6, 9200));
    assert!((spend - 89.5).abs() < 1e-9, "{spend}");
    assert!((conv - 8.5).abs() < 1e-9, "{conv}");

    // Same input again: every key replaced, nothing duplicated.
    let r3 = wh
        .ingest(load_all(&[unified("unified/restated.csv", "acme")], &opts).unwrap())
        .unwrap();
    assert_eq!((r3.inserted, r3.replaced), (0, 2));
    assert_eq!(totals(&wh).0, 6);

    // The same rows under another tenant are separate.
    wh.ingest(load_all(&[unified("unified/history.csv", "beta")], &opts).unwrap())
        .unwrap();
    assert_eq!(totals(&wh).0, 11);
    let s = wh.summary(Some("beta")).unwrap();
    assert_eq!(s.rows, 5);
    assert_eq!(s.creatives, 3);
}

#[test]
fn within_one_batch_the_last_file_wins() {
    let dir = tempfile::tempdir().unwrap();
    let wh = Warehouse::open(dir.path()).unwrap();
    let batch = load_all(
        &[
            unified("unified/history.csv", "acme"),
            unified("unified/restated.csv", "acme"),
        ],
        &LoadOptions::default(),
    )
    .unwrap();
    let r = wh.ingest(batch).unwrap();
    // 5 + 2 rows offered; a1/2026-01-31 appears in both files, so one is superseded.
    assert_eq!(
        (r.rows, r.inserted, r.replaced, r.superseded_in_batch),
        (6, 6, 0, 1)
    );
    let df = wh
        .query(Some("acme"), |lf| {
            lf.filter(
                col(cols::AD_ID)
                    .eq(lit("a1"))
                    .and(col(cols::DATE).cast(DataType::String).eq(lit("2026-01-31"))),
            )
            .collect()
        })
        .unwrap();
    assert_eq!(
        df.column(cols::CONVERSIONS).unwrap().f64().unwrap().get(0),
        Some(2.0)
    );
}

#[test]
fn partitions_are_plain_parquet_an_independent_reader_understands() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let dir = tempfile::tempdir().unwrap();
    let wh = Warehouse::open(dir.path()).unwrap();
    wh.ingest(
        load_all(
            &[unified("unified/history.csv", "acme")],
            &LoadOptions::default(),
        )
        .unwrap(),
    )
    .unwrap();
    let path = dir
        .path()
        .join("ad_daily/tenant=acme/platform=meta/2026-01.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut rows = 0;
    let mut types = BTreeMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        for f in batch.schema().fields() {
            types.insert(f.name().clone(), format!("{:?}", f.data_type()));
        }
    }
    assert_eq!(rows, 3);
    assert_eq!(types["date"], "Date32");
    assert_eq!(types["impressions"], "Int64");
    assert_eq!(types["spend"], "Float64");
    assert!(types["ad_id"].contains("Utf8"), "{}", types["ad_id"]);
    // Partition columns live in the path (Hive layout), not in the file.
    assert!(!types.contains_key("tenant") && !types.contains_key("platform"));
}

#[test]
fn a_bad_file_in_a_batch_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wh_dir = dir.path().join("wh");
    let ok = omnify(
        dir.path(),
        &[
            "ingest",
            "--warehouse",
            wh_dir.to_str().unwrap(),
            "--tenant",
            "acme",
            fixture("unified/history.csv").to_str().unwrap(),
        ],
    );
    assert!(ok.status.success(), "{}", crate::common::stderr(&ok));
    let before = snapshot(&wh_dir);
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "platform,account_id,ad_id,date,impressions,clicks,spend\nmeta,111,a1,2026-01-30,5,1,NaN\n",
    )
    .unwrap();
    let out = omnify(
        dir.path(),
        &[
            "ingest",
            "--warehouse",
            wh_dir.to_str().unwrap(),
            "--tenant",
            "acme",
            fixture("unified/restated.csv").to_str().unwrap(),
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("bad.csv") && err.contains("spend") && err.contains("line 2"),
        "{err}"
    );
    assert_eq!(
        snapshot(&wh_dir),
        before,
        "a failed ingest must not touch the warehouse"
    );
}

#[test]
fn concurrent_ingests_serialise_and_keep_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let wh_dir = dir.path().join("wh");
    // 8 processes, each writing 50 distinct ads into the same partition at the same time.
    let mut files = Vec::new();
    for p in 0..8 {
        let mut csv = String::from("platform,account_id,ad_id,date,impressions,clicks,spend\n");
        for a in 0..50 {
            csv.push_str(&format!("meta,1,p{p}a{a},2026-03-05,{},1,1.0\n", 100 + a));
        }
        let f = dir.path().join(format!("p{p}.csv"));
        std::fs::write(&f, csv).unwrap();
        files.push(f);
    }
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            std::process::Command::new(crate::common::bin())
                .args([
                    "ingest",
                    "--quiet",
                    "--warehouse",
                    wh_dir.to_str().unwrap(),
                    "--tenant",
                    "acme",
                    f.to_str().unwrap(),
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let wh = Warehouse::open(&wh_dir).unwrap();
    let s = wh.summary(None).unwrap();
    assert_eq!(s.rows, 400);
    assert_eq!(s.creatives, 400);
    // No temp files left behind.
    let leftovers: Vec<_> = crate::common::snapshot(&wh_dir)
        .into_iter()
        .filter(|(p, _)| p.file_name().unwrap().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_tenants_version_changes_with_its_rows_only() {
    let dir = tempfile::tempdir().unwrap();
    let wh = Warehouse::open(dir.path()).unwrap();
    let opts = LoadOptions::default();
    let empty = wh.version("acme").unwrap();
    wh.ingest(load_all(&[unified("unified/history.csv", "acme")], &opts).unwrap())
        .unwrap();
    let v1 = wh.version("acme").unwrap();
    assert_ne!(v1, empty, "an ingest changes the version");
    wh.load(Some("acme")).unwrap();
    assert_eq!(wh.version("acme").unwrap(), v1, "reading changes nothing");
    wh.ingest(load_all(&[unified("unified/history.csv", "beta")], &opts).unwrap())
        .unwrap();
    assert_eq!(
        wh.version("acme").unwrap(),
        v1,
        "another tenant's ingest leaves it alone"
    );
    // A restatement rewrites two of acme's three partitions.
    wh.ingest(load_all(&[unified("unified/restated.csv", "acme")], &opts).unwrap())
        .unwrap();
    let v2 = wh.version("acme").unwrap();
    assert_ne!(v2, v1, "a restatement changes it");
    wh.delete_tenant("acme").unwrap();
    assert_eq!(wh.version("acme").unwrap(), empty, "an erase empties it");
}

/// Rows dated outside the accepted range (2000-01-01 to a year after today by default) and a gzip
/// bomb are refused with the file, the place and the limit, and write nothing; the bomb is
/// refused after inflating at most its ratio limit, never cut short and read as a report.
#[test]
fn absurd_dates_and_compression_bombs_write_nothing() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let wh_dir = dir.path().join("wh");
    let ingest = |file: &std::path::Path| {
        omnify(
            dir.path(),
            &[
                "ingest",
                "--warehouse",
                wh_dir.to_str().unwrap(),
                "--tenant",
                "acme",
                fixture("unified/history.csv").to_str().unwrap(),
                file.to_str().unwrap(),
            ],
        )
    };
    let header = "platform,account_id,ad_id,date,impressions,clicks,spend\n";
    for (name, date) in [("old.csv", "1999-12-31"), ("future.csv", "9999-12-31")] {
        let f = dir.path().join(name);
        std::fs::write(
            &f,
            format!("{header}meta,111,a1,2026-01-30,5,1,1.0\nmeta,111,a1,{date},5,1,1.0\n"),
        )
        .unwrap();
        let out = ingest(&f);
        assert_eq!(out.status.code(), Some(2));
        let err = crate::common::stderr(&out);
        assert!(
            err.contains(name) && err.contains("line 3") && err.contains("`date`"),
            "{err}"
        );
        assert!(err.contains("outside the accepted dates"), "{err}");
        assert!(no_parquet(&wh_dir), "{name}");
    }
    // 400 MB of a repeated CSV row in about 0.4 MB of gzip: a 1000x ratio.
    let bomb = dir.path().join("bomb.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&bomb).unwrap(),
        flate2::Compression::best(),
    );
    gz.write_all(header.as_bytes()).unwrap();
    let row = "meta,111,a1,2026-01-30,5,1,1.0\n".repeat(1 << 15);
    for _ in 0..(400 << 20) / row.len() {
        gz.write_all(row.as_bytes()).unwrap();
    }
    gz.finish().unwrap();
    let out = ingest(&bomb);
    assert_eq!(out.status.code(), Some(2));
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("bomb.csv.gz") && err.contains("compression bomb"),
        "{err}"
    );
    assert!(no_parquet(&wh_dir));
}

fn no_parquet(dir: &std::path::Path) -> bool {
    snapshot(dir)
        .iter()
        .all(|(p, _)| p.extension().is_none_or(|e| e != "parquet"))
}

/// Rows, distinct keys and summed impressions of a warehouse (what a lost or doubled row
/// changes).
fn fingerprint(dir: &std::path::Path) -> (usize, usize, i64) {
    let df = Warehouse::open(dir).unwrap().load(None).unwrap();
    let keys = df
        .clone()
        .lazy()
        .select(
            [
                cols::TENANT,
                cols::PLATFORM,
                cols::ACCOUNT_ID,
                cols::AD_ID,
                cols::DATE,
            ]
            .map(col),
        )
        .unique(None, UniqueKeepStrategy::First)
        .collect()
        .unwrap()
        .height();
    let imp = df
        .column(cols::IMPRESSIONS)
        .unwrap()
        .i64()
        .unwrap()
        .sum()
        .unwrap_or(0);
    (df.height(), keys, imp)
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// SIGKILL at random moments of an ingest that spans many partitions (the bundled sample:
/// four tenants, nine platforms, every month), into an empty warehouse and over one holding
/// the same rows: afterwards the warehouse reads cleanly and holds either nothing of the
/// ingest or all of it, with no lost and no doubled rows. `OMNIFY_CRASH_TRIALS` sets the
/// trials (default 6; the figure in the README is from a longer run).
#[test]
fn killed_ingests_lose_and_double_nothing() {
    use rand::{Rng, SeedableRng};
    let trials: usize = std::env::var("OMNIFY_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = root.join("data/sample/manifest.json");
    let dir = tempfile::tempdir().unwrap();
    let ingest = |wh: &std::path::Path| {
        let mut c = std::process::Command::new(crate::common::bin());
        c.current_dir(root)
            .args([
                "ingest",
                "--warehouse",
                wh.to_str().unwrap(),
                "--manifest",
                manifest.to_str().unwrap(),
            ])
            .env_remove("OMNIFY_CONFIG")
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    // The reference: one whole ingest, timed.
    let full = dir.path().join("full");
    let t0 = std::time::Instant::now();
    assert!(ingest(&full).status().unwrap().success());
    let took = t0.elapsed();
    let want = fingerprint(&full);
    assert!(want.0 > 10_000 && want.0 == want.1, "{want:?}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let (mut empty_after, mut whole_after) = (0, 0);
    for trial in 0..trials {
        let wh = dir.path().join(format!("t{trial}"));
        let over_full = trial % 2 == 1;
        if over_full {
            copy_tree(&full, &wh);
        }
        let mut child = ingest(&wh).spawn().unwrap();
        // Anywhere in the run, the last part (grouping, writing) included.
        let at = took.mul_f64(rng.gen_range(0.05..1.1));
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();
        let got = fingerprint(&wh);
        if got == want {
            whole_after += 1;
        } else {
            assert!(
                !over_full && got == (0, 0, 0),
                "trial {trial} (killed after {at:?} of {took:?}): {got:?}, want {want:?} or nothing"
            );
            empty_after += 1;
        }
        // The next ingest after a crash completes and agrees with the reference.
        assert!(ingest(&wh).status().unwrap().success());
        assert_eq!(fingerprint(&wh), want, "trial {trial}: re-ingest");
        std::fs::remove_dir_all(&wh).unwrap();
    }
    eprintln!(
        "{trials} killed ingests: {whole_after} left every row, {empty_after} none, 0 partial"
    );
}
