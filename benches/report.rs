//! Report figures (target: 10,000 creatives and 200 entities rendered and written in ≤ 2 s;
//! results in docs/benchmarks.md, "Report"): `render_write/C×E` renders the page and its
//! tables from synthetic inputs ([`omnify::report::synth`], built outside the timed closure)
//! and writes the five files atomically into a temp folder. Set `OMNIFY_BENCH_REPORT` (e.g.
//! `1000x20,10000x200`) to change sizes. Run with `cargo bench --bench report`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use omnify::report::{render, synth};

fn sizes() -> Vec<(usize, usize)> {
    std::env::var("OMNIFY_BENCH_REPORT")
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|s| {
                    let (c, e) = s.trim().split_once('x')?;
                    Some((c.parse().ok()?, e.parse().ok()?))
                })
                .collect()
        })
        .filter(|v: &Vec<(usize, usize)>| !v.is_empty())
        .unwrap_or_else(|| vec![(1_000, 20), (10_000, 200)])
}

fn bench_report(c: &mut Criterion) {
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    let dir = tempfile::tempdir().expect("temp dir");
    for (creatives, entities) in sizes() {
        let inputs = synth::inputs(creatives, entities, 1);
        let out = dir.path().join(format!("{creatives}x{entities}"));
        g.bench_with_input(
            BenchmarkId::new("render_write", format!("{creatives}x{entities}")),
            &inputs,
            |b, inputs| {
                b.iter(|| {
                    let r = render(inputs).expect("render");
                    r.write(&out).expect("write")
                })
            },
        );
        let r = render(&inputs).expect("render");
        eprintln!(
            "report {creatives}x{entities}: report.html {} KiB",
            r.html.len() / 1024
        );
    }
    g.finish();
}

criterion_group!(benches, bench_report);
criterion_main!(benches);
