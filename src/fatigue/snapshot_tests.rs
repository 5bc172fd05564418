//! The materialised latest-day snapshot ([`super::snapshot`]) against scoring straight from
//! the rows ([`super::score_frame`]): the same scores with no snapshot, with a fresh one, after
//! an ingest or a restatement (rebuilt), under other label settings (not reused), from a damaged
//! one (rebuilt), at another day (computed, nothing written); and what it must not touch.

use chrono::{Duration, NaiveDate};

use super::snapshot::{DATA_FILE, Origin, STAMP_FILE, at, refresh_if_kept};
use super::tests::{logistic_on, sim_rows, small_config};
use super::{FittedModel, JobConfig, ScoreRow, score_frame, score_prepared};
use crate::schema::{AdDailyRow, rows_to_frame};
use crate::warehouse::Warehouse;

struct Env {
    _dir: tempfile::TempDir,
    wh: Warehouse,
    tenant: String,
    rows: Vec<AdDailyRow>,
    model: FittedModel,
}

fn env() -> Env {
    let cfg = small_config();
    let (tenant, rows) = sim_rows(46, 1, 40, 200).swap_remove(0);
    let df = rows_to_frame(&tenant, &rows).expect("frame");
    let model = logistic_on(&df, &cfg);
    let dir = tempfile::tempdir().expect("temp dir");
    let wh = Warehouse::open(dir.path()).expect("warehouse");
    wh.ingest(df).expect("ingest");
    Env {
        _dir: dir,
        wh,
        tenant,
        rows,
        model,
    }
}

impl Env {
    /// Scores from the tenant's rows, no snapshot involved.
    fn reference(&self, as_of: NaiveDate, cfg: &JobConfig) -> Vec<ScoreRow> {
        let df = self.wh.load(Some(&self.tenant)).expect("load");
        score_frame(&df, &self.tenant, as_of, &self.model, "v", cfg).expect("scores")
    }

    /// Scores through [`at`], with where its features came from.
    fn via(&self, as_of: Option<NaiveDate>, cfg: &JobConfig) -> (Origin, NaiveDate, Vec<ScoreRow>) {
        let found = at(&self.wh, &self.tenant, as_of, &cfg.base).expect("snapshot");
        let s = found.snapshot.expect("the tenant has rows");
        let scores = score_prepared(
            std::slice::from_ref(&s.prepared),
            s.as_of,
            &self.model,
            "v",
            cfg,
        )
        .expect("scores")
        .pop()
        .expect("one frame");
        (found.origin, s.as_of, scores)
    }

    fn file(&self, name: &str) -> std::path::PathBuf {
        self.wh.derived_dir(&self.tenant).join(name)
    }

    fn last_day(&self) -> NaiveDate {
        self.rows.iter().map(|r| r.date).max().expect("rows")
    }
}

#[test]
fn scores_are_the_same_with_or_without_the_snapshot() {
    let e = env();
    let cfg = small_config();
    let last = e.last_day();
    let version = e.wh.version(&e.tenant).expect("version");
    let want = e.reference(last, &cfg);
    assert!(
        want.iter().any(|s| s.p_onset_14d.is_some()),
        "some are scored"
    );

    // No snapshot yet: built from the rows, written, the same scores.
    assert!(!e.file(STAMP_FILE).exists());
    assert_eq!(e.via(None, &cfg), (Origin::Built, last, want.clone()));
    assert!(e.file(STAMP_FILE).exists() && e.file(DATA_FILE).exists());

    // It is not rows: the tenant's version, rows, partitions and tenants are unchanged.
    assert_eq!(e.wh.version(&e.tenant).expect("version"), version);
    assert_eq!(e.wh.load(None).expect("load").height(), e.rows.len());
    assert_eq!(
        crate::bootstrap::tenants(&e.wh).expect("tenants"),
        vec![e.tenant.clone()]
    );
    assert!(
        e.wh.partitions(None)
            .expect("partitions")
            .iter()
            .all(|k| k.tenant == e.tenant)
    );

    // A fresh one is read, by default and at that day explicitly: the same scores.
    assert_eq!(e.via(None, &cfg), (Origin::Disk, last, want.clone()));
    assert_eq!(e.via(Some(last), &cfg), (Origin::Disk, last, want.clone()));

    // Another day is computed from the rows up to it and leaves the snapshot alone.
    let stamp = std::fs::read(e.file(STAMP_FILE)).expect("stamp");
    let data = std::fs::read(e.file(DATA_FILE)).expect("data");
    let earlier = last - Duration::days(10);
    assert_eq!(
        e.via(Some(earlier), &cfg),
        (Origin::Computed, earlier, e.reference(earlier, &cfg))
    );
    assert_eq!(std::fs::read(e.file(STAMP_FILE)).expect("stamp"), stamp);
    assert_eq!(std::fs::read(e.file(DATA_FILE)).expect("data"), data);
    assert_eq!(e.via(None, &cfg).0, Origin::Disk);
}

#[test]
fn other_label_settings_never_reuse_the_snapshot() {
    let e = env();
    let cfg = small_config();
    let last = e.last_day();
    assert_eq!(e.via(None, &cfg).0, Origin::Built);
    let mut other = small_config();
    other.base.labels.onset_ratio = 1.6;
    other.base.labels.limited_ratio = 1.2;
    other.base.features.labels = other.base.labels.clone();
    let want = e.reference(last, &other);
    assert_ne!(
        want,
        e.reference(last, &cfg),
        "the settings change the scores"
    );
    assert_eq!(e.via(None, &other), (Origin::Built, last, want.clone()));
    assert_eq!(e.via(None, &other), (Origin::Disk, last, want));
    // Back to the first settings: the snapshot now holds the other ones, so it is rebuilt.
    assert_eq!(
        e.via(None, &cfg),
        (Origin::Built, last, e.reference(last, &cfg))
    );
}

#[test]
fn an_ingest_or_a_restatement_rebuilds_the_snapshot() {
    let e = env();
    let cfg = small_config();
    let last = e.last_day();
    assert_eq!(e.via(None, &cfg).0, Origin::Built);

    // A new day for the ads that delivered on the last one.
    let next: Vec<AdDailyRow> = e
        .rows
        .iter()
        .filter(|r| r.date == last)
        .map(|r| {
            let mut r = r.clone();
            r.date = last + Duration::days(1);
            r.clicks /= 3;
            r
        })
        .collect();
    assert!(!next.is_empty());
    e.wh.ingest(rows_to_frame(&e.tenant, &next).expect("frame"))
        .expect("ingest");
    let day = last + Duration::days(1);
    let want = e.reference(day, &cfg);
    assert_eq!(e.via(None, &cfg), (Origin::Built, day, want.clone()));
    assert_eq!(e.via(None, &cfg), (Origin::Disk, day, want.clone()));

    // The platform restates that day: same days, other numbers.
    let restated: Vec<AdDailyRow> = next
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.clicks = r.clicks * 4 + 7;
            r
        })
        .collect();
    e.wh.ingest(rows_to_frame(&e.tenant, &restated).expect("frame"))
        .expect("ingest");
    let restated_want = e.reference(day, &cfg);
    assert_ne!(restated_want, want, "the restatement changes the scores");
    assert_eq!(e.via(None, &cfg), (Origin::Built, day, restated_want));
}

/// What an ingest does afterwards: a tenant with current features is left alone, one whose
/// rows moved on gets them rebuilt (the next run reads them), one without them gets none, and
/// one whose features were built under other settings is not rebuilt under these.
#[test]
fn refresh_after_an_ingest_rebuilds_only_kept_snapshots() {
    let e = env();
    let cfg = small_config();
    let last = e.last_day();
    assert!(
        !refresh_if_kept(&e.wh, &e.tenant, &cfg.base).unwrap(),
        "none kept yet"
    );
    assert!(!e.file(STAMP_FILE).exists());
    assert_eq!(e.via(None, &cfg).0, Origin::Built);
    assert!(
        !refresh_if_kept(&e.wh, &e.tenant, &cfg.base).unwrap(),
        "already current"
    );

    let next: Vec<AdDailyRow> = e
        .rows
        .iter()
        .filter(|r| r.date == last)
        .map(|r| AdDailyRow {
            date: last + Duration::days(1),
            ..r.clone()
        })
        .collect();
    e.wh.ingest(rows_to_frame(&e.tenant, &next).expect("frame"))
        .expect("ingest");
    let mut other = cfg.clone();
    other.base.labels.onset_ratio = 1.7;
    assert!(
        !refresh_if_kept(&e.wh, &e.tenant, &other.base).unwrap(),
        "other settings"
    );
    assert!(refresh_if_kept(&e.wh, &e.tenant, &cfg.base).unwrap());
    let day = last + Duration::days(1);
    assert_eq!(
        e.via(None, &cfg),
        (Origin::Disk, day, e.reference(day, &cfg))
    );
}

#[test]
fn a_damaged_or_foreign_snapshot_is_rebuilt() {
    let e = env();
    let cfg = small_config();
    let last = e.last_day();
    let want = e.reference(last, &cfg);
    assert_eq!(e.via(None, &cfg).0, Origin::Built);
    let good_stamp = std::fs::read(e.file(STAMP_FILE)).expect("stamp");
    let good_data = std::fs::read(e.file(DATA_FILE)).expect("data");

    // One byte of a feature value changed: the checksum rejects it.
    let mut data = good_data.clone();
    let mid = data.len() / 2;
    data[mid] ^= 0x40;
    std::fs::write(e.file(DATA_FILE), &data).expect("write");
    assert_eq!(e.via(None, &cfg), (Origin::Built, last, want.clone()));
    assert_eq!(std::fs::read(e.file(DATA_FILE)).expect("data"), good_data);

    // Cut short, or gone.
    std::fs::write(e.file(DATA_FILE), &good_data[..good_data.len() / 3]).expect("write");
    assert_eq!(e.via(None, &cfg), (Origin::Built, last, want.clone()));
    std::fs::remove_file(e.file(DATA_FILE)).expect("remove");
    assert_eq!(e.via(None, &cfg), (Origin::Built, last, want.clone()));

    // A stamp that is not JSON, or of another format version or tenant.
    std::fs::write(e.file(STAMP_FILE), b"{\"format\": 1, \"eng").expect("write");
    assert_eq!(e.via(None, &cfg), (Origin::Built, last, want.clone()));
    let stamp: serde_json::Value = serde_json::from_slice(&good_stamp).expect("json");
    for (field, value) in [
        ("format", serde_json::json!(0)),
        ("tenant", serde_json::json!("someone-else")),
        ("engine", serde_json::json!("0.0.0")),
    ] {
        let mut s = stamp.clone();
        s[field] = value;
        std::fs::write(e.file(STAMP_FILE), serde_json::to_vec(&s).expect("json")).expect("write");
        assert_eq!(
            e.via(None, &cfg),
            (Origin::Built, last, want.clone()),
            "{field}"
        );
    }
    assert_eq!(e.via(None, &cfg), (Origin::Disk, last, want));
}

#[test]
fn erasing_the_tenant_removes_its_snapshot() {
    let e = env();
    let cfg = small_config();
    assert_eq!(e.via(None, &cfg).0, Origin::Built);
    assert!(e.wh.derived_dir(&e.tenant).exists());
    e.wh.delete_tenant(&e.tenant).expect("erase");
    assert!(!e.wh.derived_dir(&e.tenant).exists());
    let found = at(&e.wh, &e.tenant, None, &cfg.base).expect("snapshot");
    assert!(found.snapshot.is_none() && found.version.is_empty());
}

#[test]
fn nothing_is_written_for_rows_that_changed_meanwhile() {
    let e = env();
    let before = e.wh.version(&e.tenant).expect("version");
    let next: Vec<AdDailyRow> = e
        .rows
        .iter()
        .take(3)
        .cloned()
        .map(|mut r| {
            r.clicks += 1;
            r
        })
        .collect();
    e.wh.ingest(rows_to_frame(&e.tenant, &next).expect("frame"))
        .expect("ingest");
    let wrote =
        e.wh.write_derived(&e.tenant, &before, &[(STAMP_FILE, b"{}")])
            .expect("write");
    assert!(!wrote && !e.file(STAMP_FILE).exists());
    let now = e.wh.version(&e.tenant).expect("version");
    assert!(
        e.wh.write_derived(&e.tenant, &now, &[(STAMP_FILE, b"{}")])
            .expect("write")
    );
    assert!(e.file(STAMP_FILE).exists());
}
