//! End to end over a real socket: start `omnify serve --no-bootstrap` on port 0, create a key
//! with the CLI, ingest one tenant's bundled sample reports over HTTP, train both kinds through
//! jobs, score, promote a version through the API and another through the CLI in a separate
//! process, see each served without a restart, then stop with SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::common::bin;

/// A minimal HTTP/1.1 client (one request per connection).
fn http(
    base: &str,
    method: &str,
    path: &str,
    key: &str,
    body: Option<(&str, &[u8])>,
) -> (u16, Value) {
    let hostport = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(hostport).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let (ct, bytes) = body.unwrap_or(("application/json", b""));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(bytes).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("response head");
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((len, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

fn post_json(base: &str, path: &str, key: &str, v: Value) -> (u16, Value) {
    let b = v.to_string();
    http(
        base,
        "POST",
        path,
        key,
        Some(("application/json", b.as_bytes())),
    )
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn omnify_cmd(dir: &Path) -> Command {
    // The test's webhook receiver listens on the loopback.
    let cfg = dir.join("omnify.toml");
    std::fs::write(&cfg, "[api]\nalert_private_targets = true\n").unwrap();
    let mut c = Command::new(bin());
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "--config",
            &cfg.display().to_string(),
            "--warehouse",
            &dir.join("wh").display().to_string(),
            "--models-dir",
            &dir.join("models").display().to_string(),
            "--data-dir",
            &dir.display().to_string(),
        ])
        .env_remove("OMNIFY_CONFIG")
        .env("OMNIFY_STATE", dir.join("state.sqlite"))
        .env("RUST_LOG", "warn");
    c
}

fn start(dir: &Path) -> Server {
    let mut child = omnify_cmd(dir)
        .args(["serve", "--no-bootstrap", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    // Ready once the first model load is done.
    let ready = lines.next().unwrap().unwrap();
    assert!(ready.starts_with("OmniFy is ready"), "{ready}");
    std::thread::spawn(move || for _ in lines {});
    Server { child, base }
}

fn wait_job(base: &str, key: &str, id: &str) -> Value {
    let t0 = Instant::now();
    loop {
        let (s, j) = http(base, "GET", &format!("/v1/jobs/{id}"), key, None);
        assert_eq!(s, 200, "{j}");
        match j["status"].as_str().unwrap() {
            "succeeded" => return j,
            "failed" | "cancelled" => panic!("job ended: {j}"),
            _ => {}
        }
        assert!(t0.elapsed() < Duration::from_secs(600), "job too slow: {j}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn body_creative() -> Value {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
    let history: Vec<Value> = (0..28)
        .map(|d| {
            json!({"date": (start + chrono::Duration::days(d)).to_string(),
                   "impressions": 5000 - 60 * d, "clicks": 80 - 2 * d, "spend": 40.0})
        })
        .collect();
    json!({"creatives": [{"platform": "meta", "account_id": "1", "ad_id": "e2e", "history": history}]})
}

#[test]
fn serve_ingest_train_score_promote_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let srv = start(d);
    let base = srv.base.clone();
    let out = omnify_cmd(d)
        .args(["keys", "create", "--tenant", "northwind", "--role", "admin"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("omk_"), "{key}");

    // An alert destination on a local receiver: ingests and jobs are scoring runs.
    let hook = Hook::start();
    let (s, a) = post_json(
        &base,
        "/v1/alerts",
        &key,
        json!({"url": hook.url, "rules": {"budget_gain_pct": 0.0}}),
    );
    assert_eq!(s, 201, "{a}");
    let secret = a["secret"].as_str().unwrap().to_string();

    // No model of its own yet: the cold-start prior scores, and its version says so.
    let (s, p) = post_json(&base, "/v1/fatigue/score", &key, body_creative());
    assert_eq!(s, 200, "{p}");
    assert!(
        p["model_version"].as_str().unwrap().starts_with("prior-"),
        "{p}"
    );

    // Ingest northwind's native reports as the platforms deliver them.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("manifest.json")).unwrap())
            .unwrap();
    let mut rows = 0;
    for f in manifest["files"].as_array().unwrap() {
        if f["tenant"] != "northwind" {
            continue;
        }
        let bytes = std::fs::read(root.join(f["path"].as_str().unwrap())).unwrap();
        let path = format!(
            "/v1/ingest/{}?account_id={}&currency={}",
            f["platform"].as_str().unwrap(),
            f["account_id"].as_str().unwrap(),
            f["currency"].as_str().unwrap()
        );
        let (s, r) = http(
            &base,
            "POST",
            &path,
            &key,
            Some(("application/octet-stream", &bytes)),
        );
        assert_eq!(s, 200, "{path}: {r}");
        rows += r["inserted"].as_u64().unwrap();
    }
    assert!(rows > 5_000, "{rows} rows");

    // Train both kinds through jobs.
    let small = json!({"models": {"forest": {"trees": 4}, "mlp": {"max_epochs": 10}}});
    let (s, j) = post_json(
        &base,
        "/v1/jobs",
        &key,
        json!({"kind": "fatigue", "config": small}),
    );
    assert_eq!(s, 202, "{j}");
    let j1 = wait_job(&base, &key, j["id"].as_str().unwrap());
    let v1 = j1["version"].as_str().unwrap().to_string();
    assert_eq!(j1["promoted"], true);
    let (s, j) = post_json(
        &base,
        "/v1/jobs",
        &key,
        json!({"kind": "budget", "config": {"fit": {"draws": 5}}}),
    );
    assert_eq!(s, 202, "{j}");
    wait_job(&base, &key, j["id"].as_str().unwrap());

    let (s, r) = post_json(&base, "/v1/fatigue/score", &key, body_creative());
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["model_version"], v1);
    let (s, r) = post_json(&base, "/v1/budget/optimize", &key, json!({"budget": 2000}));
    assert_eq!(s, 200, "{r}");

    // A second fatigue version (another seed), then promote whichever is not the champion.
    let other = json!({"models": {"seed": 99, "forest": {"trees": 4}, "mlp": {"max_epochs": 10}}});
    let (_, j) = post_json(
        &base,
        "/v1/jobs",
        &key,
        json!({"kind": "fatigue", "config": other}),
    );
    let j2 = wait_job(&base, &key, j["id"].as_str().unwrap());
    let v2 = j2["version"].as_str().unwrap().to_string();
    let (_, m) = http(&base, "GET", "/v1/models", &key, None);
    let champion = m["fatigue"]["champion"].as_str().unwrap().to_string();
    let target = if champion == v2 {
        v1.clone()
    } else {
        v2.clone()
    };
    let (s, r) = http(
        &base,
        "POST",
        &format!("/v1/models/fatigue/{target}/promote"),
        &key,
        None,
    );
    assert_eq!(s, 200, "{r}");
    let (_, r) = post_json(&base, "/v1/fatigue/score", &key, body_creative());
    assert_eq!(r["model_version"], target);

    // A promotion by the CLI in another process reaches the server through the poll.
    let back = if target == v1 { v2.clone() } else { v1.clone() };
    let out = omnify_cmd(d)
        .args([
            "models",
            "promote",
            "fatigue",
            &back,
            "--tenant",
            "northwind",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t0 = Instant::now();
    loop {
        let (_, r) = post_json(&base, "/v1/fatigue/score", &key, body_creative());
        if r["model_version"] == back.as_str() {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(15), "not swapped: {r}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The alerts of those runs arrived, signed; the deliveries are recorded as delivered.
    let t0 = Instant::now();
    let got = loop {
        let got = hook.got();
        let (_, d) = http(&base, "GET", "/v1/alerts/deliveries?limit=500", &key, None);
        let all = d.as_array().unwrap();
        if !got.is_empty()
            && all.iter().all(|x| x["status"] == "delivered")
            && got.len() == all.len()
        {
            break got;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "deliveries: {d}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut kinds = std::collections::BTreeSet::new();
    for (sig, body) in &got {
        let now = chrono::Utc::now().timestamp();
        assert!(
            omnify::alerts::verify(&secret, sig, body.as_bytes(), now, 600),
            "{sig}"
        );
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["tenant"], "northwind");
        for e in v["events"].as_array().unwrap() {
            kinds.insert(e["type"].as_str().unwrap().to_string());
        }
    }
    assert!(kinds.contains("creative_state"), "{kinds:?}");
    assert!(kinds.contains("budget_gain"), "{kinds:?}");

    // An independent MCP client (Python's `mcp` package) over HTTP and over stdio.
    mcp_with_an_independent_client(&base, &key, d);

    // SIGTERM: a graceful exit.
    let mut srv = srv;
    let pid = srv.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = srv.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
}

/// A webhook receiver on a free port: records each POST's signature header and body, answers
/// 200.
struct Hook {
    url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl Hook {
    fn start() -> Hook {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let mut r = BufReader::new(s.try_clone().unwrap());
                let (mut len, mut sig) = (0usize, String::new());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if lower.starts_with("omnify-signature:") {
                        sig = line.split_once(':').unwrap().1.trim().to_string();
                    }
                }
                let mut body = vec![0; len];
                if r.read_exact(&mut body).is_ok() {
                    g.lock()
                        .unwrap()
                        .push((sig, String::from_utf8_lossy(&body).into_owned()));
                }
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        Hook { url, got }
    }

    fn got(&self) -> Vec<(String, String)> {
        self.got.lock().unwrap().clone()
    }
}

/// The Python interpreter with the `mcp` package (`scripts/python-env.sh` makes it and
/// `scripts/test.sh` exports it); `None` outside CI when it is not set up.
fn python() -> Option<String> {
    match std::env::var("OMNIFY_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("OMNIFY_PYTHON is not set: run the tests through scripts/test.sh")
        }
        _ => {
            eprintln!("skipping the independent MCP client: OMNIFY_PYTHON is not set");
            None
        }
    }
}

/// Runs `scripts/mcp_client.py` (the official Python SDK, which checks every structured
/// result against the tool's output schema) over HTTP with `key` and over stdio with
/// `omnify mcp`, and checks what it saw: every tool listed and answered, for tenant northwind,
/// the retraining queued by the write caller, the bad budget refused with the API's message.
fn mcp_with_an_independent_client(base: &str, key: &str, d: &Path) {
    let Some(py) = python() else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mcp_client.py");
    let check = |out: std::process::Output, how: &str| {
        assert!(
            out.status.success(),
            "{how}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["tools"].as_array().unwrap().len(), 8, "{how}: {v}");
        let calls = &v["calls"];
        for name in [
            "model_health",
            "list_at_risk_creatives",
            "score_creatives",
            "recommend_budget_shifts",
            "forecast_plan",
            "summarize_report",
            "start_retraining",
            "job_status",
        ] {
            assert_eq!(
                calls[name]["is_error"], false,
                "{how} {name}: {}",
                calls[name]
            );
            assert!(!calls[name]["text"].as_str().unwrap().is_empty());
        }
        assert_eq!(calls["model_health"]["structured"]["tenant"], "northwind");
        assert!(
            calls["model_health"]["structured"]["data"]["rows"]
                .as_u64()
                .unwrap()
                > 5_000
        );
        assert_eq!(calls["start_retraining"]["structured"]["status"], "queued");
        assert_eq!(
            calls["job_status"]["structured"]["id"],
            calls["start_retraining"]["structured"]["id"]
        );
        assert_eq!(calls["bad_budget"]["is_error"], true);
        assert!(
            calls["bad_budget"]["text"]
                .as_str()
                .unwrap()
                .contains("budget: must be a finite number > 0"),
            "{}",
            calls["bad_budget"]
        );
    };
    let out = Command::new(&py)
        .arg(&script)
        .args(["http", &format!("{base}/mcp"), key])
        .output()
        .unwrap();
    check(out, "http");
    let cmd = omnify_cmd(d);
    let mut args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    args.extend(
        ["mcp", "--tenant", "northwind", "--role", "write", "--state"]
            .into_iter()
            .map(String::from),
    );
    args.push(d.join("state.sqlite").display().to_string());
    let out = Command::new(&py)
        .arg(&script)
        .arg("stdio")
        .arg(bin())
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    check(out, "stdio");
}

/// The server's peak resident memory (`VmHWM`), bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb << 10
}

/// Hostile requests against the real binary, each answered with its documented 4xx before any
/// work: histories spanning millennia and decades (1,000 creatives each, what once took a
/// release build to 18.6 GB), a gzip bomb, and a job spec of absurd size. The server's peak
/// memory stays bounded, and it still serves afterwards.
#[test]
fn hostile_requests_are_refused_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let srv = start(d);
    let base = srv.base.clone();
    let out = omnify_cmd(d)
        .args(["keys", "create", "--tenant", "acme", "--role", "admin"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let (s, p) = post_json(&base, "/v1/fatigue/score", &key, body_creative());
    assert_eq!(s, 200, "{p}");
    let before = peak_rss(srv.child.id());

    let day = |d: &str| json!({"date": d, "impressions": 100, "clicks": 2, "spend": 1.0});
    let many = |days: &dyn Fn(usize) -> Vec<Value>| {
        let c: Vec<Value> = (0..1000)
            .map(|i| {
                json!({"platform": "meta", "account_id": format!("acct{}", i % 7),
                            "ad_id": format!("ad{i}"), "history": days(i)})
            })
            .collect();
        json!({ "creatives": c })
    };
    let (s, p) = post_json(
        &base,
        "/v1/fatigue/score",
        &key,
        many(&|_| vec![day("0001-01-01"), day("9999-12-31")]),
    );
    assert_eq!(s, 422, "{p}");
    assert_eq!(p["errors"][0]["path"], "creatives[0].history[0].date");
    let (s, p) = post_json(
        &base,
        "/v1/fatigue/score",
        &key,
        many(&|i| {
            vec![day(if i % 2 == 0 {
                "2000-01-01"
            } else {
                "2026-06-01"
            })]
        }),
    );
    assert_eq!(s, 422, "{p}");
    assert_eq!(p["errors"][0]["path"], "creatives");

    // About 256 KiB of gzip inflating to 256 MiB (a 1000x ratio).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..256 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    let t0 = Instant::now();
    let (s, p) = http(
        &base,
        "POST",
        "/v1/ingest/meta?account_id=1",
        &key,
        Some(("application/octet-stream", &bomb)),
    );
    assert!((400..500).contains(&s), "{s} {p}");
    assert!(p.to_string().contains("compression bomb"), "{p}");
    assert!(t0.elapsed() < Duration::from_secs(60));

    let (s, p) = post_json(
        &base,
        "/v1/jobs",
        &key,
        json!({"kind": "fatigue", "config": {"models": {"forest": {"trees": 100_000_000},
               "mlp": {"hidden": [100_000, 100_000]}}}}),
    );
    assert_eq!(s, 422, "{p}");

    let after = peak_rss(srv.child.id());
    // The gzip limit lets that body inflate to at most 200x its size before it is refused.
    assert!(
        after < before + (400 << 20),
        "peak memory grew from {before} to {after} bytes"
    );
    let (s, p) = post_json(&base, "/v1/fatigue/score", &key, body_creative());
    assert_eq!(s, 200, "{p}");
}

/// Keys never reach the log: a server at the most verbose log level, called with a valid key,
/// a revoked one and a guessed one, writes none of them (nor their secrets) to its output.
#[test]
fn keys_never_appear_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("serve.log");
    let mut child = omnify_cmd(d)
        .env("RUST_LOG", "trace")
        .args(["serve", "--no-bootstrap", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    let ready = lines.next().unwrap().unwrap();
    assert!(ready.starts_with("OmniFy is ready"), "{ready}");
    let srv = Server { child, base };
    let create = |role: &str| {
        let out = omnify_cmd(d)
            .args(["keys", "create", "--tenant", "acme", "--role", role])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let (admin, revoked) = (create("admin"), create("read"));
    let (s, _) = post_json(&srv.base, "/v1/fatigue/score", &admin, body_creative());
    assert_eq!(s, 200);
    // omk_ + 12 hex digits of id + _ + the secret.
    let revoked_id = revoked[4..16].to_string();
    let (s, p) = http(
        &srv.base,
        "DELETE",
        &format!("/v1/keys/{revoked_id}"),
        &admin,
        None,
    );
    assert!(s == 204 || s == 200, "{s} {p}");
    // Revoked at once.
    let (s, _) = http(&srv.base, "GET", "/v1/models", &revoked, None);
    assert_eq!(s, 401);
    let guessed = "omk_0123456789ab_notARealSecretNotARealSecretNotARealSecret";
    let (s, _) = http(&srv.base, "GET", "/v1/models", guessed, None);
    assert_eq!(s, 401);
    let (s, _) = post_json(&srv.base, "/v1/jobs", &admin, json!({"kind": "nope"}));
    assert_eq!(s, 422);
    drop(srv);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.len() > 100, "the trace log is written: {text}");
    for k in [&admin, &revoked, guessed] {
        let secret = &k[17..];
        assert!(secret.len() >= 40, "{k}");
        assert!(!text.contains(secret), "a key's secret is in the log");
    }
}
