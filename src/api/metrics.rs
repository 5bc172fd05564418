//! Prometheus metrics: request counts and latency histograms per route, method and status
//! (recorded by the router), plus, computed at scrape time, jobs per state, the champion
//! version per tenant and kind, and the rows in the warehouse (cached for 30 s).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChampionLabels {
    tenant: String,
    kind: String,
    version: String,
}

type HistFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs … ~6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// The request metrics and the cached warehouse row count.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistFamily,
    warehouse_rows: Mutex<Option<(u64, Instant)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "omnify_http_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        registry.register(
            "omnify_http_request_duration_seconds",
            "Time to answer HTTP requests, by route, method and status",
            latency.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            warehouse_rows: Mutex::new(None),
        }
    }

    pub fn observe(&self, route: &str, method: &str, status: u16, took: Duration) {
        let l = RequestLabels {
            route: route.to_string(),
            method: method.to_string(),
            status,
        };
        self.requests.get_or_create(&l).inc();
        self.latency.get_or_create(&l).observe(took.as_secs_f64());
    }

    /// The warehouse row count, recomputed at most every 30 s with `count`.
    pub fn warehouse_rows(&self, count: impl FnOnce() -> Option<u64>) -> Option<u64> {
        let mut g = self
            .warehouse_rows
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((n, at)) = *g
            && at.elapsed() < Duration::from_secs(30)
        {
            return Some(n);
        }
        let n = count()?;
        *g = Some((n, Instant::now()));
        Some(n)
    }

    /// The text exposition: request metrics, then the scrape-time gauges.
    pub fn render(
        &self,
        jobs: &[(String, i64)],
        champions: &[(String, String, String)],
        warehouse_rows: Option<u64>,
    ) -> String {
        let mut now = Registry::default();
        let job_family = Family::<JobLabels, Gauge>::default();
        for (s, n) in jobs {
            job_family
                .get_or_create(&JobLabels { state: s.clone() })
                .set(*n);
        }
        now.register("omnify_jobs", "Retraining jobs by state", job_family);
        let champ = Family::<ChampionLabels, Gauge>::default();
        for (tenant, kind, version) in champions {
            champ
                .get_or_create(&ChampionLabels {
                    tenant: tenant.clone(),
                    kind: kind.clone(),
                    version: version.clone(),
                })
                .set(1);
        }
        now.register(
            "omnify_champion_info",
            "The champion model version served per tenant and kind (value 1)",
            champ,
        );
        if let Some(n) = warehouse_rows {
            let g = Gauge::<i64>::default();
            g.set(n as i64);
            now.register(
                "omnify_warehouse_rows",
                "Rows (ad-days) in the warehouse",
                g,
            );
        }
        let mut out = String::new();
        let _ = encode_registry(&mut out, &self.registry);
        let _ = encode_registry(&mut out, &now);
        let _ = encode_eof(&mut out);
        out
    }
}
