//! Alerts against a local receiver (axum, in the test): payloads, signatures, deduplication
//! across runs, retries after a 500, pausing, a slow receiver that never holds up scoring, and
//! the admin routes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::deliver::Sender;
use super::*;
use crate::api::tests::{Env, call, env_with, run};
use crate::state::Role;

/// The signature is HMAC-SHA256 over `<t>.<body>`, hex. Reference computed with Python's
/// standard library:
/// `hmac.new(b'whsec_test', b'1700000000.{"a":1}', hashlib.sha256).hexdigest()`.
#[test]
fn signatures_are_hmac_sha256_of_timestamp_and_body() {
    assert_eq!(
        signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
        "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
    );
    let sig = "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789";
    let body = br#"{"a":1}"#;
    assert!(verify("whsec_test", sig, body, 1_700_000_100, 300));
    assert!(
        !verify("whsec_test", sig, body, 1_700_000_400, 300),
        "too old"
    );
    assert!(!verify("whsec_other", sig, body, 1_700_000_000, 300));
    assert!(!verify(
        "whsec_test",
        sig,
        br#"{"a":2}"#,
        1_700_000_000,
        300
    ));
    assert!(!verify("whsec_test", "v1=abc", body, 1_700_000_000, 300));
}

fn row(ad: &str, status: &str, action: &str) -> ScoreRow {
    ScoreRow {
        tenant: "t".into(),
        platform: "meta".into(),
        account_id: "1".into(),
        ad_id: ad.into(),
        as_of: NaiveDate::from_ymd_opt(2026, 5, 1).unwrap(),
        status: status.into(),
        p_onset_7d: Some(0.3),
        p_onset_14d: Some(0.6),
        p_onset_7_14d: None,
        expected_days_to_onset: None,
        drivers: "ctr down".into(),
        action: action.into(),
        model_version: "v1".into(),
        survival: None,
    }
}

/// One event per change into an alerting state; nothing while a state holds or for `keep`.
#[test]
fn creatives_alert_once_per_change_into_an_alerting_state() {
    let mut last = HashMap::new();
    let run1 = [
        row("a", "active", "keep"),
        row("b", "active", "prepare_refresh"),
        row("c", "fatigued", "refresh_now"),
    ];
    let (ev, changed) = creative_events(&last, &run1);
    let tos: Vec<_> = ev
        .iter()
        .map(|e| match e {
            Event::CreativeState {
                ad_id, from, to, ..
            } => (ad_id.clone(), from.clone(), to.clone()),
            _ => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(
        tos,
        vec![
            ("b".into(), None, "prepare_refresh".into()),
            ("c".into(), None, "fatigued".into())
        ]
    );
    assert_eq!(changed.len(), 3);
    last.extend(changed);
    // Same states: nothing. b moves on to refresh_now, a to prepare_refresh: two events.
    assert!(creative_events(&last, &run1).0.is_empty());
    let run2 = [
        row("a", "active", "prepare_refresh"),
        row("b", "active", "refresh_now"),
        row("c", "fatigued", "refresh_now"),
    ];
    let (ev, changed) = creative_events(&last, &run2);
    assert_eq!(ev.len(), 2);
    assert!(
        matches!(&ev[1], Event::CreativeState { from: Some(f), to, .. }
        if f == "prepare_refresh" && to == "refresh_now")
    );
    assert_eq!(changed.len(), 2);
}

/// What the receiver saw, and how it answers.
#[derive(Default)]
struct Receiver {
    got: Vec<(HeaderMap, Bytes)>,
    /// Statuses to answer, in order; 200 once they run out.
    answers: Vec<u16>,
    /// Hold every answer this long.
    delay: Duration,
    in_flight: usize,
}

async fn receiver() -> (String, Arc<Mutex<Receiver>>) {
    let shared = Arc::new(Mutex::new(Receiver::default()));
    let s = shared.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let s = s.clone();
            async move {
                let (delay, status) = {
                    let mut r = s.lock().unwrap();
                    r.got.push((headers, body));
                    r.in_flight += 1;
                    let status = if r.answers.is_empty() {
                        200
                    } else {
                        r.answers.remove(0)
                    };
                    (r.delay, status)
                };
                tokio::time::sleep(delay).await;
                s.lock().unwrap().in_flight -= 1;
                StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, shared)
}

/// Checks a delivery's signature header against `secret` and returns its JSON.
fn verified(secret: &str, headers: &HeaderMap, body: &Bytes) -> Value {
    let sig = headers["omnify-signature"].to_str().unwrap();
    assert!(
        verify(secret, sig, body, chrono::Utc::now().timestamp(), 600),
        "{sig}"
    );
    serde_json::from_slice(body).unwrap()
}

fn sender() -> Sender {
    Sender::new(Duration::from_secs(5), Duration::from_millis(5), true)
}

/// The test environment, with receivers on the loopback allowed.
fn env() -> Env {
    env_with(|c| c.api.alert_private_targets = true)
}

async fn add(e: &Env, url: &str, rules: Value) -> (String, String) {
    let admin = e.key(&e.a, Role::Admin);
    let r = call(
        &e.app,
        "POST",
        "/v1/alerts",
        Some(&admin),
        Some(json!({"url": url, "rules": rules})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    (
        r.json["destination"]["id"].as_str().unwrap().to_string(),
        r.json["secret"].as_str().unwrap().to_string(),
    )
}

async fn evaluate_now(e: &Env, job: Option<Job>) -> RunReport {
    let (st, a) = (e.st.clone(), e.a.clone());
    tokio::task::spawn_blocking(move || evaluate(&st, &a, job.as_ref()).unwrap())
        .await
        .unwrap()
}

/// Runs due deliveries until none is queued (retries wait a few ms).
async fn drain(e: &Env, s: &Sender) {
    for _ in 0..200 {
        s.run_due(&e.st.state).await;
        let queued =
            e.st.state
                .deliveries(None, 1000)
                .unwrap()
                .iter()
                .any(|d| d.status == "queued");
        if !queued {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("deliveries still queued");
}

#[test]
fn deliveries_are_signed_deduplicated_and_retried() {
    let e = env();
    run(async move {
        let (url, rx) = receiver().await;
        let (id, secret) = add(&e, &url, json!({"budget_gain_pct": 0.0})).await;
        // The first run: every creative already in an alerting state, and the budget gain.
        rx.lock().unwrap().answers = vec![500];
        let r1 = evaluate_now(&e, None).await;
        assert!(r1.creatives_scored > 0);
        assert_eq!(r1.deliveries.len(), 1, "{r1:?}");
        let s = sender();
        drain(&e, &s).await;
        let got = std::mem::take(&mut rx.lock().unwrap().got);
        // Retried after the 500: two identical, signed POSTs.
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, got[1].1);
        let p = verified(&secret, &got[1].0, &got[1].1);
        assert_eq!(got[1].0["omnify-delivery"], r1.deliveries[0].as_str());
        assert_eq!(p["id"], r1.deliveries[0].as_str());
        assert_eq!(p["type"], "omnify.alerts");
        assert_eq!(p["tenant"], e.a.as_str());
        assert_eq!(p["destination"], id.as_str());
        let events = p["events"].as_array().unwrap();
        assert_eq!(events.len() as u64, r1.events as u64);
        assert!(events.iter().any(|e| e["type"] == "budget_gain"), "{p}");
        for ev in events.iter().filter(|e| e["type"] == "creative_state") {
            assert!(
                CREATIVE_STATES.contains(&ev["to"].as_str().unwrap()),
                "{ev}"
            );
            assert_eq!(ev["from"], Value::Null);
        }
        assert!(p["text"].as_str().unwrap().starts_with("OmniFy, tenant "));
        let d = &e.st.state.deliveries(Some(&e.a), 10).unwrap()[0];
        assert_eq!(
            (d.status.as_str(), d.attempts, d.last_status),
            ("delivered", 2, Some(200))
        );

        // The same data again: no state changed and the budget model was told about: nothing.
        let r2 = evaluate_now(&e, None).await;
        assert_eq!((r2.events, r2.deliveries.len()), (0, 0), "{r2:?}");

        // A failed job is told about.
        let mut job = e.st.state.enqueue(&e.a, "budget", None, "api").unwrap();
        e.st.state.claim().unwrap();
        e.st.state.fail(&job.id, "out of memory").unwrap();
        job = e.st.state.job(&job.id, None).unwrap().unwrap();
        let r3 = evaluate_now(&e, Some(job.clone())).await;
        assert_eq!(r3.events, 1);
        drain(&e, &s).await;
        let got = std::mem::take(&mut rx.lock().unwrap().got);
        let p = verified(&secret, &got[0].0, &got[0].1);
        assert_eq!(p["events"][0]["type"], "job_failed");
        assert_eq!(p["events"][0]["job_id"], job.id.as_str());
        assert_eq!(p["events"][0]["error"], "out of memory");

        // A receiver that keeps failing: each delivery fails after its attempts, and the
        // destination is paused after three in a row, and says why.
        rx.lock().unwrap().answers = vec![503; 100];
        for _ in 0..PAUSE_AFTER_FAILURES {
            assert_eq!(
                evaluate_now(&e, Some(job.clone())).await.deliveries.len(),
                1
            );
            drain(&e, &s).await;
        }
        let failed: Vec<_> =
            e.st.state
                .deliveries(Some(&e.a), 3)
                .unwrap()
                .into_iter()
                .map(|d| (d.status, d.attempts, d.last_status))
                .collect();
        assert_eq!(
            failed,
            vec![("failed".to_string(), MAX_ATTEMPTS, Some(503)); 3]
        );
        let dest = e.st.state.alert_destination(&id, None).unwrap().unwrap();
        assert!(
            dest.paused
                .as_deref()
                .unwrap()
                .contains("failed deliveries in a row"),
            "{dest:?}"
        );
        // Paused: nothing queued. Resumed through the API: told again.
        assert_eq!(
            evaluate_now(&e, Some(job.clone())).await.deliveries.len(),
            0
        );
        let admin = e.key(&e.a, Role::Admin);
        let r = call(
            &e.app,
            "POST",
            &format!("/v1/alerts/{id}/resume"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["paused"], Value::Null);
        assert_eq!(evaluate_now(&e, Some(job)).await.deliveries.len(), 1);
    });
}

#[test]
fn a_slow_receiver_never_holds_up_scoring() {
    let e = env();
    run(async move {
        let (url, rx) = receiver().await;
        add(&e, &url, json!({})).await;
        rx.lock().unwrap().delay = Duration::from_secs(3600);
        assert_eq!(evaluate_now(&e, None).await.deliveries.len(), 1);
        let sending = tokio::spawn(sender().run(e.st.state.clone(), Duration::from_millis(10)));
        // The receiver holds the delivery...
        for _ in 0..500 {
            if rx.lock().unwrap().in_flight == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(rx.lock().unwrap().in_flight, 1);
        // ...while scoring answers, and another run evaluates and records its deliveries.
        let read = e.key(&e.a, Role::Read);
        let (ad, _) = crate::api::tests::active_ad(&e.a);
        let r = call(
            &e.app,
            "POST",
            "/v1/fatigue/score",
            Some(&read),
            Some(json!({"ad_ids": [ad]})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        evaluate_now(&e, None).await;
        let d = &e.st.state.deliveries(Some(&e.a), 10).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].status.as_str(), d[0].attempts), ("queued", 0));
        assert_eq!(rx.lock().unwrap().in_flight, 1);
        sending.abort();
    });
}

/// Public addresses, and the ranges that are not (RFC 1918, 6598, 3927, 4193, loopback...).
#[test]
fn only_public_addresses_are_targets_by_default() {
    for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "100.128.0.1"] {
        assert!(is_public(ip.parse().unwrap()), "{ip}");
    }
    for ip in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "::1",
        "fc00::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "::",
    ] {
        assert!(!is_public(ip.parse().unwrap()), "{ip}");
    }
    assert!(check_target("http://169.254.169.254/latest", false).is_err());
    assert!(check_target("http://[::1]:8080/x", false).is_err());
    assert!(check_target("http://127.0.0.1:9/x", true).is_ok());
    assert!(check_target("https://hooks.example.com/x", false).is_ok());
}

/// A host name that resolves to the loopback is refused at delivery, for good, without
/// calling it; allowed, it is called.
#[test]
fn names_resolving_to_private_addresses_are_refused_at_delivery() {
    let e = env_with(|_| {});
    run(async move {
        let (url, rx) = receiver().await;
        let by_name = url.replace("127.0.0.1", "localhost");
        let admin = e.key(&e.a, Role::Admin);
        let r = call(
            &e.app,
            "POST",
            "/v1/alerts",
            Some(&admin),
            Some(json!({"url": url})),
        )
        .await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.text.contains("alert_private_targets"), "{}", r.text);
        let (id, _) = add(&e, &by_name, json!({})).await;
        assert_eq!(evaluate_now(&e, None).await.deliveries.len(), 1);
        Sender::new(Duration::from_secs(5), Duration::from_millis(5), false)
            .run_due(&e.st.state)
            .await;
        let d = &e.st.state.deliveries(Some(&e.a), 1).unwrap()[0];
        assert_eq!((d.status.as_str(), d.attempts), ("failed", 1));
        assert!(
            d.last_error
                .as_deref()
                .unwrap()
                .contains("not a public address"),
            "{d:?}"
        );
        assert!(rx.lock().unwrap().got.is_empty());
        assert_eq!(
            e.st.state
                .alert_destination(&id, None)
                .unwrap()
                .unwrap()
                .failures,
            1
        );
    });
}

#[test]
fn destinations_are_admin_only_checked_and_never_show_their_secret() {
    let e = env();
    run(async move {
        let admin = e.key(&e.a, Role::Admin);
        let write = e.key(&e.a, Role::Write);
        let body = json!({"url": "https://hooks.example.com/x", "format": "slack"});
        let r = call(
            &e.app,
            "POST",
            "/v1/alerts",
            Some(&write),
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status, 403, "{}", r.text);
        for (bad, path) in [
            (json!({"url": "ftp://x"}), "url"),
            (json!({"url": "not a url"}), "url"),
            (
                json!({"url": "https://x.example", "rules": {"creative_states": ["bored"]}}),
                "rules.creative_states[0]",
            ),
            (
                json!({"url": "https://x.example", "rules": {"budget_gain_pct": -1}}),
                "rules.budget_gain_pct",
            ),
            (json!({"url": "https://x.example", "colour": 1}), "colour"),
            (
                json!({"url": format!("https://x.example/{}", "a".repeat(2100))}),
                "2,048",
            ),
        ] {
            let r = call(
                &e.app,
                "POST",
                "/v1/alerts",
                Some(&admin),
                Some(bad.clone()),
            )
            .await;
            assert_eq!(r.status, 422, "{bad}: {}", r.text);
            assert!(r.text.contains(path), "{bad}: {}", r.text);
        }
        let r = call(&e.app, "POST", "/v1/alerts", Some(&admin), Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let secret = r.json["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_") && secret.len() > 40);
        let id = r.json["destination"]["id"].as_str().unwrap().to_string();
        assert_eq!(r.json["destination"]["format"], "slack");
        assert_eq!(r.json["destination"]["name"], "hooks.example.com");
        let r = call(&e.app, "GET", "/v1/alerts", Some(&admin), None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json.as_array().unwrap().len(), 1);
        assert!(!r.text.contains(&secret));
        assert!(r.json[0].get("secret").is_none());
        // Another tenant's admin sees none and cannot remove it.
        let other = e.key(&e.b, Role::Admin);
        let r = call(&e.app, "GET", "/v1/alerts", Some(&other), None).await;
        assert_eq!(r.json, json!([]));
        let r = call(
            &e.app,
            "DELETE",
            &format!("/v1/alerts/{id}"),
            Some(&other),
            None,
        )
        .await;
        assert_eq!(r.status, 404);
        let r = call(&e.app, "GET", "/v1/alerts/deliveries", Some(&admin), None).await;
        assert_eq!((r.status.as_u16(), r.json.clone()), (200, json!([])));
        let r = call(
            &e.app,
            "DELETE",
            &format!("/v1/alerts/{id}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(r.status, 204);
        let r = call(&e.app, "GET", "/v1/alerts", Some(&admin), None).await;
        assert_eq!(r.json, json!([]));
    });
}
