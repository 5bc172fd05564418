//! Normalize and ingest throughput, parameterised by size.
//!
//! - `normalize/meta_json/N`, `normalize/google_csv/N`: native reports of N ad-day rows
//!   (written by the connectors' own writers, the same bytes the simulator produces) parsed,
//!   folded into ad-day columns and turned into the `ad_daily` frame on one thread, as
//!   `ingest` does. Target: ≥ 500k rows/s.
//! - `ingest/N`: N unified rows upserted into an empty warehouse (partitioning, Parquet
//!   encoding, atomic rewrites).
//! - Peak memory: measured separately (not by Criterion) by running the release `omnify` binary
//!   on the same inputs and reading the child's peak RSS (`getrusage`), printed next to the input
//!   size. Run with `cargo bench --bench ingest`; set `OMNIFY_BENCH_ROWS` to change sizes.

use std::path::Path;
use std::time::Instant;

use chrono::NaiveDate;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use omnify::platforms::{self, NativeFormat, ParseOptions, Platform, WriteContext};
use omnify::schema::{AdDailyRow, rows_to_frame};
use omnify::warehouse::Warehouse;

/// Deterministic synthetic rows: `ads` ads × `days` days in one account (a cheap LCG keeps
/// generation out of the measured time and independent of the simulator).
fn rows(platform: Platform, n: usize) -> Vec<AdDailyRow> {
    let days = 100usize;
    let ads = n.div_ceil(days);
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    let mut out = Vec::with_capacity(n);
    'outer: for a in 0..ads {
        for d in 0..days {
            if out.len() == n {
                break 'outer;
            }
            let impressions = 200 + (next() * 20000.0) as i64;
            let clicks = (impressions as f64 * (0.002 + next() * 0.02)) as i64;
            let spend = ((impressions as f64 * (0.004 + next() * 0.02)) * 100.0).round() / 100.0;
            let conv = (clicks as f64 * next() * 0.08).round();
            let mut r = AdDailyRow::new(
                platform,
                "1234567890".into(),
                format!("{}", 120_000_000_000u64 + a as u64),
                start + chrono::Duration::days(d as i64),
            );
            r.campaign_id = Some(format!("{}", 9_000 + a / 50));
            r.ad_group_id = Some(format!("{}", 70_000 + a / 5));
            r.campaign_name = Some(format!("Campaign {}", a / 50));
            r.ad_group_name = Some(format!("Ad group {}", a / 5));
            r.ad_name = Some(format!("Creative {a}"));
            r.impressions = impressions;
            r.clicks = clicks;
            r.reach = Some((impressions as f64 * 0.8) as i64);
            r.spend = Some(spend);
            r.currency = Some("USD".into());
            r.conversions = Some(conv);
            r.conversion_value = Some((conv * 37.5 * 100.0).round() / 100.0);
            out.push(r);
        }
    }
    out
}

fn ctx(format: NativeFormat) -> WriteContext {
    WriteContext {
        account_id: "1234567890".into(),
        account_name: "Bench account".into(),
        currency: "USD".into(),
        utc_offset_minutes: 0,
        format,
        seed: 7,
    }
}

fn sizes() -> Vec<usize> {
    std::env::var("OMNIFY_BENCH_ROWS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 1_000_000])
}

fn bench_normalize(c: &mut Criterion) {
    let mut g = c.benchmark_group("normalize");
    g.sample_size(10);
    let opts = ParseOptions {
        account_id: Some("1234567890".into()),
        currency: Some("USD".into()),
        ..Default::default()
    };
    for (name, platform, format) in [
        ("meta_json", Platform::Meta, NativeFormat::ApiJson),
        ("google_csv", Platform::GoogleAds, NativeFormat::UiCsv),
    ] {
        for n in sizes() {
            let files = platforms::write_native(platform, &rows(platform, n), &ctx(format));
            let bytes: usize = files.iter().map(|f| f.bytes.len()).sum();
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::new(name, n), &files, |b, files| {
                b.iter(|| {
                    let mut total = 0usize;
                    for f in files {
                        let (_, columns) =
                            platforms::normalize_columns(Some(platform), &f.bytes, &opts)
                                .expect("bench input parses");
                        let frame = columns.into_frame("bench").expect("frame");
                        total += frame.height();
                    }
                    assert_eq!(total, n);
                    total
                })
            });
            eprintln!(
                "normalize/{name}/{n}: input {:.1} MB in {} files",
                bytes as f64 / 1e6,
                files.len()
            );
        }
    }
    g.finish();
}

fn bench_ingest(c: &mut Criterion) {
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    let mut ingest_sizes = sizes();
    if std::env::var("OMNIFY_BENCH_ROWS").is_err() {
        ingest_sizes.push(10_000_000);
    }
    for n in ingest_sizes {
        let df = rows_to_frame("bench", &rows(Platform::Meta, n)).expect("frame");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &df, |b, df| {
            b.iter_batched(
                || (tempfile::tempdir().expect("tempdir"), df.clone()),
                |(dir, df)| {
                    let wh = Warehouse::open(dir.path()).expect("open");
                    let r = wh.ingest(df).expect("ingest");
                    assert_eq!(r.inserted, n);
                    dir
                },
                criterion::BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// Runs the `omnify` binary and returns (seconds, peak resident bytes); the binary logs its own
/// peak (`VmHWM`) at debug level when it finishes.
fn child_peak_rss(args: &[&str], dir: &Path) -> (f64, u64) {
    let t = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_omnify"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "debug")
        .output()
        .expect("run omnify");
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "omnify {args:?} failed: {err}");
    let peak = err
        .split("peak_rss_bytes=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("omnify logs its peak memory at debug level");
    (secs, peak)
}

fn memory_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = *sizes().iter().max().unwrap_or(&1_000_000);
    for (name, platform, format) in [
        ("meta_json", Platform::Meta, NativeFormat::ApiJson),
        ("google_csv", Platform::GoogleAds, NativeFormat::UiCsv),
    ] {
        let files = platforms::write_native(platform, &rows(platform, n), &ctx(format));
        let mut paths = Vec::new();
        let mut bytes = 0usize;
        for f in &files {
            let p = dir.path().join(&f.file_name);
            std::fs::write(&p, &f.bytes).expect("write input");
            bytes += f.bytes.len();
            paths.push(p.to_string_lossy().into_owned());
        }
        let mut args = vec![
            "normalize",
            "--quiet",
            "--account-id",
            "1234567890",
            "--platform",
            platform.as_str(),
            "--out",
            "out.parquet",
        ];
        args.extend(paths.iter().map(String::as_str));
        let (secs, peak) = child_peak_rss(&args, dir.path());
        eprintln!(
            "memory normalize/{name}/{n}: input {:.1} MB, peak RSS {:.1} MB ({:.2}x input), {:.2} s end to end",
            bytes as f64 / 1e6,
            peak as f64 / 1e6,
            peak as f64 / bytes as f64,
            secs
        );
    }
}

/// Peak memory and wall time of `omnify ingest` of a unified Parquet file of `n` rows.
fn ingest_memory_report(n: usize) {
    use polars::prelude::ParquetWriter;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut df = rows_to_frame("bench", &rows(Platform::Meta, n)).expect("frame");
    let path = dir.path().join("history.parquet");
    let file = std::fs::File::create(&path).expect("create");
    ParquetWriter::new(file)
        .finish(&mut df)
        .expect("write parquet");
    drop(df);
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let (secs, peak) = child_peak_rss(
        &[
            "ingest",
            "--warehouse",
            "wh",
            "--tenant",
            "bench",
            path.to_str().unwrap_or(""),
        ],
        dir.path(),
    );
    eprintln!(
        "memory ingest/{n}: unified Parquet input {:.1} MB, peak RSS {:.1} MB, {:.2} s end to end",
        bytes as f64 / 1e6,
        peak as f64 / 1e6,
        secs
    );
}

criterion_group!(benches, bench_normalize, bench_ingest);

fn main() {
    if std::env::var("OMNIFY_BENCH_SKIP_MEMORY").is_err() {
        memory_report();
        let big = if std::env::var("OMNIFY_BENCH_ROWS").is_err() {
            10_000_000
        } else {
            1_000_000
        };
        ingest_memory_report(big);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
