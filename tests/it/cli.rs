//! The command line as a user meets it: help texts, exit codes, one-line errors naming the
//! file, place and field, and outputs that other tools can read.

use polars::prelude::SerReader;

use crate::common::{fixture, omnify, stderr, stdout};

#[test]
fn every_subcommand_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["simulate", "--help"],
        vec!["normalize", "--help"],
        vec!["ingest", "--help"],
        vec!["warehouse", "--help"],
        vec!["warehouse", "summary", "--help"],
        vec!["models", "list", "--help"],
        vec!["optimize", "--help"],
        vec!["train", "fatigue", "--help"],
        vec!["train", "budget", "--help"],
        vec!["evaluate", "fatigue", "--help"],
        vec!["evaluate", "budget", "--help"],
        vec!["score", "fatigue", "--help"],
        vec!["forecast", "budget", "--help"],
        vec!["models", "promote", "--help"],
        vec!["mcp", "--help"],
        vec!["alerts", "list", "--help"],
        vec!["alerts", "deliveries", "--help"],
        vec!["alerts", "evaluate", "--help"],
    ] {
        let out = omnify(dir.path(), &args);
        assert!(out.status.success(), "{args:?}");
        let text = stdout(&out);
        assert!(text.contains("Usage:"), "{args:?}: {text}");
    }
    let help = stdout(&omnify(dir.path(), &["ingest", "--help"]));
    for flag in [
        "--platform",
        "--account-id",
        "--currency",
        "--tenant",
        "--manifest",
    ] {
        assert!(help.contains(flag), "ingest --help lacks {flag}");
    }
}

#[test]
fn unknown_platform_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = omnify(
        dir.path(),
        &[
            "normalize",
            "--platform",
            "myspace",
            fixture("unified/history.csv").to_str().unwrap(),
            "--out",
            "x.csv",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("unknown platform `myspace`") && err.contains("google_ads"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!dir.path().join("x.csv").exists());
}

#[test]
fn bad_unified_files_name_the_place_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "wrong_column.csv",
            "platform,account_id,ad_id,date,impressions,clicks,spendd\nmeta,1,a,2026-01-01,1,0,1\n",
            "spendd",
        ),
        (
            "non_numeric.csv",
            "platform,account_id,ad_id,date,impressions,clicks\nmeta,1,a,2026-01-01,1,0\nmeta,1,a,2026-01-02,lots,0\n",
            "line 3), field `impressions`: cannot read \"lots\"",
        ),
        (
            "negative.csv",
            "platform,account_id,ad_id,date,impressions,clicks,spend\nmeta,1,a,2026-01-01,1,0,-0.01\n",
            "field `spend`: negative",
        ),
        (
            "nan.csv",
            "platform,account_id,ad_id,date,impressions,clicks,spend\nmeta,1,a,2026-01-01,1,0,NaN\n",
            "field `spend`: not a finite",
        ),
        (
            "bad_platform.csv",
            "platform,account_id,ad_id,date,impressions,clicks\nfriendster,1,a,2026-01-01,1,0\n",
            "unknown platform",
        ),
        (
            "bad_date.csv",
            "platform,account_id,ad_id,date,impressions,clicks\nmeta,1,a,01/32/2026,1,0\n",
            "field `date`",
        ),
        (
            "missing_ad.csv",
            "platform,account_id,ad_id,date,impressions,clicks\nmeta,1,,2026-01-01,1,0\n",
            "field `ad_id`: missing",
        ),
    ];
    for (name, body, expect) in cases {
        let f = dir.path().join(name);
        std::fs::write(&f, body).unwrap();
        let out = omnify(
            dir.path(),
            &["ingest", "--warehouse", "wh", f.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = stderr(&out);
        assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: one line: {err}");
        assert!(
            !dir.path().join("wh/ad_daily/tenant=default").exists(),
            "{name}: nothing written"
        );
    }
}

#[test]
fn normalize_writes_csv_and_parquet_with_the_unified_columns() {
    let dir = tempfile::tempdir().unwrap();
    for out_name in ["out.csv", "out.parquet"] {
        let out = omnify(
            dir.path(),
            &[
                "normalize",
                fixture("unified/history.csv").to_str().unwrap(),
                "--out",
                out_name,
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let header = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    let first = header.lines().next().unwrap();
    assert_eq!(first, omnify::schema::cols::ALL.join(","));
    let df = polars::prelude::ParquetReader::new(
        std::fs::File::open(dir.path().join("out.parquet")).unwrap(),
    )
    .finish()
    .unwrap();
    assert_eq!(df.height(), 5);
    assert_eq!(df.schema().as_ref(), &omnify::schema::ad_daily_schema());
}

#[test]
fn output_must_be_parquet_or_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = omnify(
        dir.path(),
        &[
            "normalize",
            fixture("unified/history.csv").to_str().unwrap(),
            "--out",
            "x.xlsx",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(".parquet or .csv"));
}

#[test]
fn summary_of_an_empty_warehouse_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = omnify(dir.path(), &["warehouse", "summary", "--warehouse", "wh"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("empty"));
}

/// Every native fixture is recognised by `--platform auto` as the platform whose folder it is
/// in, and normalizes to rows of that platform.
#[test]
fn auto_detects_every_platform_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let root = fixture("");
    let mut seen = std::collections::BTreeSet::new();
    for (path, _) in crate::common::snapshot(&root) {
        let platform = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if platform == "unified" || platform == "budget" || name.starts_with("error") {
            continue;
        }
        let out = omnify(
            dir.path(),
            &[
                "normalize",
                "--account-id",
                "123",
                "--currency",
                "USD",
                path.to_str().unwrap(),
                "--out",
                "out.csv",
            ],
        );
        assert!(out.status.success(), "{}: {}", path.display(), stderr(&out));
        let csv = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert!(!rows.is_empty(), "{}", path.display());
        for r in rows {
            assert_eq!(
                r.split(',').nth(1),
                Some(platform.as_str()),
                "{}: {r}",
                path.display()
            );
        }
        seen.insert(platform);
    }
    assert_eq!(seen.len(), 9, "fixtures for all nine platforms: {seen:?}");
}

/// Payloads without the account id or currency are rejected with the flag to add.
#[test]
fn missing_request_scope_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (file, flag) in [
        ("linkedin/ad_analytics_daily.json", "--account-id"),
        ("tiktok/report_p1.json", "--account-id"),
        ("snapchat/ad_stats_day.json", "--account-id"),
        ("x/stats_7day.json", "--account-id"),
        ("google_ads/ui_export.csv", "--account-id"),
        ("amazon_ads/sp_advertised_product.json.gz", "--account-id"),
        ("pinterest/ads_analytics_day.json", "--currency"),
    ] {
        let out = omnify(
            dir.path(),
            &[
                "ingest",
                "--warehouse",
                "wh",
                fixture(file).to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{file}");
        let err = stderr(&out);
        assert!(
            err.contains(file.split('/').nth(1).unwrap()) && err.contains(flag),
            "{file}: {err}"
        );
        assert!(!dir.path().join("wh/ad_daily/tenant=default").exists());
    }
}

#[test]
fn an_api_error_envelope_is_an_error_not_an_empty_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = omnify(
        dir.path(),
        &[
            "ingest",
            "--warehouse",
            "wh",
            "--account-id",
            "1",
            "--currency",
            "USD",
            fixture("tiktok/error_40100.json").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("40100"), "{}", stderr(&out));
}

#[test]
fn truncated_native_reports_are_rejected_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "meta/insights_p1.json",
        "google_ads/ui_export.csv",
        "microsoft_ads/ad_performance.csv",
    ] {
        let bytes = std::fs::read(fixture(file)).unwrap();
        let cut = dir.path().join(file.replace('/', "_"));
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let out = omnify(
            dir.path(),
            &[
                "ingest",
                "--warehouse",
                "wh",
                "--account-id",
                "1",
                cut.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{file}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&*cut.file_name().unwrap().to_string_lossy()) && err.contains("line"),
            "{file}: {err}"
        );
        assert!(!dir.path().join("wh/ad_daily/tenant=default").exists());
    }
}

#[test]
fn alert_destinations_of_the_config_are_listed_and_bad_ones_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("omnify.toml"),
        "state = \"state.sqlite\"\n[[alerts]]\nname = \"ops\"\ntenant = \"northwind\"\n\
         url = \"https://hooks.example.com/omnify\"\nformat = \"slack\"\nsecret = \"s3cr3t-value\"\n",
    )
    .unwrap();
    let out = omnify(d, &["alerts", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("cfg_ops") && text.contains("hooks.example.com"),
        "{text}"
    );
    let out = omnify(d, &["alerts", "list", "--json"]);
    let json = stdout(&out);
    assert!(json.contains("\"format\": \"slack\""), "{json}");
    assert!(
        !json.contains("s3cr3t-value"),
        "the secret is never printed: {json}"
    );
    let out = omnify(d, &["alerts", "deliveries"]);
    assert_eq!(stdout(&out), "no deliveries\n");
    let out = omnify(d, &["alerts", "evaluate", "--tenant", "no such tenant"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--tenant"), "{}", stderr(&out));
    // A bad entry: exit 2, one line naming the entry and the field, nothing registered.
    std::fs::write(
        d.join("omnify.toml"),
        "[[alerts]]\nname = \"ops\"\ntenant = \"northwind\"\nurl = \"ftp://x\"\n",
    )
    .unwrap();
    let out = omnify(d, &["alerts", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("alerts `ops`: url"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}
