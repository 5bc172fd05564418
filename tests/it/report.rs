//! The forecast report in a real browser: headless Chromium (Debian's `chromium`, installed by
//! `scripts/setup-chromium.sh`, which `scripts/test.sh` runs first) renders the page to a PNG;
//! the image must not be blank and the browser must log no console error. Without Chromium the
//! test is skipped with a reason locally, and fails when `CI=true`.

use std::collections::HashSet;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use omnify::report::{render, synth};

fn chromium() -> Option<PathBuf> {
    let from_env = std::env::var_os("OMNIFY_CHROMIUM").map(PathBuf::from);
    from_env
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from))
        .find(|p| p.exists())
}

/// Runs chromium with the no-network flags plus `extra` on `page`; (stdout, stderr).
fn run_chromium(bin: &Path, profile: &Path, page: &Path, extra: &[String]) -> (String, String) {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-default-apps",
            "--disable-extensions",
            "--metrics-recording-only",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    // Read both pipes on threads so a chatty browser cannot block on a full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 180 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    (
        t_out.join().unwrap_or_default(),
        t_err.join().unwrap_or_default(),
    )
}

#[test]
fn the_report_renders_in_headless_chromium_without_console_errors() {
    let Some(bin) = chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "chromium is missing (CI=true): run scripts/setup-chromium.sh or set OMNIFY_CHROMIUM"
            );
        }
        eprintln!("skipped: chromium not found (/usr/bin/chromium); run scripts/setup-chromium.sh");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = render(&synth::inputs(300, 12, 5)).unwrap();
    let out = dir.path().join("report");
    report.write(&out).unwrap();
    let page = out.join("report.html");
    let shot = dir.path().join("report.png");
    let profile = dir.path().join("profile");

    let (_, log) = run_chromium(
        &bin,
        &profile,
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,4000".into(),
        ],
    );
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console errors: {console:#?}");

    // Decode the screenshot: not blank (enough non-white pixels and colours, some of them
    // the charts' blue).
    let decoder = png::Decoder::new(BufReader::new(
        std::fs::File::open(&shot).expect("chromium wrote no screenshot"),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 4000));
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let bpp = info.line_size / info.width as usize;
    assert!(bpp >= 3, "unexpected colour type {:?}", info.color_type);
    let mut non_white = 0usize;
    let mut colours = HashSet::new();
    let mut bluish = 0usize;
    for row in buf[..info.buffer_size()].chunks(info.line_size) {
        for px in row.chunks(bpp) {
            let (r, g, b) = (px[0], px[1], px[2]);
            if (r, g, b) != (255, 255, 255) {
                non_white += 1;
            }
            // The Okabe–Ito blue #0072B2 of the forecast lines (anti-aliasing blends it).
            if b > 120 && r < 80 && g > 60 && g < 160 {
                bluish += 1;
            }
            colours.insert((r, g, b));
        }
    }
    let total = (info.width * info.height) as usize;
    assert!(
        non_white * 50 > total,
        "the page looks blank: {non_white} of {total} pixels are not white"
    );
    assert!(colours.len() > 50, "only {} colours", colours.len());
    assert!(bluish > 500, "no chart lines drawn ({bluish} blue pixels)");

    // The DOM Chromium built has every section.
    let (dom, _) = run_chromium(&bin, &profile, &page, &["--dump-dom".into()]);
    for (id, _) in omnify::report::SECTIONS {
        assert!(
            dom.contains(&format!("<section id=\"{id}\">")),
            "section {id} missing from the rendered DOM"
        );
    }
}
