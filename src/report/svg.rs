//! Small inline SVG charts for the report, built by hand: line, band, point, reference-line
//! and shaded-window layers on linear axes with "nice" ticks, axis titles with units, and a
//! legend that repeats each layer's colour *and* dash pattern or marker, so a chart still
//! reads in greyscale and for colour-blind readers (Okabe–Ito palette). The output is one
//! `<svg>` element with a `viewBox` (scales to the page width) and no external references.

use std::fmt::Write;

/// Okabe–Ito colours (colour-blind safe).
pub mod palette {
    pub const BLACK: &str = "#000000";
    pub const ORANGE: &str = "#E69F00";
    pub const SKY: &str = "#56B4E9";
    pub const GREEN: &str = "#009E73";
    pub const YELLOW: &str = "#F0E442";
    pub const BLUE: &str = "#0072B2";
    pub const VERMILLION: &str = "#D55E00";
    pub const PURPLE: &str = "#CC79A7";
    pub const GREY: &str = "#8C8C8C";
}

/// How a line is stroked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stroke {
    pub colour: &'static str,
    /// SVG `stroke-dasharray`, e.g. "6 3"; None for solid.
    pub dash: Option<&'static str>,
    pub width: f64,
}

impl Stroke {
    pub const fn solid(colour: &'static str) -> Stroke {
        Stroke {
            colour,
            dash: None,
            width: 2.0,
        }
    }
    pub const fn dashed(colour: &'static str, dash: &'static str) -> Stroke {
        Stroke {
            colour,
            dash: Some(dash),
            width: 2.0,
        }
    }
}

/// Point markers (distinguishable by shape alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Diamond,
    Triangle,
}

/// One thing drawn on a chart. Coordinates are data units; non-finite values break lines and
/// are skipped as points.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    Line {
        points: Vec<(f64, f64)>,
        stroke: Stroke,
        label: Option<String>,
    },
    /// A filled area between `lower` and `upper` over the same x values.
    Band {
        x: Vec<f64>,
        lower: Vec<f64>,
        upper: Vec<f64>,
        colour: &'static str,
        label: Option<String>,
    },
    Points {
        points: Vec<(f64, f64)>,
        colour: &'static str,
        marker: Marker,
        label: Option<String>,
    },
    /// A horizontal reference line across the plot.
    HLine {
        y: f64,
        stroke: Stroke,
        label: Option<String>,
    },
    /// A vertical reference line across the plot.
    VLine {
        x: f64,
        stroke: Stroke,
        label: Option<String>,
    },
    /// A shaded x window across the plot's height.
    Span {
        x0: f64,
        x1: f64,
        colour: &'static str,
        label: Option<String>,
    },
}

/// An axis: data range, title (with unit) and tick labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub title: String,
    pub min: f64,
    pub max: f64,
    /// (position, label)
    pub ticks: Vec<(f64, String)>,
}

impl Axis {
    /// A linear axis over [lo, hi] widened to nice tick steps, ticks labelled by `fmt`.
    pub fn linear(title: &str, lo: f64, hi: f64, fmt: impl Fn(f64) -> String) -> Axis {
        let ticks = nice_ticks(lo, hi, 5);
        let min = ticks.first().copied().unwrap_or(lo).min(lo);
        let max = ticks.last().copied().unwrap_or(hi).max(hi);
        Axis {
            title: title.to_string(),
            min,
            max,
            ticks: ticks.into_iter().map(|t| (t, fmt(t))).collect(),
        }
    }

    /// An axis with exactly [lo, hi] and ticks at nice values inside it.
    pub fn exact(title: &str, lo: f64, hi: f64, fmt: impl Fn(f64) -> String) -> Axis {
        Axis {
            title: title.to_string(),
            min: lo,
            max: hi,
            ticks: nice_ticks(lo, hi, 5)
                .into_iter()
                .filter(|t| *t >= lo - 1e-9 && *t <= hi + 1e-9)
                .map(|t| (t, fmt(t)))
                .collect(),
        }
    }
}

/// Ticks at multiples of 1, 2 or 5 × 10^k covering [lo, hi] with about `n` intervals.
/// [0, 97] with n = 5 → step 20: 0, 20, …, 100.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) {
        return vec![0.0, 1.0];
    }
    let (lo, hi) = if hi - lo < 1e-12 {
        let pad = if lo.abs() > 1e-12 {
            lo.abs() * 0.1
        } else {
            1.0
        };
        (lo - pad, hi + pad)
    } else {
        (lo, hi)
    };
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw - 1e-12)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor() * step;
    let scale = 10f64.powi((-step.log10().floor()).max(0.0) as i32);
    let mut out = Vec::new();
    let mut k = 0;
    loop {
        let t = first + k as f64 * step;
        // Clean binary noise (3 × 0.1 = 0.30000000000000004 → 0.3).
        let t = (t * scale).round() / scale;
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        if t >= hi - 1e-9 * step || k > 1000 {
            break;
        }
        k += 1;
    }
    out
}

/// A chart to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Accessible name (the SVG `<title>`).
    pub title: String,
    pub width: f64,
    pub height: f64,
    pub x: Axis,
    pub y: Axis,
    pub layers: Vec<Layer>,
}

const LEFT: f64 = 68.0;
const RIGHT: f64 = 14.0;
const BOTTOM: f64 = 46.0;
const FONT: f64 = 12.0;

/// Escapes text for SVG/HTML content and attributes.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn dash_attr(s: &Stroke) -> String {
    match s.dash {
        Some(d) => format!(" stroke-dasharray=\"{d}\""),
        None => String::new(),
    }
}

fn marker_svg(out: &mut String, m: Marker, x: f64, y: f64, colour: &str) {
    let r = 3.5;
    let _ = match m {
        Marker::Circle => write!(
            out,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\" fill=\"{colour}\"/>"
        ),
        Marker::Square => write!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{}\" height=\"{}\" fill=\"{colour}\"/>",
            x - r,
            y - r,
            2.0 * r,
            2.0 * r
        ),
        Marker::Diamond => write!(
            out,
            "<path d=\"M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z\" fill=\"{colour}\"/>",
            y - r - 1.0,
            x + r + 1.0,
            y + r + 1.0,
            x - r - 1.0
        ),
        Marker::Triangle => write!(
            out,
            "<path d=\"M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z\" fill=\"{colour}\"/>",
            y - r - 1.0,
            x + r + 1.0,
            y + r,
            x - r - 1.0,
            y + r
        ),
    };
}

impl Chart {
    fn legend_items(&self) -> Vec<(&Layer, &str)> {
        self.layers
            .iter()
            .filter_map(|l| {
                let label = match l {
                    Layer::Line { label, .. }
                    | Layer::Band { label, .. }
                    | Layer::Points { label, .. }
                    | Layer::HLine { label, .. }
                    | Layer::VLine { label, .. }
                    | Layer::Span { label, .. } => label.as_deref(),
                };
                label.map(|t| (l, t))
            })
            .collect()
    }

    /// Legend rows laid out left to right, wrapping at the chart width: (layer, label, x, row).
    fn legend_layout(&self) -> Vec<(&Layer, &str, f64, usize)> {
        let mut out = Vec::new();
        let (mut x, mut row) = (LEFT, 0usize);
        for (l, t) in self.legend_items() {
            let w = 30.0 + t.chars().count() as f64 * FONT * 0.55 + 16.0;
            if x + w > self.width - RIGHT && x > LEFT {
                x = LEFT;
                row += 1;
            }
            out.push((l, t, x, row));
            x += w;
        }
        out
    }

    /// The chart as one `<svg>` element.
    pub fn render(&self) -> String {
        let legend = self.legend_layout();
        let legend_rows = legend.iter().map(|l| l.3 + 1).max().unwrap_or(0);
        let top = 10.0 + legend_rows as f64 * 18.0;
        let (w, h) = (self.width, self.height);
        let (pw, ph) = (w - LEFT - RIGHT, h - top - BOTTOM);
        let xs = |v: f64| {
            let span = self.x.max - self.x.min;
            LEFT + if span > 0.0 {
                (v - self.x.min) / span * pw
            } else {
                pw / 2.0
            }
        };
        let ys = |v: f64| {
            let span = self.y.max - self.y.min;
            top + ph
                - if span > 0.0 {
                    (v - self.y.min) / span * ph
                } else {
                    ph / 2.0
                }
        };
        // Clamp into the plot so out-of-range values stay on the frame instead of spilling.
        let cx = |v: f64| xs(v).clamp(LEFT, LEFT + pw);
        let cy = |v: f64| ys(v).clamp(top, top + ph);
        let mut o = String::with_capacity(4096);
        let _ = write!(
            o,
            "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" \
             width=\"{w}\" height=\"{h}\" role=\"img\" font-family=\"sans-serif\" \
             font-size=\"{FONT}\"><title>{}</title>",
            escape(&self.title)
        );
        let _ = write!(
            o,
            "<rect x=\"{LEFT}\" y=\"{top:.1}\" width=\"{pw:.1}\" height=\"{ph:.1}\" \
             fill=\"#ffffff\" stroke=\"#bbbbbb\"/>"
        );
        // Grid and ticks.
        for (t, label) in &self.y.ticks {
            let y = ys(*t);
            if !(top - 0.5..=top + ph + 0.5).contains(&y) {
                continue;
            }
            let _ = write!(
                o,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e6e6e6\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#333\">{}</text>",
                LEFT + pw,
                LEFT - 6.0,
                y + 4.0,
                escape(label)
            );
        }
        for (t, label) in &self.x.ticks {
            let x = xs(*t);
            if !(LEFT - 0.5..=LEFT + pw + 0.5).contains(&x) {
                continue;
            }
            // A label centred on the last tick would run past the right edge.
            let anchor = if x > LEFT + pw - 24.0 {
                "end"
            } else {
                "middle"
            };
            let _ = write!(
                o,
                "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#f0f0f0\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#333\">{}</text>",
                top + ph,
                top + ph + 16.0,
                escape(label)
            );
        }
        for l in &self.layers {
            match l {
                Layer::Span { x0, x1, colour, .. } => {
                    let (a, b) = (cx(*x0), cx(*x1));
                    let _ = write!(
                        o,
                        "<rect class=\"span\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" \
                         height=\"{ph:.1}\" fill=\"{colour}\" fill-opacity=\"0.18\" \
                         stroke=\"{colour}\" stroke-dasharray=\"2 2\"/>",
                        a.min(b),
                        (b - a).abs()
                    );
                }
                Layer::Band {
                    x,
                    lower,
                    upper,
                    colour,
                    ..
                } => {
                    let pts: Vec<(f64, f64, f64)> = x
                        .iter()
                        .zip(lower.iter().zip(upper))
                        .filter(|(x, (l, u))| x.is_finite() && l.is_finite() && u.is_finite())
                        .map(|(x, (l, u))| (*x, *l, *u))
                        .collect();
                    if pts.len() >= 2 {
                        let mut d = String::new();
                        for (i, (x, _, u)) in pts.iter().enumerate() {
                            let _ = write!(
                                d,
                                "{}{:.1} {:.1}",
                                if i == 0 { "M" } else { "L" },
                                cx(*x),
                                cy(*u)
                            );
                        }
                        for (x, l, _) in pts.iter().rev() {
                            let _ = write!(d, "L{:.1} {:.1}", cx(*x), cy(*l));
                        }
                        let _ = write!(
                            o,
                            "<path class=\"band\" d=\"{d}Z\" fill=\"{colour}\" fill-opacity=\"0.25\" \
                             stroke=\"none\"/>"
                        );
                    }
                }
                _ => {}
            }
        }
        for l in &self.layers {
            match l {
                Layer::Line { points, stroke, .. } => {
                    let mut d = String::new();
                    let mut pen = false;
                    for (x, y) in points {
                        if x.is_finite() && y.is_finite() {
                            let _ = write!(
                                d,
                                "{}{:.1} {:.1}",
                                if pen { "L" } else { "M" },
                                cx(*x),
                                cy(*y)
                            );
                            pen = true;
                        } else {
                            pen = false;
                        }
                    }
                    if !d.is_empty() {
                        let _ = write!(
                            o,
                            "<path class=\"series\" d=\"{d}\" fill=\"none\" stroke=\"{}\" \
                             stroke-width=\"{}\"{} stroke-linejoin=\"round\"/>",
                            stroke.colour,
                            stroke.width,
                            dash_attr(stroke)
                        );
                    }
                }
                Layer::Points {
                    points,
                    colour,
                    marker,
                    ..
                } => {
                    o.push_str("<g class=\"points\">");
                    for (x, y) in points {
                        if x.is_finite() && y.is_finite() {
                            marker_svg(&mut o, *marker, cx(*x), cy(*y), colour);
                        }
                    }
                    o.push_str("</g>");
                }
                Layer::HLine { y, stroke, .. } if y.is_finite() => {
                    let y = ys(*y);
                    if (top..=top + ph).contains(&y) {
                        let _ = write!(
                            o,
                            "<line class=\"ref\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" \
                             y2=\"{y:.1}\" stroke=\"{}\" stroke-width=\"{}\"{}/>",
                            LEFT + pw,
                            stroke.colour,
                            stroke.width,
                            dash_attr(stroke)
                        );
                    }
                }
                Layer::VLine { x, stroke, .. } if x.is_finite() => {
                    let x = xs(*x);
                    if (LEFT..=LEFT + pw).contains(&x) {
                        let _ = write!(
                            o,
                            "<line class=\"ref\" x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" \
                             y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"{}\"{}/>",
                            top + ph,
                            stroke.colour,
                            stroke.width,
                            dash_attr(stroke)
                        );
                    }
                }
                _ => {}
            }
        }
        // Axis titles.
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#111\">{}</text>",
            LEFT + pw / 2.0,
            h - 8.0,
            escape(&self.x.title)
        );
        let _ = write!(
            o,
            "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\" \
             fill=\"#111\">{}</text>",
            top + ph / 2.0,
            escape(&self.y.title)
        );
        // Legend: a sample of each layer's stroke, fill or marker, then its label.
        for (l, text, x, row) in legend {
            let y = 12.0 + row as f64 * 18.0;
            match l {
                Layer::Line { stroke, .. }
                | Layer::HLine { stroke, .. }
                | Layer::VLine { stroke, .. } => {
                    let _ = write!(
                        o,
                        "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{}\" \
                         stroke-width=\"{}\"{}/>",
                        x + 24.0,
                        stroke.colour,
                        stroke.width,
                        dash_attr(stroke)
                    );
                }
                Layer::Band { colour, .. } | Layer::Span { colour, .. } => {
                    let _ = write!(
                        o,
                        "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"24\" height=\"10\" fill=\"{colour}\" \
                         fill-opacity=\"0.3\" stroke=\"{colour}\"/>",
                        y - 5.0
                    );
                }
                Layer::Points { colour, marker, .. } => {
                    marker_svg(&mut o, *marker, x + 12.0, y, colour);
                }
            }
            let _ = write!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#111\">{}</text>",
                x + 30.0,
                y + 4.0,
                escape(text)
            );
        }
        o.push_str("</svg>");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_by_hand() {
        // [0, 97], 5 intervals: raw step 19.4 → magnitude 10 → first of 10, 20, 50 ≥ 19.4 is 20;
        // ticks 0, 20, 40, 60, 80, 100 (the last covers 97).
        assert_eq!(
            nice_ticks(0.0, 97.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        // [0.13, 0.61]: raw .096 → magnitude .01 → step .1 (≥ .096); from floor(.13/.1)·.1 = .1.
        assert_eq!(
            nice_ticks(0.13, 0.61, 5),
            vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
        );
        // A flat range is padded by 10%: [5, 5] → [4.5, 5.5], raw .2 → step .2.
        let t = nice_ticks(5.0, 5.0, 5);
        assert!(
            t.first().unwrap() <= &4.5 && t.last().unwrap() >= &5.5,
            "{t:?}"
        );
    }

    #[test]
    fn a_chart_maps_data_to_the_plot_and_escapes_text() {
        let c = Chart {
            title: "A <test> & \"chart\"".into(),
            width: 400.0,
            height: 200.0,
            x: Axis::exact("day", 0.0, 10.0, |v| format!("{v}")),
            y: Axis::exact("value", 0.0, 1.0, |v| format!("{v}")),
            layers: vec![
                Layer::Line {
                    points: vec![(0.0, 0.0), (10.0, 1.0), (f64::NAN, 0.5)],
                    stroke: Stroke::solid(palette::BLUE),
                    label: Some("fit".into()),
                },
                Layer::Points {
                    points: vec![(5.0, 0.5)],
                    colour: palette::ORANGE,
                    marker: Marker::Circle,
                    label: None,
                },
            ],
        };
        let s = c.render();
        // One legend row → top = 10 + 18 = 28; plot height = 200 − 28 − 46 = 126; plot width =
        // 400 − 68 − 14 = 318. (0, 0) → (68, 154); (10, 1) → (386, 28); (5, .5) → (227, 91).
        assert!(s.contains("d=\"M68.0 154.0L386.0 28.0\""), "{s}");
        assert!(s.contains("<circle cx=\"227.0\" cy=\"91.0\""), "{s}");
        assert!(s.contains("A &lt;test&gt; &amp; &quot;chart&quot;"));
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
    }
}
