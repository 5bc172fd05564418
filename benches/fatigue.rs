//! Fatigue pipeline throughput, parameterised by size: labels and features, scoring and
//! fitting on a simulated world (the same targets at full size: docs/benchmarks.md, "Fatigue
//! at scale"):
//!
//! - `prepare/N`: labels + features + label-history features for the creative-days of a
//!   simulated world of N creatives per tenant (3 tenants, 200 days). Target: 10M
//!   creative-days ≤ 10 s on 2 cores.
//! - `score/N`: `fatigue::score` of every active creative of that world with a fitted logistic
//!   hazard (features included). Target: 100k creatives ≤ 1 s.
//! - `fit/logistic_hazard`, `fit/forest`, `fit/survival_mlp`: fitting on the as-of rows of
//!   that world. Targets: linfa models on 1M person-period rows ≤ 60 s, the network ≤ 5 min.
//!
//! Data is simulated outside the timed closures. Run with `cargo bench --bench fatigue`; set
//! `OMNIFY_BENCH_CREATIVES` (comma-separated) to change sizes.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use omnify::fatigue::{self, FittedModel, JobConfig};
use omnify::schema::rows_to_frame;
use omnify::simulate::{SimConfig, simulate};
use polars::prelude::*;

fn world_frame(creatives: usize) -> DataFrame {
    let world = simulate(&SimConfig {
        seed: 99,
        tenants: 3,
        creatives_per_tenant: creatives,
        days: 200,
        ..SimConfig::default()
    })
    .expect("simulate");
    let mut frames = Vec::new();
    for t in &world.tenants {
        for a in &t.accounts {
            frames.push(rows_to_frame(&t.name, &a.rows).expect("frame").lazy());
        }
    }
    concat(frames, UnionArgs::default())
        .and_then(|lf| lf.collect())
        .expect("concat")
}

fn sizes() -> Vec<usize> {
    std::env::var("OMNIFY_BENCH_CREATIVES")
        .ok()
        .map(|s| s.split(',').filter_map(|v| v.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 400])
}

fn bench(c: &mut Criterion) {
    let cfg = JobConfig::from_toml_str("").expect("default config");
    let mut g = c.benchmark_group("fatigue");
    g.sample_size(10);
    for n in sizes() {
        let df = world_frame(n);
        g.bench_with_input(BenchmarkId::new("prepare", n), &df, |b, df| {
            b.iter(|| black_box(fatigue::prepare(df.clone().lazy(), &cfg.base).expect("prepare")))
        });
        let p = fatigue::prepare(df.clone().lazy(), &cfg.base).expect("prepare");
        let data = fatigue::survival_rows(&p, &cfg.evaluation);
        let sp = fatigue::split(&data, &cfg.evaluation).expect("split");
        let (train, val) = (data.subset(&sp.train), data.subset(&sp.validation));
        for fam in fatigue::LEARNED_FAMILIES {
            g.bench_with_input(BenchmarkId::new(format!("fit/{fam}"), n), &train, |b, t| {
                b.iter(|| black_box(FittedModel::fit_learned(fam, t, &val, &cfg.models)))
            });
        }
        let model =
            FittedModel::fit_learned("logistic_hazard", &train, &val, &cfg.models).expect("fit");
        let as_of = NaiveDate::from_ymd_opt(2026, 7, 1).expect("date");
        g.bench_with_input(BenchmarkId::new("score", n), &df, |b, df| {
            b.iter(|| {
                black_box(fatigue::score(
                    df.clone().lazy(),
                    as_of,
                    &model,
                    "bench",
                    &cfg,
                ))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
