//! Budget model figures, parameterised by size: fitting the response model and allocating
//! over its curves (targets and results in docs/benchmarks.md, "Budget"):
//!
//! - `fit/weekly/C×156`: one wide model, C channels × 156 weeks, point fit only (target: 20
//!   channels ≤ 10 s) and `fit_intervals/weekly/20×156` with 200 posterior draws
//!   (target ≤ 60 s);
//! - `fit/daily_entities/E×730`: E single-channel entity models × 730 days, point fit plus the
//!   default 200 posterior draws, all entities in parallel (target: 50 entities ≤ 60 s);
//! - `allocate/E`: the allocator over E fitted curves (targets: 50 ≤ 10 ms, 1,000 ≤ 200 ms).
//!
//! Data are the known-truth generator's (`omnify::budget::synth`), built outside the timed
//! closures. Run with `cargo bench --bench budget`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use omnify::budget::fit::{FitParams, train};
use omnify::budget::series::PeriodKind;
use omnify::budget::synth::{SynthConfig, generate};
use omnify::budget::{AllocationProblem, EntitySpec, Mode, allocate};

fn bench_fit(c: &mut Criterion) {
    let mut g = c.benchmark_group("fit");
    g.sample_size(10);
    for channels in [5usize, 20] {
        let (ds, _) = generate(&SynthConfig {
            channels,
            periods: 156,
            ..SynthConfig::default()
        });
        let p = FitParams {
            draws: 0,
            ..FitParams::default()
        };
        g.bench_with_input(
            BenchmarkId::new("weekly", format!("{channels}x156")),
            &ds,
            |b, ds| b.iter(|| train(std::slice::from_ref(ds), &p, "bench", "outcome").unwrap()),
        );
    }
    for entities in [10usize, 50] {
        let sets: Vec<_> = (0..entities)
            .map(|e| {
                let (mut ds, _) = generate(&SynthConfig {
                    seed: e as u64,
                    channels: 1,
                    periods: 730,
                    period: PeriodKind::Day,
                    ..SynthConfig::default()
                });
                ds.name = format!("e{e}");
                ds.channels = vec![format!("e{e}")];
                ds
            })
            .collect();
        let p = FitParams::default();
        g.bench_with_input(
            BenchmarkId::new("daily_entities", format!("{entities}x730")),
            &sets,
            |b, sets| b.iter(|| train(sets, &p, "bench", "outcome").unwrap()),
        );
    }
    g.finish();
    let mut g = c.benchmark_group("fit_intervals");
    g.sample_size(10);
    let (ds, _) = generate(&SynthConfig {
        channels: 20,
        periods: 156,
        ..SynthConfig::default()
    });
    let p = FitParams::default();
    g.bench_with_input(BenchmarkId::new("weekly", "20x156"), &ds, |b, ds| {
        b.iter(|| train(std::slice::from_ref(ds), &p, "bench", "outcome").unwrap())
    });
    g.finish();
}

fn bench_allocate(c: &mut Criterion) {
    let mut g = c.benchmark_group("allocate");
    // Curves as a fitted model hands them over: one wide fit's curves, repeated with varied
    // scale so the problem has many distinct entities.
    let (ds, _) = generate(&SynthConfig {
        channels: 5,
        periods: 104,
        ..SynthConfig::default()
    });
    let model = train(
        &[ds],
        &FitParams {
            draws: 0,
            ..FitParams::default()
        },
        "bench",
        "outcome",
    )
    .unwrap();
    let curves = model.curves();
    for n in [50usize, 1000] {
        let entities: Vec<EntitySpec> = (0..n)
            .map(|i| {
                let c = &curves[i % curves.len()];
                EntitySpec {
                    id: format!("e{i}"),
                    curve: c.curve,
                    current_spend: c.current_spend * (0.5 + (i % 7) as f64 / 7.0),
                    min_spend: None,
                    max_spend: None,
                    max_shift_pct: None,
                    fixed: false,
                    allow_new: false,
                }
            })
            .collect();
        let budget: f64 = entities.iter().map(|e| e.current_spend).sum();
        let p = AllocationProblem {
            entities,
            budget,
            mode: Mode::FixedBudget,
            max_shift_pct: None,
        };
        g.bench_with_input(BenchmarkId::from_parameter(n), &p, |b, p| {
            b.iter(|| allocate(p).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench_fit, bench_allocate);
criterion_main!(benches);
