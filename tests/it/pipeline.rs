//! End to end: the simulator's native files, ingested through the CLI, reproduce its ground
//! truth; the committed sample is exactly what the simulator makes today.

use std::path::Path;

use omnify::ingest::{InputFile, LoadOptions, load_file};
use omnify::schema::cols;
use omnify::warehouse::Warehouse;
use polars::prelude::*;

use crate::common::{omnify, snapshot, stderr};

fn sorted(df: DataFrame) -> DataFrame {
    df.lazy()
        .sort(cols::KEY, SortMultipleOptions::default())
        .collect()
        .unwrap()
}

/// Compares two ad_daily frames column by column: strings and counts exactly, money within
/// 1e-6 per value.
fn assert_same_rows(got: &DataFrame, want: &DataFrame) {
    assert_eq!(got.height(), want.height(), "row count");
    for name in cols::ALL {
        let g = got.column(name).unwrap();
        let w = want.column(name).unwrap();
        assert_eq!(g.dtype(), w.dtype(), "{name} dtype");
        if g.dtype() == &DataType::Float64 {
            let (g, w) = (g.f64().unwrap(), w.f64().unwrap());
            for (i, (a, b)) in g.iter().zip(w.iter()).enumerate() {
                match (a, b) {
                    (Some(a), Some(b)) => {
                        assert!((a - b).abs() <= 1e-6, "{name} row {i}: {a} vs {b}")
                    }
                    (a, b) => assert_eq!(a, b, "{name} row {i}"),
                }
            }
        } else {
            assert!(
                g.as_materialized_series()
                    .equals_missing(w.as_materialized_series()),
                "{name} differs"
            );
        }
    }
}

#[test]
fn simulated_reports_ingest_to_exactly_the_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = omnify(
        dir.path(),
        &[
            "simulate",
            "--out",
            "sim",
            "--seed",
            "7",
            "--creatives",
            "25",
            "--days",
            "84",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = omnify(
        dir.path(),
        &[
            "ingest",
            "--warehouse",
            "wh",
            "--manifest",
            "sim/manifest.json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let got = sorted(
        Warehouse::open(dir.path().join("wh"))
            .unwrap()
            .load(None)
            .unwrap(),
    );
    let truth = InputFile {
        path: dir.path().join("sim/truth/ad_daily.csv"),
        tenant: "unused".into(),
        platform: None,
        account_id: None,
        currency: None,
    };
    let want = sorted(load_file(&truth, &LoadOptions::default()).unwrap());
    assert!(want.height() > 1000);
    let platforms = want.column(cols::PLATFORM).unwrap().n_unique().unwrap();
    assert_eq!(platforms, 9, "every platform's native format is exercised");
    assert_same_rows(&got, &want);
}

#[test]
fn the_committed_sample_is_what_the_simulator_makes_today() {
    let dir = tempfile::tempdir().unwrap();
    let out = omnify(
        dir.path(),
        &[
            "simulate",
            "--out",
            "sample",
            "--gzip",
            "--tenants",
            "4",
            "--creatives",
            "100",
            "--days",
            "270",
            "--seed",
            "42",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    let strip = |root: &Path| -> Vec<(std::path::PathBuf, Vec<u8>)> {
        snapshot(root)
            .into_iter()
            .map(|(p, b)| (p.strip_prefix(root).unwrap().to_path_buf(), b))
            .collect()
    };
    let (want, got) = (strip(&committed), strip(&dir.path().join("sample")));
    assert_eq!(
        want.len(),
        got.len(),
        "file count; regenerate data/sample (see data/README.md)"
    );
    for ((pw, bw), (pg, bg)) in want.iter().zip(got.iter()) {
        assert_eq!(pw, pg);
        assert!(
            bw == bg,
            "{} differs; regenerate data/sample (see data/README.md)",
            pw.display()
        );
    }
}
