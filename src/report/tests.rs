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
