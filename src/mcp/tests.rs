//! The MCP tools through an rmcp client (in process, over a pipe) and through `/mcp` (the
//! router, with keys): schemas, every tool's answer against the route it mirrors or a value
//! worked out by hand, errors, roles and tenants.

use std::collections::BTreeSet;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Value, json};

use super::OmnifyMcp;
use crate::api::tests::{Env, active_ad, call, env, run, send};
use crate::registry::ModelKind;
use crate::state::Role;

type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

/// An rmcp client connected over a pipe to the tools of `tenant` with `role`.
async fn client(e: &Env, tenant: &str, role: Role) -> Client {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = OmnifyMcp::for_tenant(e.st.clone(), tenant, role);
    tokio::spawn(async move {
        if let Ok(s) = server.serve(server_io).await {
            let _ = s.waiting().await;
        }
    });
    ().serve(client_io).await.unwrap()
}

async fn tool(c: &Client, name: &str, args: Value) -> CallToolResult {
    let Value::Object(m) = args else {
        panic!("arguments must be an object")
    };
    c.call_tool(CallToolRequestParams::new(name.to_string()).with_arguments(m))
        .await
        .unwrap()
}

fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A successful result: its structured content, which has every top-level field its output
/// schema requires.
fn ok(r: &CallToolResult, schema: &Value) -> Value {
    assert_eq!(r.is_error, Some(false), "{}", text(r));
    let v = r.structured_content.clone().expect("structured content");
    for f in schema["required"].as_array().into_iter().flatten() {
        let f = f.as_str().unwrap();
        assert!(v.get(f).is_some(), "missing `{f}` in {v}");
    }
    assert!(!text(r).is_empty());
    v
}

fn err(r: &CallToolResult) -> String {
    assert_eq!(r.is_error, Some(true), "{r:?}");
    assert!(r.structured_content.is_none());
    text(r)
}

/// Every `$ref` of `v` points into `defs`.
fn refs_resolve(v: &Value, defs: &Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    let r = x.as_str().unwrap();
                    let name = r.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("{r}"));
                    assert!(defs.get(name).is_some(), "unresolved {r}");
                } else {
                    refs_resolve(x, defs);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs_resolve(x, defs)),
        _ => {}
    }
}

#[test]
fn every_tool_is_listed_with_its_schemas_and_answers_as_its_route() {
    let e = env();
    run(async move {
        let (a, key) = (e.a.clone(), e.key(&e.a, Role::Read));
        let c = client(&e, &a, Role::Write).await;
        let tools = c.list_all_tools().await.unwrap();
        let names: BTreeSet<_> = tools.iter().map(|t| t.name.to_string()).collect();
        let want: BTreeSet<_> = [
            "list_at_risk_creatives",
            "score_creatives",
            "recommend_budget_shifts",
            "forecast_plan",
            "model_health",
            "summarize_report",
            "start_retraining",
            "job_status",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(names, want);
        let mut out = std::collections::HashMap::new();
        for t in &tools {
            assert!(
                t.description.as_ref().is_some_and(|d| d.len() > 80),
                "{t:?}"
            );
            let input = Value::Object((*t.input_schema).clone());
            let output = Value::Object((**t.output_schema.as_ref().unwrap()).clone());
            for s in [&input, &output] {
                assert_eq!(s["type"], "object", "{}: {s}", t.name);
                refs_resolve(s, &s["$defs"]);
                assert!(!s.to_string().contains("#/components/"), "{s}");
            }
            out.insert(t.name.to_string(), output);
        }
        // The write tool says it writes.
        let retrain = tools.iter().find(|t| t.name == "start_retraining").unwrap();
        assert_eq!(
            retrain.annotations.as_ref().unwrap().read_only_hint,
            Some(false)
        );

        // model_health: the champions and the data, as the registry and warehouse hold them.
        let h = ok(
            &tool(&c, "model_health", json!({})).await,
            &out["model_health"],
        );
        let champion = e.st.registry.champion(&a, ModelKind::Fatigue).unwrap();
        assert_eq!(h["fatigue"]["version"], json!(champion));
        assert_eq!(h["fatigue"]["on_prior"], false);
        assert_eq!(
            h["budget"]["version"],
            json!(e.st.registry.champion(&a, ModelKind::Budget).unwrap())
        );
        let sum = e.st.warehouse.summary(Some(&a)).unwrap();
        assert_eq!(h["data"]["rows"], sum.rows);
        assert_eq!(h["data"]["last_date"], json!(sum.last_date));
        // The fixture's data ended long ago: a stale-data warning.
        assert!(
            h["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w.as_str().unwrap().contains("latest data day")),
            "{h}"
        );

        // score_creatives: the route's answer for the same body.
        let (ad, _) = active_ad(&a);
        let body = json!({"ad_ids": [ad, "no-such-ad"]});
        let s = ok(
            &tool(&c, "score_creatives", body.clone()).await,
            &out["score_creatives"],
        );
        let r = call(&e.app, "POST", "/v1/fatigue/score", Some(&key), Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(s, r.json);
        assert_eq!(s["unknown_ad_ids"], json!(["no-such-ad"]));

        // list_at_risk_creatives: the most urgent first, each scored as score_creatives
        // scores it, and the counts those scores give.
        let l = ok(
            &tool(&c, "list_at_risk_creatives", json!({"limit": 100})).await,
            &out["list_at_risk_creatives"],
        );
        let listed = l["creatives"].as_array().unwrap();
        let rank = |v: &Value| match (v["status"].as_str(), v["action"].as_str()) {
            (Some("fatigued"), _) => 0,
            (_, Some("refresh_now")) => 1,
            (_, Some("prepare_refresh")) => 2,
            _ => 9,
        };
        assert!(listed.iter().all(|v| rank(v) < 9), "{l}");
        assert!(listed.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])), "{l}");
        assert_eq!(
            listed.len() as u64,
            (l["creatives_at_risk"].as_u64().unwrap() + l["creatives_fatigued"].as_u64().unwrap())
                .min(100)
        );
        if let Some(first) = listed.first() {
            let one = ok(
                &tool(
                    &c,
                    "score_creatives",
                    json!({"ad_ids": [first["ad_id"]], "as_of": l["as_of"]}),
                )
                .await,
                &out["score_creatives"],
            );
            let row = one["scores"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| {
                    r["platform"] == first["platform"] && r["account_id"] == first["account_id"]
                })
                .unwrap();
            assert_eq!(row["p_onset_14d"], first["p_onset_14d"]);
            assert_eq!(row["action"], first["action"]);
        }
        let few = ok(
            &tool(
                &c,
                "list_at_risk_creatives",
                json!({"limit": 2, "include_fatigued": false}),
            )
            .await,
            &out["list_at_risk_creatives"],
        );
        assert!(few["creatives"].as_array().unwrap().len() <= 2);
        assert!(
            few["creatives"]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v["status"] != "fatigued")
        );

        // recommend_budget_shifts: two identical curves 10·s/(50+s) split 200 evenly (by
        // symmetry and concavity), 100 each, 10·100/150 = 6.6667 each.
        let mm = json!({"type": "michaelis_menten", "beta": 10.0, "half_saturation": 50.0});
        let p = ok(
            &tool(
                &c,
                "recommend_budget_shifts",
                json!({"budget": 200.0, "entities": [
                    {"id": "a", "curve": mm, "current_spend": 150.0},
                    {"id": "b", "curve": mm, "current_spend": 50.0}]}),
            )
            .await,
            &out["recommend_budget_shifts"],
        );
        for ent in p["entities"].as_array().unwrap() {
            assert!(
                (ent["recommended"].as_f64().unwrap() - 100.0).abs() < 1e-4,
                "{ent}"
            );
        }
        assert!((p["expected_outcome"].as_f64().unwrap() - 40.0 / 3.0).abs() < 1e-4);
        // With the champion's curves: the route's plan.
        let r = tool(&c, "recommend_budget_shifts", json!({"budget": 1500.0})).await;
        assert!(
            text(&r).starts_with("Dry run (nothing was changed)."),
            "{}",
            text(&r)
        );
        let plan = ok(&r, &out["recommend_budget_shifts"]);
        let api = call(
            &e.app,
            "POST",
            "/v1/budget/optimize",
            Some(&key),
            Some(json!({"budget": 1500.0})),
        )
        .await;
        assert_eq!(plan, api.json);

        // forecast_plan of that plan: the route's forecast.
        let fbody = json!({"entities": plan["entities"], "periods": 3});
        let fc = ok(
            &tool(&c, "forecast_plan", fbody.clone()).await,
            &out["forecast_plan"],
        );
        let api = call(
            &e.app,
            "POST",
            "/v1/budget/forecast",
            Some(&key),
            Some(fbody),
        )
        .await;
        assert_eq!(fc, api.json);

        // summarize_report: the report's counts.
        let r = tool(&c, "summarize_report", json!({})).await;
        let sm = ok(&r, &out["summarize_report"]);
        assert!(
            text(&r).starts_with(&format!("Report for {a} as of ")),
            "{}",
            text(&r)
        );
        assert!(sm["creatives_scored"].as_u64().unwrap() > 0);
        assert!(sm["budget"]["total_budget"].as_f64().unwrap() > 0.0, "{sm}");
        assert!(sm["top_at_risk"].as_array().unwrap().len() <= 5);

        // start_retraining and job_status: the job as the jobs route shows it.
        let j = ok(
            &tool(
                &c,
                "start_retraining",
                json!({"kind": "budget", "config": {"fit": {"draws": 4}}}),
            )
            .await,
            &out["start_retraining"],
        );
        assert_eq!(j["status"], "queued");
        assert_eq!(j["source"], "mcp");
        let id = j["id"].as_str().unwrap().to_string();
        let st = ok(
            &tool(&c, "job_status", json!({"id": id})).await,
            &out["job_status"],
        );
        let api = call(&e.app, "GET", &format!("/v1/jobs/{id}"), Some(&key), None).await;
        assert_eq!(st, api.json);

        // Errors are tool errors with the API's messages.
        let m = err(&tool(&c, "score_creatives", json!({})).await);
        assert!(m.contains("give ad_ids or creatives"), "{m}");
        let m = err(&tool(&c, "recommend_budget_shifts", json!({"budget": -1})).await);
        assert!(m.contains("budget: must be a finite number > 0"), "{m}");
        let m = err(&tool(&c, "list_at_risk_creatives", json!({"limti": 3})).await);
        assert!(m.contains("unknown field `limti`"), "{m}");
        let m = err(&tool(&c, "list_at_risk_creatives", json!({"limit": 0})).await);
        assert!(m.contains("limit: must be 1 to 100"), "{m}");
        let m = err(&tool(&c, "job_status", json!({"id": "nope"})).await);
        assert!(m.contains("no job `nope`"), "{m}");
        let m = err(&tool(&c, "start_retraining", json!({"kind": "churn"})).await);
        assert!(m.contains("kind"), "{m}");
        let m = err(&tool(
            &c,
            "score_creatives",
            json!({"as_of": "9999-12-31", "ad_ids": ["x"]}),
        )
        .await);
        assert!(m.contains("as_of"), "{m}");
        let m = err(&tool(&c, "no_such_tool", json!({})).await);
        assert!(m.contains("no tool `no_such_tool`"), "{m}");

        // While models load, model tools answer 503; job tools still work.
        e.st.set_ready(false);
        let m = err(&tool(&c, "model_health", json!({})).await);
        assert!(
            m.starts_with("Service unavailable (503)") || m.contains("(503)"),
            "{m}"
        );
        ok(
            &tool(&c, "job_status", json!({"id": id})).await,
            &out["job_status"],
        );
        e.st.set_ready(true);

        // A read caller cannot start retraining.
        let reader = client(&e, &a, Role::Read).await;
        let m = err(&tool(&reader, "start_retraining", json!({"kind": "budget"})).await);
        assert!(m.contains("needs a write key"), "{m}");
        // Another tenant does not see this one's job.
        let other = client(&e, &e.b, Role::Read).await;
        let m = err(&tool(&other, "job_status", json!({"id": id})).await);
        assert!(m.contains("no job"), "{m}");
        c.cancel().await.unwrap();
    });
}

/// A JSON-RPC POST to `/mcp`.
async fn rpc(e: &Env, key: Option<&str>, body: Value) -> crate::api::tests::Resp {
    use axum::http::{Request, header};
    let mut b = Request::builder()
        .method("POST")
        .uri("/mcp")
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream");
    if let Some(k) = key {
        b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    send(
        &e.app,
        b.body(axum::body::Body::from(body.to_string())).unwrap(),
    )
    .await
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}})
}

fn call_body(name: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
           "params": {"name": name, "arguments": args}})
}

#[test]
fn the_http_endpoint_takes_the_apis_keys_roles_and_tenants() {
    let e = env();
    run(async move {
        // No key: the API's 401, before any MCP message is read.
        let r = rpc(&e, None, initialize()).await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.headers["content-type"], "application/problem+json");
        let r = rpc(&e, Some("omk_000000000000_guess"), initialize()).await;
        assert_eq!(r.status, 401, "{}", r.text);

        let read = e.key(&e.a, Role::Read);
        let r = rpc(&e, Some(&read), initialize()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            r.json["result"]["serverInfo"]["name"], "omnify",
            "{}",
            r.text
        );
        assert!(r.json["result"]["capabilities"]["tools"].is_object());

        // The key's tenant is the tools' tenant.
        let r = rpc(&e, Some(&read), call_body("model_health", json!({}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["result"]["isError"], false, "{}", r.text);
        assert_eq!(
            r.json["result"]["structuredContent"]["tenant"],
            e.a.as_str()
        );
        let rb = e.key(&e.b, Role::Read);
        let r = rpc(&e, Some(&rb), call_body("model_health", json!({}))).await;
        assert_eq!(
            r.json["result"]["structuredContent"]["tenant"],
            e.b.as_str()
        );

        // A read key cannot call a write tool; a write key can.
        let r = rpc(
            &e,
            Some(&read),
            call_body("start_retraining", json!({"kind": "budget"})),
        )
        .await;
        assert_eq!(r.json["result"]["isError"], true, "{}", r.text);
        assert!(r.text.contains("needs a write key"), "{}", r.text);
        let write = e.key(&e.a, Role::Write);
        let r = rpc(
            &e,
            Some(&write),
            call_body(
                "start_retraining",
                json!({"kind": "budget", "config": {"fit": {"draws": 4}}}),
            ),
        )
        .await;
        assert_eq!(r.json["result"]["isError"], false, "{}", r.text);
        let id = r.json["result"]["structuredContent"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        // Tenant B's key cannot read it.
        let r = rpc(&e, Some(&rb), call_body("job_status", json!({"id": id}))).await;
        assert_eq!(r.json["result"]["isError"], true, "{}", r.text);

        // tools/list over HTTP is the in-process list.
        let r = rpc(
            &e,
            Some(&read),
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
        )
        .await;
        assert_eq!(
            r.json["result"]["tools"].as_array().unwrap().len(),
            8,
            "{}",
            r.text
        );

        // A Host outside [api] mcp_allowed_hosts is refused.
        use axum::http::{Request, header};
        let req = Request::builder()
            .method("POST")
            .uri("/mcp")
            .header(header::HOST, "attacker.example")
            .header(header::AUTHORIZATION, format!("Bearer {read}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .body(axum::body::Body::from(initialize().to_string()))
            .unwrap();
        let r = send(&e.app, req).await;
        assert!(r.status.is_client_error(), "{} {}", r.status, r.text);
    });
}
