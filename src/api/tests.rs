//! Router tests without a socket: every route, role and error class, cross-tenant attempts
//! included. One fixture (a simulated warehouse of two tenants, a fatigue model and a budget
//! model for the first) is built once and copied into a fresh folder per test.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use polars::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{AppState, app};
use crate::budget::job::BudgetJobConfig;
use crate::budget::series::Dataset;
use crate::budget::service as budget_service;
use crate::budget::synth::{SynthConfig, generate};
use crate::config::Config;
use crate::fatigue::JobConfig;
use crate::registry::{ModelKind, Registry};
use crate::state::Role;
use crate::warehouse::Warehouse;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    tenant_a: String,
    tenant_b: String,
    frame: DataFrame,
}

const SPEC: &str = "[evaluation]\nstride_days = 2\ntest_days = 40\nvalidation_days = 25\nmin_onsets = 1\n\
    [models]\nseed = 3\n[models.forest]\ntrees = 4\n[models.mlp]\nmax_epochs = 10\n";

fn synth_sets() -> Vec<Dataset> {
    let (ds, _) = generate(&SynthConfig {
        channels: 2,
        periods: 60,
        noise: 0.02,
        ..SynthConfig::default()
    });
    vec![ds]
}

fn small_budget_job() -> BudgetJobConfig {
    let mut j = BudgetJobConfig::default();
    j.fit.draws = 10;
    j
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(|| {
                let dir = tempfile::tempdir().unwrap();
                let root = dir.path().to_path_buf();
                let frame = crate::fatigue::tests::sim_frame_with(5, 2, 160, 200)
                    .collect()
                    .unwrap();
                let mut tenants: Vec<String> = frame
                    .column("tenant")
                    .unwrap()
                    .str()
                    .unwrap()
                    .iter()
                    .flatten()
                    .map(str::to_string)
                    .collect();
                tenants.sort();
                tenants.dedup();
                let wh = Warehouse::open(root.join("wh")).unwrap();
                wh.ingest(frame.clone()).unwrap();
                let reg = Registry::open(root.join("models"));
                let job = JobConfig::from_toml_str(SPEC).unwrap();
                crate::bootstrap::train_fatigue(&wh, &reg, &tenants[0], &job, &mut |_, _, _| {})
                    .unwrap();
                budget_service::train_and_register(
                    &reg,
                    &tenants[0],
                    &synth_sets(),
                    &small_budget_job(),
                    "mmm.csv",
                    "sales",
                )
                .unwrap();
                Fixture {
                    _dir: dir,
                    root,
                    tenant_a: tenants[0].clone(),
                    tenant_b: tenants[1].clone(),
                    frame,
                }
            })
            .unwrap()
            .join()
            .unwrap()
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// A test server over a private copy of the fixture.
pub(crate) struct Env {
    _dir: tempfile::TempDir,
    pub st: Arc<AppState>,
    pub app: axum::Router,
    pub a: String,
    pub b: String,
}

pub(crate) fn env_with(tweak: impl FnOnce(&mut Config)) -> Env {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&f.root, dir.path());
    let mut cfg = Config {
        data_dir: dir.path().to_path_buf(),
        warehouse_dir: Some(dir.path().join("wh")),
        models_dir: dir.path().join("models"),
        state: Some(dir.path().join("state.sqlite")),
        ..Config::default()
    };
    tweak(&mut cfg);
    let st = Arc::new(AppState::open(cfg).unwrap());
    st.champions.refresh().unwrap();
    st.set_ready(true);
    Env {
        app: app(st.clone()),
        st,
        _dir: dir,
        a: f.tenant_a.clone(),
        b: f.tenant_b.clone(),
    }
}

pub(crate) fn env() -> Env {
    env_with(|_| {})
}

impl Env {
    pub(crate) fn key(&self, tenant: &str, role: Role) -> String {
        self.st.state.create_key(tenant, role, "test").unwrap().1
    }
}

/// Runs async code on a runtime with roomy stacks (Polars plans recurse deeply in debug).
pub(crate) fn run<T: Send + 'static>(
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(64 << 20)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub(crate) struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: Value,
    pub text: String,
}

pub(crate) async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(k) = key {
        b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    let req = match body {
        Some(v) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    };
    send(app, req).await
}

pub(crate) async fn send(app: &axum::Router, req: Request<Body>) -> Resp {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        json,
        text,
    }
}

fn assert_problem(r: &Resp, status: u16) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(
        r.headers[header::CONTENT_TYPE],
        "application/problem+json",
        "{}",
        r.text
    );
    assert_eq!(r.json["status"], status);
    assert!(
        r.json["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:omnify:problem:")
    );
    assert!(!r.json["detail"].as_str().unwrap().is_empty());
}

pub(crate) fn history(days: usize, spend: f64) -> Value {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    Value::Array(
        (0..days)
            .map(|d| {
                json!({"date": (start + chrono::Duration::days(d as i64)).to_string(),
                       "impressions": 1000 + 10 * d, "clicks": 20, "spend": spend})
            })
            .collect(),
    )
}

#[test]
fn authentication_and_roles() {
    let e = env();
    run(async move {
        // No key, a malformed one, an unknown one: 401 with a Bearer challenge.
        let r = call(&e.app, "GET", "/v1/models", None, None).await;
        assert_problem(&r, 401);
        assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
        assert_problem(
            &call(&e.app, "GET", "/v1/models", Some("nope"), None).await,
            401,
        );
        let forged = "omk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert_problem(
            &call(&e.app, "GET", "/v1/models", Some(forged), None).await,
            401,
        );
        let read = e.key(&e.a, Role::Read);
        let write = e.key(&e.a, Role::Write);
        let admin = e.key(&e.a, Role::Admin);
        assert_eq!(
            call(&e.app, "GET", "/v1/models", Some(&read), None)
                .await
                .status,
            200
        );
        // read < write < admin.
        let job = json!({"kind": "budget"});
        assert_problem(
            &call(&e.app, "POST", "/v1/jobs", Some(&read), Some(job.clone())).await,
            403,
        );
        let k = json!({"role": "read"});
        assert_problem(
            &call(&e.app, "POST", "/v1/keys", Some(&write), Some(k.clone())).await,
            403,
        );
        assert_problem(
            &call(&e.app, "POST", "/v1/ingest/meta", Some(&read), None).await,
            403,
        );
        let r = call(&e.app, "POST", "/v1/keys", Some(&admin), Some(k)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let new_key = r.json["key"].as_str().unwrap().to_string();
        assert_eq!(r.json["tenant"], e.a);
        // The listing never shows secrets; revocation works at once.
        let r = call(&e.app, "GET", "/v1/keys", Some(&admin), None).await;
        assert_eq!(r.json.as_array().unwrap().len(), 4);
        // omk_<hex id>_<secret>: the secret itself may contain `_` (URL-safe base64).
        let secret = new_key.splitn(3, '_').nth(2).unwrap();
        assert!(secret.len() >= 40, "{new_key}");
        assert!(!r.text.contains(secret));
        assert_eq!(
            call(&e.app, "GET", "/v1/jobs", Some(&new_key), None)
                .await
                .status,
            200
        );
        let id = r.json[3]["id"].as_str().unwrap().to_string();
        let r = call(
            &e.app,
            "DELETE",
            &format!("/v1/keys/{id}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_problem(
            &call(&e.app, "GET", "/v1/jobs", Some(&new_key), None).await,
            401,
        );
        assert_problem(
            &call(
                &e.app,
                "DELETE",
                &format!("/v1/keys/{id}"),
                Some(&admin),
                None,
            )
            .await,
            404,
        );
    });
}

#[test]
fn another_tenant_sees_nothing() {
    let e = env();
    run(async move {
        let a_write = e.key(&e.a, Role::Write);
        let a_admin = e.key(&e.a, Role::Admin);
        let b_admin = e.key(&e.b, Role::Admin);
        let r = call(
            &e.app,
            "POST",
            "/v1/jobs",
            Some(&a_write),
            Some(json!({"kind": "budget"})),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let job = r.json["id"].as_str().unwrap().to_string();
        let v =
            e.st.registry
                .champion(&e.a, ModelKind::Fatigue)
                .unwrap()
                .unwrap();
        // Every id of tenant A answers 404 to tenant B's admin key, never 403.
        for (m, uri) in [
            ("GET", format!("/v1/jobs/{job}")),
            ("DELETE", format!("/v1/jobs/{job}")),
            ("POST", format!("/v1/jobs/{job}/cancel")),
            ("GET", format!("/v1/models/fatigue/{v}")),
            ("POST", format!("/v1/models/fatigue/{v}/promote")),
            ("DELETE", format!("/v1/tenants/{}", e.a)),
        ] {
            let r = call(&e.app, m, &uri, Some(&b_admin), None).await;
            assert_problem(&r, 404);
            assert!(!r.text.contains(&e.a), "{uri}: {}", r.text);
        }
        let a_key_id = e.st.state.list_keys(Some(&e.a)).unwrap()[0].id.clone();
        assert_problem(
            &call(
                &e.app,
                "DELETE",
                &format!("/v1/keys/{a_key_id}"),
                Some(&b_admin),
                None,
            )
            .await,
            404,
        );
        // B's lists are empty; B has no models to score with.
        let r = call(&e.app, "GET", "/v1/jobs", Some(&b_admin), None).await;
        assert_eq!(r.json, json!([]));
        let r = call(&e.app, "GET", "/v1/models", Some(&b_admin), None).await;
        assert_eq!(r.json["fatigue"]["champion"], Value::Null);
        assert_eq!(r.json["fatigue"]["versions"], json!([]));
        // Without a model of its own, B is on the cold-start prior, and says so.
        let prior = crate::fatigue::prior::embedded().unwrap();
        assert_eq!(r.json["fatigue"]["serving"], json!(prior.card.version));
        assert_eq!(r.json["fatigue"]["on_prior"], json!(true));
        // A's ad ids are unknown to B even with A's champion loaded: B's warehouse has none.
        let a_ad = first_ad(&e.a);
        let r = call(
            &e.app,
            "POST",
            "/v1/fatigue/score",
            Some(&b_admin),
            Some(json!({"ad_ids": [a_ad]})),
        )
        .await;
        assert_problem(&r, 422);
        assert!(!r.text.contains(&e.a), "{}", r.text);
        // A still sees its job.
        assert_eq!(
            call(
                &e.app,
                "GET",
                &format!("/v1/jobs/{job}"),
                Some(&a_admin),
                None
            )
            .await
            .status,
            200
        );
    });
}

/// An ad of `tenant` and its last delivering day (so it is active there).
pub(crate) fn active_ad(tenant: &str) -> (String, chrono::NaiveDate) {
    let f = fixture();
    let df = f
        .frame
        .clone()
        .lazy()
        .filter(
            col("tenant")
                .eq(lit(tenant))
                .and(col("impressions").gt(lit(0))),
        )
        .group_by([col("ad_id")])
        .agg([col("date").max()])
        .sort(
            ["date"],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .collect()
        .unwrap();
    let ad = df
        .column("ad_id")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    let d = match df.column("date").unwrap().get(0).unwrap() {
        AnyValue::Date(d) => crate::schema::days_to_date(d),
        other => panic!("{other:?}"),
    };
    (ad, d)
}

pub(crate) fn first_ad(tenant: &str) -> String {
    let f = fixture();
    f.frame
        .clone()
        .lazy()
        .filter(col("tenant").eq(lit(tenant)))
        .select([col("ad_id")])
        .collect()
        .unwrap()
        .column("ad_id")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string()
}

#[test]
fn scoring_from_the_body_and_from_the_warehouse() {
    let e = env();
    run(async move {
        let key = e.key(&e.a, Role::Read);
        let champion =
            e.st.registry
                .champion(&e.a, ModelKind::Fatigue)
                .unwrap()
                .unwrap();
        let body = json!({"creatives": [
            {"platform": "meta", "account_id": "1", "ad_id": "a", "history": history(28, 10.0)},
            {"platform": "tiktok", "account_id": "2", "ad_id": "b", "history": history(28, 12.5)},
        ]});
        let r = call(&e.app, "POST", "/v1/fatigue/score", Some(&key), Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["model_version"], champion);
        assert_eq!(r.json["as_of"], "2026-03-28");
        let scores = r.json["scores"].as_array().unwrap();
        assert_eq!(scores.len(), 2);
        for s in scores {
            assert_eq!(s["tenant"], e.a);
            if s["status"] == "healthy" || s["status"] == "limited" {
                let p7 = s["p_onset_7d"].as_f64().unwrap();
                let surv = s["survival"].as_array().unwrap();
                assert!(surv.len() >= 14);
                // P(onset within 7 days) = 1 − S(7).
                assert!((p7 - (1.0 - surv[6].as_f64().unwrap())).abs() < 1e-9);
                let monotone = surv.windows(2).all(|w| w[1].as_f64() <= w[0].as_f64());
                assert!(monotone, "{s}");
            }
        }
        // An earlier `as_of` scores the histories cut at that day: the same answers as
        // sending only the days up to it.
        let upto = |days: usize| {
            json!({"creatives": [
                {"platform": "meta", "account_id": "1", "ad_id": "a", "history": history(days, 10.0)},
                {"platform": "tiktok", "account_id": "2", "ad_id": "b", "history": history(days, 12.5)},
            ]})
        };
        let mut at = upto(28);
        at["as_of"] = json!("2026-03-20");
        let cut = call(&e.app, "POST", "/v1/fatigue/score", Some(&key), Some(at)).await;
        let short = call(
            &e.app,
            "POST",
            "/v1/fatigue/score",
            Some(&key),
            Some(upto(20)),
        )
        .await;
        assert_eq!(cut.status, 200, "{}", cut.text);
        assert_eq!(short.status, 200, "{}", short.text);
        assert_eq!(cut.json["as_of"], "2026-03-20");
        assert_eq!(cut.json, short.json);
        assert_ne!(cut.json["scores"], r.json["scores"]);
        // From the warehouse: the same numbers as the library's own scoring of the tenant
        // (the account medians and seasonal index read the ad's neighbours too).
        let (ad, as_of) = active_ad(&e.a);
        let r = call(
            &e.app,
            "POST",
            "/v1/fatigue/score",
            Some(&key),
            Some(json!({"ad_ids": [ad, "no-such-ad"], "as_of": as_of.to_string()})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["unknown_ad_ids"], json!(["no-such-ad"]));
        let got = &r.json["scores"][0];
        assert_eq!(got["ad_id"], ad);
        let loaded =
            e.st.registry
                .load_champion(&e.a, ModelKind::Fatigue)
                .unwrap();
        let model = crate::fatigue::FittedModel::from_files(&loaded.files).unwrap();
        let f = fixture();
        let lf = f
            .frame
            .clone()
            .lazy()
            .filter(col("tenant").eq(lit(e.a.as_str())));
        let want = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || {
                crate::fatigue::score(
                    lf,
                    as_of,
                    &model,
                    &loaded.card.version,
                    &crate::bootstrap::fatigue_job().unwrap(),
                )
                .unwrap()
            })
            .unwrap()
            .join()
            .unwrap();
        let want = want
            .iter()
            .find(|w| w.ad_id == ad)
            .expect("the ad is scored");
        assert_eq!(got["status"], want.status);
        // Equal to rounding: the library scored every active creative in one model run, the
        // request one creative, and a network's matrix products round differently with the
        // batch size (the fixture's champion family varies with the forest's run-to-run ties).
        assert_close(got["p_onset_14d"].as_f64(), want.p_onset_14d);
    });
}

/// Equal to rounding: the library scores every active creative in one model run, a request
/// may score fewer, and a network's matrix products round differently with the batch size
/// (the fixture's champion family varies with the forest's run-to-run ties).
fn assert_close(got: Option<f64>, want: Option<f64>) {
    match (got, want) {
        (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-12, "{g} vs {w}"),
        (g, w) => assert_eq!(g, w),
    }
}

#[test]
fn warehouse_scores_default_to_the_latest_day_and_follow_ingests() {
    let e = env();
    run(async move {
        let key = e.key(&e.a, Role::Read);
        let score = |body: Value| {
            let (app, key) = (e.app.clone(), key.clone());
            async move { call(&app, "POST", "/v1/fatigue/score", Some(&key), Some(body)).await }
        };
        let tenant_rows = fixture()
            .frame
            .clone()
            .lazy()
            .filter(col("tenant").eq(lit(e.a.as_str())))
            .collect()
            .unwrap();
        let rows = crate::schema::rows_from_frame(&tenant_rows).unwrap();
        let last = rows.iter().map(|r| r.date).max().unwrap();
        let (ad, _) = active_ad(&e.a);
        let loaded =
            e.st.registry
                .load_champion(&e.a, ModelKind::Fatigue)
                .unwrap();
        let model = crate::fatigue::FittedModel::from_files(&loaded.files).unwrap();
        let job = crate::bootstrap::fatigue_job().unwrap();

        // No as_of: the tenant's latest day; an id asked twice is answered once; the numbers
        // are those of scoring every creative of the tenant at that day.
        let r = score(json!({"ad_ids": [ad, ad]})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["as_of"], last.to_string());
        let got = r.json["scores"].as_array().unwrap();
        assert_eq!(got.len(), 1);
        let want =
            crate::fatigue::score_frame(&tenant_rows, &e.a, last, &model, "v", &job).unwrap();
        let want = want
            .iter()
            .find(|w| w.ad_id == ad)
            .expect("active at its last day");
        assert_eq!(got[0]["status"], want.status);
        assert_close(got[0]["p_onset_14d"].as_f64(), want.p_onset_14d);
        assert_eq!(got[0]["drivers"], want.drivers);

        // The features were also written next to the warehouse: another process (or this
        // server restarted) reads them instead of computing them again.
        let found =
            crate::fatigue::snapshot::at(&e.st.warehouse, &e.a, None, &e.st.fatigue_spec.base)
                .unwrap();
        assert_eq!(found.origin, crate::fatigue::snapshot::Origin::Disk);
        assert_eq!(found.snapshot.map(|s| s.as_of), Some(last));

        // Another day: computed from the tenant's rows up to it, with the same result as
        // scoring the whole tenant there.
        let earlier = last - chrono::Duration::days(5);
        let r = score(json!({"ad_ids": [ad], "as_of": earlier.to_string()})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let want = crate::fatigue::score_rows(&e.a, &rows, earlier, &model, "v", &job).unwrap();
        match want.iter().find(|w| w.ad_id == ad) {
            Some(w) => {
                assert_eq!(r.json["scores"][0]["status"], w.status);
                assert_close(r.json["scores"][0]["p_onset_14d"].as_f64(), w.p_onset_14d);
            }
            None => assert_eq!(r.json["scores"][0]["status"], "inactive"),
        }

        // A later day of the ad lands in the warehouse (as an ingest from another process
        // would): the next answer is at that day, from the new rows.
        let mut next: Vec<_> = rows
            .iter()
            .filter(|r| r.ad_id == ad && r.date == last)
            .cloned()
            .collect();
        assert!(!next.is_empty());
        for r in &mut next {
            r.date = last + chrono::Duration::days(1);
        }
        e.st.warehouse
            .ingest(crate::schema::rows_to_frame(&e.a, &next).unwrap())
            .unwrap();
        let current = || e.st.snapshots.is_current(&e.st.warehouse, &e.a).unwrap();
        assert!(
            !current(),
            "another process's ingest is noticed by the next request"
        );
        let r = score(json!({"ad_ids": [ad]})).await;
        assert!(current());
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["as_of"], next[0].date.to_string());
        let mut all = rows.clone();
        all.extend(next.iter().cloned());
        let want = crate::fatigue::score_rows(&e.a, &all, next[0].date, &model, "v", &job).unwrap();
        let want = want
            .iter()
            .find(|w| w.ad_id == ad)
            .expect("active at the new day");
        assert_eq!(
            r.json["scores"][0]["p_onset_14d"].as_f64(),
            want.p_onset_14d
        );

        // An ingest through the API rebuilds the kept snapshot in the background.
        let write = e.key(&e.a, Role::Write);
        let report = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meta/insights_p1.json"),
        )
        .unwrap();
        let req = Request::builder()
            .method("POST")
            .uri("/v1/ingest/meta")
            .header(header::AUTHORIZATION, format!("Bearer {write}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(report))
            .unwrap();
        let r = send(&e.app, req).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut waited = 0;
        while !current() {
            assert!(
                waited < 300,
                "the snapshot was not rebuilt after the ingest"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            waited += 1;
        }
    });
}

#[test]
fn scoring_input_errors_name_the_field() {
    let e = env_with(|c| {
        c.api.max_batch_creatives = 3;
        c.api.batch_body_limit_bytes = 20_000;
    });
    run(async move {
        let key = e.key(&e.a, Role::Read);
        let score = |body: Value| {
            let app = e.app.clone();
            let key = key.clone();
            async move { call(&app, "POST", "/v1/fatigue/score", Some(&key), Some(body)).await }
        };
        let mut h = history(5, 10.0);
        h[2]["spend"] = json!(-3.0);
        h[3]["impressions"] = json!(-1);
        let r = score(json!({"creatives": [
            {"platform": "meta", "account_id": "1", "ad_id": "a", "history": history(3, 1.0)},
            {"platform": "meta", "account_id": "1", "ad_id": "b", "history": h}]}))
        .await;
        assert_problem(&r, 422);
        let paths: Vec<&str> = r.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "creatives[1].history[2].spend",
                "creatives[1].history[3].impressions"
            ]
        );
        // A wrong type is caught while parsing, with its path.
        let mut h = history(3, 1.0);
        h[1]["clicks"] = json!("many");
        let r = score(json!({"creatives": [{"platform": "meta", "account_id": "1", "ad_id": "a", "history": h}]})).await;
        assert_problem(&r, 422);
        assert_eq!(
            r.json["errors"][0]["path"],
            "creatives[0].history[1].clicks"
        );
        let r = score(json!({"creatives": [{"platform": "myspace", "account_id": "1", "ad_id": "a", "history": history(2, 1.0)}]})).await;
        assert_eq!(r.json["errors"][0]["path"], "creatives[0].platform");
        let r = score(json!({"ad_ids": ["x"], "creatives": []})).await;
        assert_problem(&r, 422);
        let r = score(json!({"ad_ids": ["a", "b", "c", "d"]})).await;
        assert_problem(&r, 422);
        assert_eq!(r.json["errors"][0]["path"], "ad_ids");
        let r = score(json!({"unknown_field": 1})).await;
        assert_problem(&r, 422);
        // Malformed JSON 400, not JSON 415, too large 413.
        let raw = |ct: &str, body: String| {
            Request::builder()
                .method("POST")
                .uri("/v1/fatigue/score")
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap()
        };
        assert_problem(
            &send(&e.app, raw("application/json", "{\"ad_ids\": [".into())).await,
            400,
        );
        assert_problem(&send(&e.app, raw("text/csv", "a,b".into())).await, 415);
        let big = json!({"ad_ids": ["x".repeat(30_000)]}).to_string();
        assert_problem(&send(&e.app, raw("application/json", big)).await, 413);
        // Past the limit with its length declared (a large body, read as it arrives): 413.
        let big = json!({"ad_ids": ["x".repeat(300_000)]}).to_string();
        let mut req = raw("application/json", big.clone());
        req.headers_mut().insert(
            header::CONTENT_LENGTH,
            big.len().to_string().parse().unwrap(),
        );
        let r = send(&e.app, req).await;
        assert_problem(&r, 413);
        assert!(
            r.json["detail"].as_str().unwrap().contains("size limit"),
            "{}",
            r.text
        );
    });
}

#[test]
fn large_bodies_parse_off_the_runtime_with_the_same_errors() {
    let e = env();
    run(async move {
        let key = e.key(&e.a, Role::Read);
        // Sent with its length declared, as clients do: read and checked as it arrives.
        let score = |body: Value| {
            let text = body.to_string();
            let req = Request::builder()
                .method("POST")
                .uri("/v1/fatigue/score")
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_LENGTH, text.len())
                .body(Body::from(text))
                .unwrap();
            send(&e.app, req)
        };
        // Over the inline-parse size: 2,000 creatives, one with a negative spend.
        let mut creatives: Vec<Value> = (0..2000)
            .map(|i| {
                json!({"platform": "meta", "account_id": "1", "ad_id": format!("ad{i}"),
                            "history": history(3, 1.0)})
            })
            .collect();
        creatives[1500]["history"][1]["spend"] = json!(-2.0);
        let body = json!({ "creatives": creatives });
        assert!(body.to_string().len() > 256 << 10);
        let r = score(body).await;
        assert_problem(&r, 422);
        assert_eq!(
            r.json["errors"][0]["path"],
            "creatives[1500].history[1].spend"
        );
        // Malformed, and badly typed, at that size: 400 and 422 with the field path.
        let mut text = json!({ "creatives": creatives }).to_string();
        text.truncate(text.len() - 10);
        let req = Request::builder()
            .method("POST")
            .uri("/v1/fatigue/score")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(text))
            .unwrap();
        assert_problem(&send(&e.app, req).await, 400);
        creatives[7]["history"][0]["clicks"] = json!("many");
        let r = score(json!({ "creatives": creatives })).await;
        assert_problem(&r, 422);
        assert_eq!(
            r.json["errors"][0]["path"],
            "creatives[7].history[0].clicks"
        );
        // Errors found in different runs of 512 creatives (checked on all cores) are listed
        // in request order, a creative named again in a later run included.
        creatives[7]["history"][0]["clicks"] = json!(-1);
        creatives[1999]["ad_id"] = json!("ad3");
        let r = score(json!({ "creatives": creatives })).await;
        assert_problem(&r, 422);
        let paths: Vec<&str> = r.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["path"].as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "creatives[7].history[0].clicks",
                "creatives[1500].history[1].spend",
                "creatives[1999].ad_id"
            ]
        );
        creatives[1999]["ad_id"] = json!("ad1999");
        // Valid at that size: checked, scored and answered off the runtime, one score each.
        creatives[7]["history"][0]["clicks"] = json!(20);
        creatives[1500]["history"][1]["spend"] = json!(2.0);
        let r = score(json!({ "creatives": creatives })).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["scores"].as_array().map(Vec::len), Some(2000));
        assert_eq!(r.json["as_of"], "2026-03-03");
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
        // The same body without a declared length (read whole first): the same answer.
        let whole = call(
            &e.app,
            "POST",
            "/v1/fatigue/score",
            Some(&key),
            Some(json!({ "creatives": creatives })),
        )
        .await;
        assert_eq!(whole.json, r.json);
    });
}

#[test]
fn budget_plans_and_forecasts() {
    let e = env();
    run(async move {
        let key = e.key(&e.a, Role::Read);
        // Two identical Michaelis–Menten curves 10·s/(50+s): by symmetry and concavity the
        // optimum splits 200 evenly, 100 each, each yielding 10·100/150 = 6.6667.
        let mm = json!({"type": "michaelis_menten", "beta": 10.0, "half_saturation": 50.0});
        let body = json!({"budget": 200.0, "entities": [
            {"id": "a", "curve": mm, "current_spend": 150.0},
            {"id": "b", "curve": mm, "current_spend": 50.0}]});
        let r = call(
            &e.app,
            "POST",
            "/v1/budget/optimize",
            Some(&key),
            Some(body),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        for ent in r.json["entities"].as_array().unwrap() {
            assert!(
                (ent["recommended"].as_f64().unwrap() - 100.0).abs() < 1e-4,
                "{ent}"
            );
            assert!(
                (ent["expected_outcome_recommended"].as_f64().unwrap() - 20.0 / 3.0).abs() < 1e-4
            );
        }
        assert!((r.json["expected_outcome"].as_f64().unwrap() - 40.0 / 3.0).abs() < 1e-4);
        assert_eq!(r.json.get("model_version"), None);
        // The champion's curves.
        let champion =
            e.st.registry
                .champion(&e.a, ModelKind::Budget)
                .unwrap()
                .unwrap();
        let r = call(
            &e.app,
            "POST",
            "/v1/budget/optimize",
            Some(&key),
            Some(json!({"budget": 1000.0})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["model_version"], champion);
        let total: f64 = r.json["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["recommended"].as_f64().unwrap())
            .sum();
        assert!((total - 1000.0).abs() < 1e-6);
        // Errors name the field.
        let r = call(
            &e.app,
            "POST",
            "/v1/budget/optimize",
            Some(&key),
            Some(json!({"budget": -5})),
        )
        .await;
        assert_problem(&r, 422);
        assert_eq!(r.json["errors"][0]["path"], "budget");
        let r = call(
            &e.app,
            "POST",
            "/v1/budget/optimize",
            Some(&key),
            Some(json!({"budget": 100, "mode": "target_cpa"})),
        )
        .await;
        assert_problem(&r, 422);
        assert!(r.json["detail"].as_str().unwrap().contains("target"));
        // Forecast: a plan per period.
        let plan = json!({"entities": [{"id": "ch0", "spend": 100.0}, {"id": "ch1", "spend": 50.0}], "periods": 4});
        let r = call(
            &e.app,
            "POST",
            "/v1/budget/forecast",
            Some(&key),
            Some(plan),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["model_version"], champion);
        let rows = r.json["rows"].as_array().unwrap();
        assert!(rows.len() >= 4);
        for row in rows {
            let (lo, mid, hi) = (
                row["outcome_lo"].as_f64().unwrap(),
                row["outcome"].as_f64().unwrap(),
                row["outcome_hi"].as_f64().unwrap(),
            );
            assert!(lo <= mid + 1e-9 && mid <= hi + 1e-9, "{row}");
        }
        let r = call(&e.app, "POST", "/v1/budget/forecast", Some(&key),
            Some(json!({"entities": [{"id": "ch0", "spend": 1}, {"id": "ch0", "spend": 2}], "periods": 2}))).await;
        assert_eq!(r.json["errors"][0]["path"], "entities[1].id");
        let r = call(
            &e.app,
            "POST",
            "/v1/budget/forecast",
            Some(&key),
            Some(json!({"entities": [], "periods": 0})),
        )
        .await;
        assert_eq!(r.json["errors"][0]["path"], "periods");
        // Another tenant without a budget model.
        let b = e.key(&e.b, Role::Read);
        assert_problem(
            &call(
                &e.app,
                "POST",
                "/v1/budget/optimize",
                Some(&b),
                Some(json!({"budget": 10})),
            )
            .await,
            404,
        );
    });
}

#[test]
fn ingest_is_validated_atomic_and_idempotent() {
    let e = env();
    run(async move {
        let key = e.key(&e.b, Role::Write);
        let fixture = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meta/insights_p1.json"),
        )
        .unwrap();
        let post = |uri: &str, body: Vec<u8>| {
            Request::builder()
                .method("POST")
                .uri(uri)
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap()
        };
        // The fixture holds 3 ad-days (ad 2384 on 09-01 and 09-02, ad 2385 on 09-01).
        let r = send(&e.app, post("/v1/ingest/meta", fixture.clone())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            (
                r.json["rows"].as_u64(),
                r.json["inserted"].as_u64(),
                r.json["replaced"].as_u64()
            ),
            (Some(3), Some(3), Some(0))
        );
        assert_eq!(r.json["platforms"], json!(["meta"]));
        let r = send(&e.app, post("/v1/ingest/auto", fixture.clone())).await;
        assert_eq!(
            (r.json["inserted"].as_u64(), r.json["replaced"].as_u64()),
            (Some(0), Some(3))
        );
        // A truncated report: 422 naming the problem, and nothing written.
        let before = e.st.warehouse.summary(Some(&e.b)).unwrap().rows;
        let r = send(
            &e.app,
            post("/v1/ingest/meta", fixture[..fixture.len() / 2].to_vec()),
        )
        .await;
        assert_problem(&r, 422);
        assert_eq!(e.st.warehouse.summary(Some(&e.b)).unwrap().rows, before);
        assert_problem(
            &send(&e.app, post("/v1/ingest/myspace", fixture.clone())).await,
            404,
        );
        assert_problem(
            &send(&e.app, post("/v1/ingest/meta", Vec::new())).await,
            422,
        );
    });
}

#[test]
fn jobs_models_promotion_and_hot_swap() {
    let e = env();
    run(async move {
        let key = e.key(&e.a, Role::Write);
        let old =
            e.st.registry
                .champion(&e.a, ModelKind::Budget)
                .unwrap()
                .unwrap();
        let r = call(
            &e.app,
            "POST",
            "/v1/jobs",
            Some(&key),
            Some(json!({"kind": "churn"})),
        )
        .await;
        assert_eq!(r.json["errors"][0]["path"], "kind");
        let r = call(
            &e.app,
            "POST",
            "/v1/jobs",
            Some(&key),
            Some(json!({"kind": "budget", "config": {"fit": {"bootstrp": 3}}})),
        )
        .await;
        assert_problem(&r, 422);
        assert!(r.text.contains("bootstrp"));
        // Queue two; cancel the second while queued.
        let r = call(
            &e.app,
            "POST",
            "/v1/jobs",
            Some(&key),
            Some(json!({"kind": "budget", "config": {"fit": {"draws": 4}}})),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let id = r.json["id"].as_str().unwrap().to_string();
        assert_eq!(r.headers[header::LOCATION], format!("/v1/jobs/{id}"));
        assert_eq!(r.json["status"], "queued");
        let r2 = call(
            &e.app,
            "POST",
            "/v1/jobs",
            Some(&key),
            Some(json!({"kind": "fatigue"})),
        )
        .await;
        let id2 = r2.json["id"].as_str().unwrap().to_string();
        let r = call(
            &e.app,
            "DELETE",
            &format!("/v1/jobs/{id2}"),
            Some(&key),
            None,
        )
        .await;
        assert_eq!(r.json["status"], "cancelled");
        // Run the first the way a worker does (off the async runtime).
        let st = e.st.clone();
        tokio::task::spawn_blocking(move || {
            let job = st.state.claim().unwrap().unwrap();
            crate::jobs::run(&st.cfg, &st.state, &job).unwrap();
        })
        .await
        .unwrap();
        let r = call(&e.app, "GET", &format!("/v1/jobs/{id}"), Some(&key), None).await;
        assert_eq!(r.json["status"], "succeeded", "{}", r.text);
        assert_eq!(r.json["progress"], 1.0);
        let new = r.json["version"].as_str().unwrap().to_string();
        assert!(r.json["duration_seconds"].as_f64().unwrap() >= 0.0);
        // The new warehouse-trained version is registered; promote it explicitly and see it
        // served without a restart.
        let r = call(
            &e.app,
            "POST",
            &format!("/v1/models/budget/{new}/promote"),
            Some(&key),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["previous"], old);
        let r = call(
            &e.app,
            "POST",
            "/v1/budget/optimize",
            Some(&key),
            Some(json!({"budget": 500})),
        )
        .await;
        assert_eq!(r.json["model_version"], new, "{}", r.text);
        let r = call(&e.app, "GET", "/v1/models", Some(&key), None).await;
        assert_eq!(r.json["budget"]["champion"], new);
        assert_eq!(r.json["budget"]["versions"].as_array().unwrap().len(), 2);
        let r = call(
            &e.app,
            "GET",
            &format!("/v1/models/budget/{new}"),
            Some(&key),
            None,
        )
        .await;
        assert_eq!(r.json["version"], new);
        // Rollback restores the old one; a second rollback has nothing to go back to.
        let r = call(
            &e.app,
            "POST",
            "/v1/models/budget/rollback",
            Some(&key),
            None,
        )
        .await;
        assert_eq!(r.json["champion"], old, "{}", r.text);
        let r = call(
            &e.app,
            "POST",
            "/v1/budget/optimize",
            Some(&key),
            Some(json!({"budget": 500})),
        )
        .await;
        assert_eq!(r.json["model_version"], old);
        assert_problem(
            &call(
                &e.app,
                "POST",
                "/v1/models/budget/rollback",
                Some(&key),
                None,
            )
            .await,
            409,
        );
        assert_problem(
            &call(&e.app, "GET", "/v1/models/churn/x", Some(&key), None).await,
            404,
        );
        // A promotion made by another process (the registry directly) is picked up by the poll.
        e.st.registry
            .promote(&e.a, ModelKind::Budget, &new)
            .unwrap();
        e.st.champions.refresh().unwrap();
        let r = call(
            &e.app,
            "POST",
            "/v1/budget/optimize",
            Some(&key),
            Some(json!({"budget": 500})),
        )
        .await;
        assert_eq!(r.json["model_version"], new);
        let r = call(&e.app, "GET", "/v1/jobs", Some(&key), None).await;
        assert_eq!(r.json.as_array().unwrap().len(), 2);
    });
}

#[test]
fn erase_tenant_removes_everything_of_it_only() {
    let e = env();
    run(async move {
        let admin = e.key(&e.a, Role::Admin);
        let b = e.key(&e.b, Role::Read);
        e.st.state.enqueue(&e.a, "budget", None, "api").unwrap();
        for t in [&e.a, &e.b] {
            crate::fatigue::snapshot::at(&e.st.warehouse, t, None, &e.st.fatigue_spec.base)
                .unwrap();
            assert!(e.st.warehouse.derived_dir(t).exists());
        }
        let read = e.key(&e.a, Role::Read);
        assert_problem(
            &call(
                &e.app,
                "DELETE",
                &format!("/v1/tenants/{}", e.a),
                Some(&read),
                None,
            )
            .await,
            403,
        );
        let r = call(
            &e.app,
            "DELETE",
            &format!("/v1/tenants/{}", e.a),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["jobs"], 1);
        assert_eq!(r.json["keys"], 2);
        assert_eq!(r.json["models"], true);
        assert!(r.json["warehouse_partitions"].as_u64().unwrap() > 0);
        assert_problem(
            &call(&e.app, "GET", "/v1/models", Some(&admin), None).await,
            401,
        );
        assert_eq!(e.st.warehouse.summary(Some(&e.a)).unwrap().rows, 0);
        assert!(e.st.warehouse.summary(Some(&e.b)).unwrap().rows > 0);
        assert!(!e.st.warehouse.derived_dir(&e.a).exists());
        assert!(e.st.warehouse.derived_dir(&e.b).exists());
        assert_eq!(
            e.st.registry.champion(&e.a, ModelKind::Fatigue).unwrap(),
            None
        );
        assert_eq!(
            call(&e.app, "GET", "/v1/jobs", Some(&b), None).await.status,
            200
        );
    });
}

#[test]
fn operations_metrics_openapi_limits() {
    let e = env_with(|c| c.api.rate_limit_per_second = 3);
    run(async move {
        let r = call(&e.app, "GET", "/healthz", None, None).await;
        assert_eq!(r.json["status"], "ok");
        let r = call(&e.app, "GET", "/readyz", None, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.json["champions"].as_array().unwrap().len() >= 2);
        e.st.set_ready(false);
        let r = call(&e.app, "GET", "/readyz", None, None).await;
        assert_problem(&r, 503);
        assert!(r.headers.contains_key(header::RETRY_AFTER));
        let key = e.key(&e.a, Role::Read);
        let r = call(
            &e.app,
            "POST",
            "/v1/fatigue/score",
            Some(&key),
            Some(json!({"ad_ids": ["x"]})),
        )
        .await;
        assert_problem(&r, 503);
        e.st.set_ready(true);
        // Rate limit: 3 per second per key, then 429 with Retry-After.
        let mut codes = Vec::new();
        for _ in 0..5 {
            codes.push(
                call(&e.app, "GET", "/v1/jobs", Some(&key), None)
                    .await
                    .status
                    .as_u16(),
            );
        }
        assert!(codes.contains(&429), "{codes:?}");
        let r = call(&e.app, "GET", "/v1/jobs", Some(&key), None).await;
        assert_problem(&r, 429);
        assert!(
            r.headers[header::RETRY_AFTER]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                >= 1
        );
        // Unknown route: problem+json 404.
        assert_problem(&call(&e.app, "GET", "/v2/nothing", None, None).await, 404);
        // Metrics: request counts per route and status, jobs, champions, warehouse rows.
        let r = call(&e.app, "GET", "/metrics", None, None).await;
        assert_eq!(r.status, 200);
        assert!(
            r.text.contains(
                "omnify_http_requests_total{route=\"/v1/jobs\",method=\"GET\",status=\"429\"}"
            ),
            "{}",
            r.text
        );
        assert!(
            r.text
                .contains("omnify_http_request_duration_seconds_bucket{"),
            "{}",
            r.text
        );
        assert!(r.text.contains(&format!(
            "omnify_champion_info{{tenant=\"{}\",kind=\"fatigue\"",
            e.a
        )));
        let rows = e.st.warehouse.summary(None).unwrap().rows;
        assert!(
            r.text.contains(&format!("omnify_warehouse_rows {rows}")),
            "{}",
            r.text
        );
        assert!(r.text.trim_end().ends_with("# EOF"));
        // OpenAPI 3.1 with every route, request/response schemas and error responses.
        let r = call(&e.app, "GET", "/openapi.json", None, None).await;
        assert!(r.json["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = r.json["paths"].as_object().unwrap();
        for p in [
            "/v1/fatigue/score",
            "/v1/budget/optimize",
            "/v1/budget/forecast",
            "/v1/ingest/{platform}",
            "/v1/jobs",
            "/v1/jobs/{id}",
            "/v1/models",
            "/v1/models/{kind}/{version}",
            "/v1/models/{kind}/{version}/promote",
            "/v1/models/{kind}/rollback",
            "/v1/keys",
            "/v1/keys/{id}",
            "/v1/tenants/{id}",
            "/v1/reports",
            "/v1/reports/latest",
            "/v1/reports/{id}",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(
                paths.contains_key(p),
                "{p} missing from the OpenAPI document"
            );
        }
        let score = &paths["/v1/fatigue/score"]["post"];
        assert!(score["requestBody"].is_object());
        assert!(score["responses"]["422"].is_object());
        let schemas = r.json["components"]["schemas"].as_object().unwrap();
        for s in [
            "ScoreRequest",
            "ScoreResponse",
            "Problem",
            "PlanView",
            "Job",
        ] {
            assert!(schemas.contains_key(s), "{s}");
        }
    });
}

#[test]
fn batched_scores_equal_one_by_one_scores() {
    let e = env();
    let champion =
        e.st.champions
            .get(&e.a, ModelKind::Fatigue)
            .unwrap()
            .unwrap();
    let spec = e.st.fatigue_spec.clone();
    // Four requests sharing an account id and dates: batched, account-relative features must
    // still be computed per request.
    let reqs: Vec<Vec<crate::schema::AdDailyRow>> = (0..4)
        .map(|i| {
            let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
            (0..28)
                .map(|d| {
                    let mut r = crate::schema::AdDailyRow::new(
                        crate::platforms::Platform::Meta,
                        "1".into(),
                        format!("ad{i}"),
                        start + chrono::Duration::days(d),
                    );
                    r.impressions = 1000 + 300 * i - (10 + 5 * i) * d;
                    r.clicks = 30 - d / (i + 1);
                    r.spend = Some(10.0 + i as f64 * 3.0);
                    r
                })
                .collect()
        })
        .collect();
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 3, 28).unwrap();
    let tenant = e.a.clone();
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let inputs: Vec<crate::features::input::DayInput> = reqs
                .iter()
                .map(|r| crate::features::input::DayInput::from_rows(r))
                .collect();
            let refs: Vec<&crate::features::input::DayInput> = inputs.iter().collect();
            let together =
                super::batcher::run_group(&tenant, &champion, as_of, &refs, &spec).unwrap();
            assert_eq!(together.len(), 4);
            for (i, r) in inputs.iter().enumerate() {
                let alone = super::batcher::run_group(&tenant, &champion, as_of, &[r], &spec)
                    .unwrap()
                    .pop()
                    .unwrap();
                assert_eq!(together[i], alone, "request {i}");
                assert_eq!(alone[0].account_id, "1");
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn reports_are_generated_and_served_per_tenant() {
    let e = env();
    run(async move {
        let key = e.key(&e.a, Role::Read);
        let r = call(&e.app, "POST", "/v1/reports", Some(&key), Some(json!({}))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.json["id"].as_str().unwrap().to_string();
        assert_eq!(r.headers[header::LOCATION], format!("/v1/reports/{id}"));
        assert!(r.json["meta"]["files"].as_array().unwrap().len() >= 5);
        for uri in [
            format!("/v1/reports/{id}"),
            "/v1/reports/latest".to_string(),
        ] {
            let r = call(&e.app, "GET", &uri, Some(&key), None).await;
            assert_eq!(r.status, 200, "{uri}");
            assert!(
                r.headers[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
            assert!(r.text.contains("<html"), "{uri}");
        }
        let r = call(
            &e.app,
            "GET",
            &format!("/v1/reports/{id}?file=scores.csv"),
            Some(&key),
            None,
        )
        .await;
        assert!(
            r.text.starts_with("tenant,platform,"),
            "{}",
            &r.text[..r.text.len().min(200)]
        );
        let r = call(
            &e.app,
            "GET",
            &format!("/v1/reports/{id}?file=../../state.sqlite"),
            Some(&key),
            None,
        )
        .await;
        assert_problem(&r, 422);
        // Another tenant sees neither the report nor a latest one.
        let b = e.key(&e.b, Role::Read);
        assert_problem(
            &call(&e.app, "GET", &format!("/v1/reports/{id}"), Some(&b), None).await,
            404,
        );
        assert_problem(
            &call(&e.app, "GET", "/v1/reports/latest", Some(&b), None).await,
            404,
        );
        assert_problem(
            &call(&e.app, "GET", "/v1/reports/not-an-id", Some(&key), None).await,
            404,
        );
    });
}

/// Hostile scoring bodies are refused before the engine fills a day: dates outside the
/// accepted range, histories spanning decades (what once filled 3.65 million days per
/// creative), an absurd `as_of`; each 422 naming the field, small and large bodies alike.
#[test]
fn hostile_dates_and_spans_are_refused_before_any_work() {
    let e = env();
    run(async move {
        let key = e.key(&e.a, Role::Read);
        let declared = |body: Value| {
            let text = body.to_string();
            Request::builder()
                .method("POST")
                .uri("/v1/fatigue/score")
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_LENGTH, text.len())
                .body(Body::from(text))
                .unwrap()
        };
        let day = |d: &str| json!({"date": d, "impressions": 100, "clicks": 2, "spend": 1.0});
        let creative = |i: usize, days: Vec<Value>| {
            json!({"platform": "meta", "account_id": "1", "ad_id": format!("ad{i}"),
                   "history": days})
        };
        let t0 = std::time::Instant::now();
        // The attack: two days, 0001-01-01 and 9999-12-31.
        let r = call(
            &e.app,
            "POST",
            "/v1/fatigue/score",
            Some(&key),
            Some(json!({"creatives": [creative(0, vec![day("0001-01-01"), day("9999-12-31")])]})),
        )
        .await;
        assert_problem(&r, 422);
        let paths: Vec<&str> = r.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["path"].as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "creatives[0].history[0].date",
                "creatives[0].history[1].date"
            ]
        );
        assert!(r.text.contains("outside the accepted dates"), "{}", r.text);
        // Each date within range, but spanning 26 years: refused for its span.
        let r = call(
            &e.app,
            "POST",
            "/v1/fatigue/score",
            Some(&key),
            Some(json!({"creatives": [creative(0, vec![day("2000-01-01"), day("2026-03-01")])]})),
        )
        .await;
        assert_problem(&r, 422);
        assert_eq!(r.json["errors"][0]["path"], "creatives", "{}", r.text);
        assert!(r.text.contains("max_history_span_days"), "{}", r.text);
        // Two creatives of one account, each short, far apart: the account would be filled.
        let r = call(
            &e.app,
            "POST",
            "/v1/fatigue/score",
            Some(&key),
            Some(json!({"creatives": [creative(0, vec![day("2001-01-01")]),
                                      creative(1, vec![day("2026-03-01")])]})),
        )
        .await;
        assert_problem(&r, 422);
        assert_eq!(r.json["errors"][0]["path"], "creatives");
        // An absurd as_of, with histories or with ad ids.
        for body in [
            json!({"as_of": "9999-12-31", "creatives": [creative(0, vec![day("2026-03-01")])]}),
            json!({"as_of": "9999-12-31", "ad_ids": ["x"]}),
        ] {
            let r = call(&e.app, "POST", "/v1/fatigue/score", Some(&key), Some(body)).await;
            assert_problem(&r, 422);
            assert_eq!(r.json["errors"][0]["path"], "as_of", "{}", r.text);
        }
        // 2,000 creatives in a body read as it arrives (the fast path), one of them the
        // attack: the same refusal.
        let mut many: Vec<Value> = (0..2000)
            .map(|i| creative(i, vec![day("2026-03-01"), day("2026-03-02")]))
            .collect();
        many[700] = creative(700, vec![day("0001-01-01"), day("9999-12-31")]);
        let body = json!({ "creatives": many });
        assert!(body.to_string().len() > 256 << 10);
        let r = send(&e.app, declared(body)).await;
        assert_problem(&r, 422);
        assert_eq!(
            r.json["errors"][0]["path"],
            "creatives[700].history[0].date"
        );
        // Far apart in the fast path too.
        many[700] = creative(700, vec![day("2001-01-01")]);
        let r = send(&e.app, declared(json!({ "creatives": many }))).await;
        assert_problem(&r, 422);
        assert_eq!(r.json["errors"][0]["path"], "creatives");
        // Every refusal above came before any filling: well under a second in all, where the
        // first alone once took 1.2 s in a release build. (A generous bound for a debug build
        // on a busy machine; the point is that nothing of size n_days was built.)
        assert!(t0.elapsed() < std::time::Duration::from_secs(30));
        // Within the limits the same body scores.
        many[700] = creative(700, vec![day("2026-03-01")]);
        let r = send(&e.app, declared(json!({ "creatives": many }))).await;
        assert_eq!(r.status, 200, "{}", r.text);
    });
}

/// A panic while checking a body answers 500 with an error id and leaves the server serving:
/// in the checks run on the compute pool for a body read as it arrives, and in the usual path.
#[test]
fn a_panic_on_the_request_path_is_a_500_not_an_abort() {
    let e = env();
    run(async move {
        let key = e.key(&e.a, Role::Read);
        let mut many: Vec<Value> = (0..1000)
            .map(|i| {
                json!({"platform": "meta", "account_id": "1", "ad_id": format!("ad{i}"),
                       "history": history(3, 1.0)})
            })
            .collect();
        many[10]["ad_id"] = json!("panic-in-check");
        let text = json!({ "creatives": many }).to_string();
        let req = Request::builder()
            .method("POST")
            .uri("/v1/fatigue/score")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, text.len())
            .body(Body::from(text))
            .unwrap();
        let r = send(&e.app, req).await;
        assert_problem(&r, 500);
        assert!(r.text.contains("error id"), "{}", r.text);
        // A small body (checked inline in the handler).
        let r = call(
            &e.app,
            "POST",
            "/v1/fatigue/score",
            Some(&key),
            Some(json!({"creatives": [{"platform": "meta", "account_id": "1",
                         "ad_id": "panic-in-check", "history": history(3, 1.0)}]})),
        )
        .await;
        assert_problem(&r, 500);
        assert!(r.text.contains("error id"), "{}", r.text);
        // Still serving.
        many[10]["ad_id"] = json!("ad10");
        let r = call(
            &e.app,
            "POST",
            "/v1/fatigue/score",
            Some(&key),
            Some(json!({ "creatives": many })),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    });
}

/// Job specifications have upper bounds (one request cannot occupy the worker for days), and
/// a tenant cannot queue more than `[limits] max_jobs_per_tenant` jobs.
#[test]
fn job_requests_are_bounded() {
    let e = env_with(|c| c.limits.max_jobs_per_tenant = 2);
    run(async move {
        let key = e.key(&e.a, Role::Write);
        let job = |config: Value| {
            let app = e.app.clone();
            let key = key.clone();
            async move {
                call(
                    &app,
                    "POST",
                    "/v1/jobs",
                    Some(&key),
                    Some(json!({"kind": "fatigue", "config": config})),
                )
                .await
            }
        };
        for (config, path) in [
            (
                json!({"models": {"forest": {"trees": 100_000_000}}}),
                "models.forest.trees",
            ),
            (
                json!({"models": {"mlp": {"hidden": [100_000, 100_000]}}}),
                "models.mlp.hidden",
            ),
            (
                json!({"models": {"mlp": {"max_epochs": 1_000_000}}}),
                "models.mlp.max_epochs",
            ),
            (
                json!({"models": {"logistic": {"max_iterations": 10_000_000}}}),
                "models.logistic.max_iterations",
            ),
        ] {
            let r = job(config).await;
            assert_problem(&r, 422);
            assert!(r.text.contains(path), "{path}: {}", r.text);
        }
        let r = call(
            &e.app,
            "POST",
            "/v1/jobs",
            Some(&key),
            Some(json!({"kind": "budget", "config": {"fit": {"draws": 1_000_000}}})),
        )
        .await;
        assert_problem(&r, 422);
        assert!(r.text.contains("fit.draws"), "{}", r.text);
        // Two queued (no worker runs in this test server), the third refused.
        assert_eq!(job(json!({})).await.status, 202);
        assert_eq!(job(json!({})).await.status, 202);
        let r = job(json!({})).await;
        assert_problem(&r, 429);
        assert!(r.text.contains("max_jobs_per_tenant"), "{}", r.text);
        assert!(r.headers.contains_key(header::RETRY_AFTER));
    });
}

/// Requests that fail to authenticate share one rate bucket: a flood of missing or guessed
/// keys is answered 429 with `Retry-After`, like a key past its rate; valid keys are not
/// affected.
#[test]
fn unauthenticated_requests_are_rate_limited() {
    let e = env_with(|c| c.api.rate_limit_per_second = 5);
    run(async move {
        let key = e.key(&e.a, Role::Read);
        let mut statuses = Vec::new();
        for i in 0..20 {
            let guess = format!("omk_guess{i}_secret");
            let k = if i % 2 == 0 {
                None
            } else {
                Some(guess.as_str())
            };
            let r = call(&e.app, "GET", "/v1/models", k, None).await;
            if r.status == 429 {
                assert!(r.headers.contains_key(header::RETRY_AFTER));
                assert!(r.text.contains("without a valid key"), "{}", r.text);
            }
            statuses.push(r.status.as_u16());
        }
        assert!(statuses[..5].iter().all(|s| *s == 401), "{statuses:?}");
        assert!(
            statuses.iter().filter(|s| **s == 429).count() >= 10,
            "{statuses:?}"
        );
        let r = call(&e.app, "GET", "/v1/models", Some(&key), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
    });
}

#[test]
fn a_champion_promoted_elsewhere_serves_without_waiting_for_the_poll() {
    let e = env();
    run(async move {
        let key = e.key(&e.b, Role::Read);
        // Tenant B has no budget model: the plan is a 404 and the "no champion" is cached.
        let r = call(
            &e.app,
            "POST",
            "/v1/budget/optimize",
            Some(&key),
            Some(json!({"budget": 2000})),
        )
        .await;
        assert_problem(&r, 404);
        // Another process (a job's child, the CLI) registers and promotes one; no refresh runs.
        let st = e.st.clone();
        let b = e.b.clone();
        let d = tokio::task::spawn_blocking(move || {
            budget_service::train_and_register(
                &st.registry,
                &b,
                &synth_sets(),
                &small_budget_job(),
                "mmm.csv",
                "sales",
            )
            .unwrap()
        })
        .await
        .unwrap();
        let r = call(
            &e.app,
            "POST",
            "/v1/budget/optimize",
            Some(&key),
            Some(json!({"budget": 2000})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            r.json["model_version"],
            json!(d.decision.version),
            "{}",
            r.text
        );
    });
}
