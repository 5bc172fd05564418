//! Load test of the scoring service (throughput, latency, batch scoring and memory; results in
//! docs/benchmarks.md, "Scoring service"), run with
//! `cargo bench --bench api` (release build). It starts the real `omnify serve` binary on the
//! bundled sample in a temp folder (bootstrap: ingest + train both kinds for every tenant),
//! then drives it over loopback from this process, on the same 2-core machine:
//!
//! 1. single-creative scoring, 28 days of history in the body: the most requests per second
//!    with `OMNIFY_LOAD_CONNS` keep-alive connections (default 32) for `OMNIFY_LOAD_SECS`
//!    (default 10);
//! 2. the same requests at a fixed 1,000 per second (open loop): p50/p99 latency;
//! 3. the fixed rate again while a fatigue retraining job runs;
//! 4. a 10,000-creative batch scored from the warehouse (`ad_ids`), after ingesting 10,000
//!    synthetic creatives × 28 days (ending after the sample, so their last day is the tenant's
//!    latest) as a unified Parquet file through the API: the first request after the ingest
//!    (it rebuilds the tenant's feature snapshot), then the median at the latest day (the
//!    default `as_of`, served from the snapshot) and at the day before (computed per request);
//! 5. the same 10,000 creatives with their histories in the body (≈ 24 MB of JSON), against
//!    the time a bare axum handler (in this process, same kind of connection) takes to
//!    receive that body and parse it into the request type with serde_json (the two taken in
//!    turns, seven each);
//! 6. the server's resident memory (VmRSS) with both models of every tenant loaded.
//!
//! `OMNIFY_LOAD_BATCH_ONLY=1` skips 1–3 (the batch figures alone, in about a minute).
//!
//! Not a Criterion bench: it measures a server under load, so it prints its own table.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Median wall time of `runs` successful round trips of `req`, in ms.
async fn median_ms(c: &mut Conn, req: &[u8], runs: usize) -> f64 {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let (s, b) = c.roundtrip(req).await;
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).unwrap();
        Conn {
            s,
            buf: Vec::with_capacity(64 << 10),
        }
    }

    /// Sends a prepared request and reads one response; returns (status, body).
    async fn roundtrip(&mut self, req: &[u8]) -> (u16, Vec<u8>) {
        self.s.write_all(req).await.expect("write");
        self.buf.clear();
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let status: u16 = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while self.buf.len() < end + 4 + len {
                    let mut chunk = [0u8; 65536];
                    let n = self.s.read(&mut chunk).await.expect("read");
                    assert!(n > 0, "connection closed");
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                let body = self.buf[end + 4..end + 4 + len].to_vec();
                self.buf.drain(..end + 4 + len);
                return (status, body);
            }
            let mut chunk = [0u8; 65536];
            let n = self.s.read(&mut chunk).await.expect("read");
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn request(method: &str, path: &str, key: &str, ct: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn history_json(ad: usize, days: usize) -> serde_json::Value {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 8, 1).unwrap();
    let hist: Vec<serde_json::Value> = (0..days)
        .map(|d| {
            let imp = 4000 + (ad * 37 % 1000) as i64 - 40 * d as i64;
            serde_json::json!({
                "date": (start + chrono::Duration::days(d as i64)).to_string(),
                "impressions": imp, "clicks": imp / 60 - d as i64, "spend": 30.0 + (ad % 7) as f64,
                "conversions": 2.0})
        })
        .collect();
    serde_json::json!({"platform": "meta", "account_id": "9000", "ad_id": format!("load-{ad}"),
                       "history": hist})
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Closed loop: `conns` connections sending back to back for `secs`.
async fn max_rate(addr: &str, req: Arc<Vec<u8>>, conns: usize, secs: u64) -> (f64, f64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let lat = Arc::new(std::sync::Mutex::new(Vec::new()));
    for _ in 0..conns {
        let (addr, req, stop, done, errors, lat) = (
            addr.to_string(),
            req.clone(),
            stop.clone(),
            done.clone(),
            errors.clone(),
            lat.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&addr).await;
            let mut mine = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let (s, _) = c.roundtrip(&req).await;
                mine.push(t.elapsed().as_secs_f64() * 1e3);
                if s == 200 {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat.lock().unwrap().extend(mine);
        }));
    }
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let el = t0.elapsed().as_secs_f64();
    let mut l = lat.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    (
        done.load(Ordering::Relaxed) as f64 / el,
        pct(&l, 0.99),
        errors.load(Ordering::Relaxed),
    )
}

/// Open loop: `rate` requests per second for `secs`, each on a free connection of a pool.
async fn fixed_rate(addr: &str, req: Arc<Vec<u8>>, rate: u64, secs: u64) -> (f64, f64, u64) {
    let pool = Arc::new(tokio::sync::Mutex::new(Vec::<Conn>::new()));
    for _ in 0..64 {
        pool.lock().await.push(Conn::open(addr).await);
    }
    let lat = Arc::new(std::sync::Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    for _ in 0..rate * secs {
        tick.tick().await;
        let scheduled = Instant::now();
        let (pool, req, lat, errors, addr) = (
            pool.clone(),
            req.clone(),
            lat.clone(),
            errors.clone(),
            addr.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            let c = pool.lock().await.pop();
            let mut c = match c {
                Some(c) => c,
                None => Conn::open(&addr).await,
            };
            let (s, _) = c.roundtrip(&req).await;
            // Latency from the scheduled send time (no coordinated omission).
            lat.lock()
                .unwrap()
                .push(scheduled.elapsed().as_secs_f64() * 1e3);
            if s != 200 {
                errors.fetch_add(1, Ordering::Relaxed);
            }
            pool.lock().await.push(c);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut l = lat.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    (pct(&l, 0.5), pct(&l, 0.99), errors.load(Ordering::Relaxed))
}

fn rss_mb(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    // `cargo bench` passes --bench; no filters are supported.
    let secs = env_num("OMNIFY_LOAD_SECS", 10);
    let conns = env_num("OMNIFY_LOAD_CONNS", 32) as usize;
    let batch_only = env_num("OMNIFY_LOAD_BATCH_ONLY", 0) == 1;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("omnify.toml"),
        "[api]\nrate_limit_per_second = 1000000\nbatch_body_limit_bytes = 67108864\n",
    )
    .unwrap();
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_omnify"))
        .current_dir(root)
        .args(["--config", &d.join("omnify.toml").display().to_string()])
        .args(["--warehouse", &d.join("wh").display().to_string()])
        .args(["--models-dir", &d.join("models").display().to_string()])
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(["--state", &d.join("state.sqlite").display().to_string()])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start omnify serve");
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    // Killed on every exit path, panics included (it would otherwise outlive the bench).
    let mut child = KillOnDrop(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut addr = String::new();
    let mut key = String::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        if addr.is_empty()
            && let Some(a) = l.split_whitespace().find(|w| w.starts_with("http://"))
        {
            addr = a.trim_start_matches("http://").to_string();
        }
        if key.is_empty()
            && let Some(k) = l.split_whitespace().find(|w| w.starts_with("omk_"))
        {
            key = k.to_string();
        }
        if l.starts_with("OmniFy is ready") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    eprintln!(
        "server ready on {addr} after {:.0} s (bootstrap)",
        t0.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut report = Vec::<(String, String)>::new();

    let rss_ready = rss_mb(pid);
    push(
        &mut report,
        (
            "resident memory after start, all champions loaded (4 tenants × 2 kinds)".into(),
            format!("{rss_ready:.0} MB"),
        ),
    );
    rt.block_on(async {
        let one = serde_json::json!({"creatives": [history_json(1, 28)]}).to_string();
        let req = Arc::new(request(
            "POST",
            "/v1/fatigue/score",
            &key,
            "application/json",
            one.as_bytes(),
        ));
        let mut c = Conn::open(&addr).await;
        let (s, b) = c.roundtrip(&req).await;
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        if !batch_only {
            // Warm up.
            let _ = max_rate(&addr, req.clone(), conns, 2).await;
            let (rps, p99, err) = max_rate(&addr, req.clone(), conns, secs).await;
            push(
                &mut report,
                (
                    format!("single-creative scoring, max rate ({conns} connections)"),
                    format!("{rps:.0} req/s (p99 {p99:.1} ms, {err} errors)"),
                ),
            );
            let (p50, p99, err) = fixed_rate(&addr, req.clone(), 1000, secs).await;
            push(
                &mut report,
                (
                    "single-creative scoring at 1,000 req/s".into(),
                    format!("p50 {p50:.2} ms, p99 {p99:.2} ms ({err} errors)"),
                ),
            );
            push(
                &mut report,
                (
                    "resident memory after the load above".into(),
                    format!("{:.0} MB", rss_mb(pid)),
                ),
            );
            // A retraining job running meanwhile.
            let job = request(
                "POST",
                "/v1/jobs",
                &key,
                "application/json",
                br#"{"kind":"fatigue"}"#,
            );
            let (s, b) = c.roundtrip(&job).await;
            assert_eq!(s, 202, "{}", String::from_utf8_lossy(&b));
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (p50j, p99j, err) = fixed_rate(&addr, req.clone(), 1000, secs).await;
            push(
                &mut report,
                (
                    "… while a fatigue retraining job runs".into(),
                    format!("p50 {p50j:.2} ms, p99 {p99j:.2} ms ({err} errors)"),
                ),
            );
            // The batch scenarios run on an idle server: wait for the job to end.
            let job_id = serde_json::from_slice::<serde_json::Value>(&b)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_string))
                .unwrap_or_default();
            let poll = request(
                "GET",
                &format!("/v1/jobs/{job_id}"),
                &key,
                "application/json",
                b"",
            );
            let mut still_running = true;
            let t_job = Instant::now();
            while still_running && t_job.elapsed() < Duration::from_secs(300) {
                let (_, b) = c.roundtrip(&poll).await;
                let v: serde_json::Value = serde_json::from_slice(&b).unwrap_or_default();
                still_running = matches!(v["status"].as_str(), Some("queued" | "running"));
                if still_running {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                } else {
                    eprintln!("retraining job ended: {}", v["status"]);
                }
            }
        }

        // 10,000 creatives × 28 days into the warehouse as a unified Parquet upload, ending
        // after the bundled sample so their last day is the tenant's latest.
        let n = 10_000;
        let mut rows = Vec::with_capacity(n * 28);
        let start = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let last = start + chrono::Duration::days(27);
        for ad in 0..n {
            for day in 0..28 {
                let mut r = omnify::schema::AdDailyRow::new(
                    omnify::platforms::Platform::Meta,
                    "9000".into(),
                    format!("load-{ad}"),
                    start + chrono::Duration::days(day),
                );
                r.impressions = 4000 + (ad * 37 % 1000) as i64 - 40 * day;
                r.clicks = r.impressions / 60 - day;
                r.spend = Some(30.0 + (ad % 7) as f64);
                r.currency = Some("USD".into());
                r.conversions = Some(2.0);
                rows.push(r);
            }
        }
        let mut df = omnify::schema::rows_to_frame("contoso", &rows).unwrap();
        let mut pq = Vec::new();
        polars::prelude::ParquetWriter::new(&mut pq)
            .finish(&mut df)
            .unwrap();
        let up = request(
            "POST",
            "/v1/ingest/auto",
            &key,
            "application/octet-stream",
            &pq,
        );
        let (s, b) = c.roundtrip(&up).await;
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        let ids: Vec<String> = (0..n).map(|i| format!("load-{i}")).collect();
        let ids_at = |as_of: Option<chrono::NaiveDate>| {
            let body = match as_of {
                Some(d) => serde_json::json!({"ad_ids": ids, "as_of": d.to_string()}),
                None => serde_json::json!({"ad_ids": ids}),
            };
            request(
                "POST",
                "/v1/fatigue/score",
                &key,
                "application/json",
                body.to_string().as_bytes(),
            )
        };
        let latest = ids_at(None);
        let t = Instant::now();
        let (s, b) = c.roundtrip(&latest).await;
        let first = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap_or_default();
        assert_eq!(
            v["as_of"],
            last.to_string(),
            "the load's last day is the latest"
        );
        assert_eq!(v["scores"].as_array().map(Vec::len), Some(n));
        push(
            &mut report,
            (
                "10,000-creative batch from the warehouse (ad_ids), first request after the \
                 ingest (rebuilds the tenant's feature snapshot)"
                    .into(),
                format!("{first:.0} ms"),
            ),
        );
        let ms = median_ms(&mut c, &latest, 5).await;
        push(
            &mut report,
            (
                "10,000-creative batch from the warehouse (ad_ids) at the latest day, median of 5"
                    .into(),
                format!("{ms:.0} ms"),
            ),
        );
        let earlier = ids_at(Some(last - chrono::Duration::days(1)));
        let ms = median_ms(&mut c, &earlier, 3).await;
        push(
            &mut report,
            (
                "… at the day before (features computed for the request), median of 3".into(),
                format!("{ms:.0} ms"),
            ),
        );
        let creatives: Vec<serde_json::Value> = (0..n).map(|i| history_json(i, 28)).collect();
        let body = serde_json::json!({"creatives": creatives}).to_string();
        let mb = body.len() as f64 / 1e6;
        let mut parse = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let v: omnify::api::ScoreRequest = serde_json::from_slice(body.as_bytes()).unwrap();
            parse.push(t.elapsed().as_secs_f64() * 1e3);
            drop(v);
        }
        parse.sort_by(f64::total_cmp);
        // What "receiving and parsing that body" costs a bare axum handler on this machine,
        // over the same kind of connection: it reads the body and parses it into the request
        // type with serde_json, and answers with the number of creatives.
        let bare = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bare_addr = bare.local_addr().unwrap().to_string();
        let app = axum::Router::new()
            .route(
                "/v1/fatigue/score",
                axum::routing::post(|b: axum::body::Bytes| async move {
                    let v: omnify::api::ScoreRequest = serde_json::from_slice(&b).unwrap();
                    v.creatives.map_or(0, |c| c.len()).to_string()
                }),
            )
            .layer(axum::extract::DefaultBodyLimit::max(64 << 20));
        tokio::spawn(async move { axum::serve(bare, app).await });
        let hreq = request(
            "POST",
            "/v1/fatigue/score",
            &key,
            "application/json",
            body.as_bytes(),
        );
        let mut bc = Conn::open(&bare_addr).await;
        let _ = median_ms(&mut bc, &hreq, 1).await;
        let _ = median_ms(&mut c, &hreq, 1).await;
        // Taken in turns, so that a change of the machine's speed meets both alike.
        let (mut bare_ms, mut ours) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            bare_ms.push(median_ms(&mut bc, &hreq, 1).await);
            ours.push(median_ms(&mut c, &hreq, 1).await);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (baseline, ms) = (median(bare_ms), median(ours));
        push(
            &mut report,
            (
                format!(
                    "10,000-creative batch with histories in the body ({mb:.1} MB), median of 7 taken in turns with the bare handler"
                ),
                format!(
                    "{ms:.0} ms (a bare axum handler receiving and parsing that body: \
                     {baseline:.0} ms, ratio {:.1}×; parsing alone in this process: {:.0} ms)",
                    ms / baseline,
                    parse[1],
                ),
            ),
        );
    });
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.0.wait();
    println!("\n| Measure | Result |\n|---|---|");
    for (k, v) in report {
        println!("| {k} | {v} |");
    }
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Records a result and prints it at once (the run takes minutes).
fn push(report: &mut Vec<(String, String)>, (k, v): (String, String)) {
    eprintln!("{k}: {v}");
    report.push((k, v));
}
