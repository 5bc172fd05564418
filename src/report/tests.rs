//! Report tests on synthetic inputs: structure of the page (every section, every chart with
//! data, no external references), missing sections as notes, tables and atomic files.

use scraper::{Html, Selector};

use super::*;

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("selector")
}

/// Every `<svg>` draws data: a line or band path with at least two points, or markers.
pub(crate) fn assert_charts_have_data(html: &str) -> usize {
    let doc = Html::parse_document(html);
    let svgs: Vec<_> = doc.select(&sel("svg")).collect();
    for (i, svg) in svgs.iter().enumerate() {
        let lines = svg
            .select(&sel("path.series, path.band"))
            .filter(|p| {
                p.value()
                    .attr("d")
                    .is_some_and(|d| d.starts_with('M') && d.contains('L'))
            })
            .count();
        let marks = svg
            .select(&sel("g.points circle, g.points rect, g.points path"))
            .count();
        assert!(
            lines + marks > 0,
            "chart {i} ({}) has no data",
            svg.select(&sel("title"))
                .next()
                .map(|t| t.inner_html())
                .unwrap_or_default()
        );
    }
    svgs.len()
}

/// No reference leaves the file: no URLs, protocol-relative links, imports, scripts or images.
pub(crate) fn assert_self_contained(html: &str) {
    for bad in [
        "http://", "https://", "@import", "url(", "<script", "<link", "<img", "<iframe",
    ] {
        assert!(!html.contains(bad), "the page contains `{bad}`");
    }
    let doc = Html::parse_document(html);
    for el in doc.select(&sel("[src], [href]")) {
        for a in ["src", "href"] {
            if let Some(v) = el.value().attr(a) {
                assert!(v.starts_with('#'), "{a}=\"{v}\" points outside the page");
            }
        }
    }
}

#[test]
fn the_page_has_every_section_and_every_chart_has_data() {
    let inp = synth::inputs(300, 12, 1);
    let r = render(&inp).unwrap();
    let doc = Html::parse_document(&r.html);
    for (id, title) in SECTIONS {
        let s = doc
            .select(&sel(&format!("section#{id}")))
            .next()
            .unwrap_or_else(|| panic!("section {id} missing"));
        assert_eq!(s.select(&sel("h2")).next().unwrap().inner_html(), title);
        assert!(
            s.select(&sel("p.how")).next().is_some(),
            "{id}: no how-to-read line"
        );
    }
    // 6 creatives + ROC + calibration + backtest + 12 curves + forecast = 22 charts.
    assert_eq!(assert_charts_have_data(&r.html), 6 + 3 + 12 + 1);
    assert_self_contained(&r.html);
    assert!(r.html.contains("@media print"));
    // Every axis has a title: two per chart.
    let svg_count = doc.select(&sel("svg")).count();
    assert!(
        doc.select(&sel("svg > text[text-anchor=\"middle\"][fill=\"#111\"]"))
            .count()
            >= svg_count
    );
}

#[test]
fn the_at_risk_table_is_sorted_by_urgency_and_formatted() {
    let inp = synth::inputs(40, 3, 2);
    let r = render(&inp).unwrap();
    let doc = Html::parse_document(&r.html);
    let rows: Vec<_> = doc.select(&sel("table.creatives tbody tr")).collect();
    let statuses: Vec<String> = rows
        .iter()
        .map(|tr| tr.select(&sel("span.status")).next().unwrap().inner_html())
        .collect();
    // Fatigued creatives come first (creatives 0, 10, 20, 30 of the synthetic list).
    assert_eq!(&statuses[..4], ["fatigued"; 4]);
    assert!(statuses[4..].iter().all(|s| s != "fatigued"));
    // Money with a currency symbol and thousands separators somewhere in the table.
    let text: String = rows.iter().map(|r| r.text().collect::<String>()).collect();
    assert!(text.contains('$'));
    assert!(text.contains('%'));
}

#[test]
fn missing_models_and_evaluations_become_notes() {
    let mut inp = synth::inputs(50, 4, 3);
    inp.budget = Section::Missing(
        "No champion budget model for tenant t — run omnify train budget --tenant t".into(),
    );
    if let Section::Ready(f) = &mut inp.fatigue {
        f.evaluation = Err("not available for model version v1 — retrain".into());
    }
    let r = render(&inp).unwrap();
    let doc = Html::parse_document(&r.html);
    let note = |id: &str| {
        doc.select(&sel(&format!("section#{id} p.note")))
            .next()
            .map(|n| n.text().collect::<String>())
            .unwrap_or_default()
    };
    assert!(note("budget").contains("run omnify train budget"));
    assert!(note("quality").contains("retrain"));
    assert_eq!(r.plan.height(), 0);
    assert_charts_have_data(&r.html);
    assert_self_contained(&r.html);
}

#[test]
fn tables_and_files() {
    let inp = synth::inputs(25, 5, 4);
    let r = render(&inp).unwrap();
    assert_eq!(r.scores.height(), 25);
    assert!(r.scores.column("spend_7d").is_ok());
    assert_eq!(r.plan.height(), 5);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/report");
    let files = r.write(&out).unwrap();
    assert_eq!(files, FILES);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("report.html"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
    }
    let csv = std::fs::read_to_string(out.join("plan.csv")).unwrap();
    assert!(csv.starts_with("entity,current,recommended,delta,"));
    assert_eq!(csv.lines().count(), 6);
    let pq = std::fs::File::open(out.join("scores.parquet")).unwrap();
    let back = ParquetReader::new(pq).finish().unwrap();
    assert_eq!(back.height(), 25);
    // Only the report's files remain (no temporary files).
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = FILES.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want);
}

#[test]
fn quantile_by_hand() {
    // Sorted [1, 2, 4, 8]: q = .25 → position .75 → 1 + .75·(2 − 1) = 1.75;
    // q = .5 → position 1.5 → 2 + .5·(4 − 2) = 3.
    assert_eq!(quantile(&[1.0, 2.0, 4.0, 8.0], 0.25), 1.75);
    assert_eq!(quantile(&[1.0, 2.0, 4.0, 8.0], 0.5), 3.0);
    assert!(quantile(&[], 0.5).is_nan());
}

const SPEC: &str = "[evaluation]\nstride_days = 2\ntest_days = 40\nvalidation_days = 25\nmin_onsets = 1\n\
    [models]\nseed = 3\nfamilies = [\"logistic_hazard\", \"forest\"]\n[models.forest]\ntrees = 4\n";

/// From warehouse rows to files: only a budget champion (fatigue sections are notes), then
/// both champions, an older fatigue champion without a stored evaluation, and the errors the
/// API maps to 404 / 422.
#[test]
fn end_to_end_on_a_small_simulated_warehouse() {
    // Polars plans recurse deeply in debug builds: a roomy stack (as the CLI tests do).
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(end_to_end)
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

fn end_to_end() {
    use crate::budget::job::BudgetJobConfig;
    use crate::budget::service;
    use crate::registry::{ModelKind, Registry};
    use crate::warehouse::Warehouse;

    let dir = tempfile::tempdir().unwrap();
    let frame = crate::fatigue::tests::sim_frame_with(5, 1, 60, 200)
        .collect()
        .unwrap();
    let tenant = frame
        .column("tenant")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    let wh = Warehouse::open(dir.path().join("wh")).unwrap();
    wh.ingest(frame.clone()).unwrap();
    let cfg = Config {
        data_dir: dir.path().to_path_buf(),
        warehouse_dir: Some(dir.path().join("wh")),
        models_dir: dir.path().join("models"),
        ..Config::default()
    };
    let reg = Registry::open(&cfg.models_dir);
    let job = crate::fatigue::JobConfig::from_toml_str(SPEC).unwrap();
    let out = dir.path().join("out");

    // No champion at all: the fatigue sections come from the cold-start prior and say so;
    // unknown tenant → NotFound; as-of outside → Invalid.
    generate_with(&cfg, &tenant, None, &out, &job, 3).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("no fatigue model of its own yet") && html.contains("cold-start prior"),
        "the report does not say the tenant is on the prior"
    );
    assert!(html.contains("No champion budget model"));
    let e = generate_with(&cfg, "nobody", None, &out, &job, 3).unwrap_err();
    assert!(matches!(e, ReportError::NotFound(_)), "{e}");
    let old = NaiveDate::from_ymd_opt(2020, 1, 1);
    let e = generate_with(&cfg, &tenant, old, &out, &job, 3).unwrap_err();
    assert!(matches!(e, ReportError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("2020-01-01"), "{e}");

    // Budget champion only: the fatigue sections say the prior serves and what to run.
    let mut bjob = BudgetJobConfig::default();
    bjob.fit.draws = 20;
    service::train_from_warehouse(&wh, &reg, &tenant, &bjob).unwrap();
    let meta = generate_with(&cfg, &tenant, None, &out, &job, 3).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("omnify train fatigue --tenant"),
        "fatigue note missing"
    );
    assert!(meta.counts["entities"] > 0);
    assert_charts_have_data(&html);

    // Both champions.
    crate::fatigue::train(frame.clone().lazy(), &tenant, &job, &reg, &mut |_, _, _| {}).unwrap();
    let champion = reg.load_champion(&tenant, ModelKind::Fatigue).unwrap();
    let stored: crate::fatigue::pipeline::StoredEvaluation =
        serde_json::from_slice(&champion.files["evaluation.json"]).unwrap();
    assert_eq!(stored.model, champion.card.model);
    assert!(!stored.curves[&stored.model].roc_14.is_empty());
    let as_of = NaiveDate::from_ymd_opt(2026, 7, 10).unwrap();
    let meta = generate_with(&cfg, &tenant, Some(as_of), &out, &job, 3).unwrap();
    assert_eq!(meta.as_of, as_of);
    assert_eq!(meta.files, FILES);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let doc = Html::parse_document(&html);
    for (id, _) in SECTIONS {
        assert!(doc.select(&sel(&format!("section#{id}"))).next().is_some());
    }
    assert!(
        !html.contains("No champion"),
        "a section is missing its model"
    );
    let charts = assert_charts_have_data(&html);
    // ROC, calibration, backtest, forecast and at least one curve and one creative.
    assert!(charts >= 6, "{charts} charts");
    assert_self_contained(&html);
    let scores = std::fs::read_to_string(out.join("scores.csv")).unwrap();
    assert_eq!(
        scores.lines().count() as u64 - 1,
        meta.counts["creatives_scored"]
    );
    assert!(scores.lines().next().unwrap().ends_with(",spend_7d"));
    // The report's scores (from the tenant's materialised features, as-of not its last day
    // here) are those of scoring the rows directly.
    let model = crate::fatigue::FittedModel::from_files(&champion.files).unwrap();
    let want = crate::fatigue::score_frame(&frame, &tenant, as_of, &model, "v", &job).unwrap();
    assert_eq!(want.len() as u64, meta.counts["creatives_scored"]);
    for w in &want {
        assert!(
            scores.contains(&format!(",{},", w.ad_id)),
            "{} missing",
            w.ad_id
        );
    }

    // A champion trained before evaluations were stored: a note naming the version.
    let mut files = champion.files.clone();
    files.remove("evaluation.json");
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let older = reg.register(champion.card.clone(), &refs).unwrap();
    reg.promote(&tenant, ModelKind::Fatigue, &older.version)
        .unwrap();
    generate_with(&cfg, &tenant, Some(as_of), &out, &job, 3).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let doc = Html::parse_document(&html);
    let note: String = doc
        .select(&sel("section#quality p.note"))
        .next()
        .map(|n| n.text().collect())
        .unwrap_or_default();
    assert!(
        note.contains(&older.version) && note.contains("retrain"),
        "{note}"
    );
}
