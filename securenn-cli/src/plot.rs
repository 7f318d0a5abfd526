//! The training curve as a self-contained SVG: the loss after every step (left axis) and
//! the test accuracy after every epoch (right axis).

use std::fmt::Write as _;
use std::path::Path;

use securenn_dsl::nn::train::StepReport;
use serde::{Deserialize, Serialize};

use crate::processes::CliError;

/// One step of the curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct CurvePoint {
    /// Steps done, from 1.
    pub(crate) iteration: usize,
    /// The batch's loss, where known.
    pub(crate) loss: Option<f64>,
    /// The test accuracy, at the end of an epoch.
    pub(crate) accuracy: Option<f64>,
}

impl From<&StepReport> for CurvePoint {
    fn from(step: &StepReport) -> Self {
        CurvePoint {
            iteration: step.iteration,
            loss: step.loss.filter(|l| l.is_finite()),
            accuracy: step.accuracy.filter(|a| a.is_finite()),
        }
    }
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 70.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// Draws `points` of a training run of `network` to `path`.
///
/// # Errors
///
/// If the file cannot be written.
pub(crate) fn write_training_curve(
    path: &Path,
    network: &str,
    points: &[CurvePoint],
) -> Result<(), CliError> {
    write_svg(path, &svg(network, points))
}

/// Writes an SVG text to `path`.
fn write_svg(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}

/// The SVG text of the curve.
pub(crate) fn svg(network: &str, points: &[CurvePoint]) -> String {
    let steps = points.iter().map(|p| p.iteration).max().unwrap_or(1).max(1) as f64;
    let losses: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| p.loss.map(|l| (p.iteration as f64, l)))
        .collect();
    let accuracies: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| p.accuracy.map(|a| (p.iteration as f64, a * 100.0)))
        .collect();
    let max_loss = losses.iter().map(|&(_, l)| l).fold(0.0, f64::max).max(1e-9);
    let low_accuracy = accuracies
        .iter()
        .map(|&(_, a)| a)
        .fold(100.0, f64::min)
        .min(90.0)
        .floor();
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |step: f64| LEFT + step / steps * plot_w;
    let y_loss = |loss: f64| TOP + plot_h * (1.0 - loss / max_loss);
    let y_accuracy = |a: f64| TOP + plot_h * (1.0 - (a - low_accuracy) / (100.0 - low_accuracy));

    let mut out = open_svg(HEIGHT);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">Network {network}: private training on MNIST</text>"#,
        WIDTH / 2.0
    );
    // Axes and grid.
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>"##
    );
    for i in 0..=4 {
        let fraction = f64::from(i) / 4.0;
        let y = TOP + plot_h * (1.0 - fraction);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/>"##,
            LEFT + plot_w
        );
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{:.1}" text-anchor="end" fill="#1f77b4">{:.3}</text>"##,
            LEFT - 6.0,
            y + 4.0,
            max_loss * fraction
        );
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{:.1}" fill="#d62728">{:.1}%</text>"##,
            LEFT + plot_w + 6.0,
            y + 4.0,
            low_accuracy + (100.0 - low_accuracy) * fraction
        );
        let step = steps * fraction;
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{step:.0}</text>"#,
            x(step),
            TOP + plot_h + 18.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">training step (batch)</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 10.0
    );
    let _ = writeln!(
        out,
        r##"<text x="16" y="{}" fill="#1f77b4" transform="rotate(-90 16 {})" text-anchor="middle">loss</text>"##,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    let _ = writeln!(
        out,
        r##"<text x="{x}" y="{y}" fill="#d62728" transform="rotate(90 {x} {y})" text-anchor="middle">test accuracy</text>"##,
        x = WIDTH - 14.0,
        y = TOP + plot_h / 2.0
    );
    // The loss, one vertex per step.
    if !losses.is_empty() {
        let vertices: Vec<String> = losses
            .iter()
            .map(|&(s, l)| format!("{:.1},{:.1}", x(s), y_loss(l)))
            .collect();
        let _ = writeln!(
            out,
            r##"<polyline fill="none" stroke="#1f77b4" stroke-width="1" points="{}"/>"##,
            vertices.join(" ")
        );
    }
    // The accuracy at the end of each epoch.
    if !accuracies.is_empty() {
        let vertices: Vec<String> = accuracies
            .iter()
            .map(|&(s, a)| format!("{:.1},{:.1}", x(s), y_accuracy(a)))
            .collect();
        let _ = writeln!(
            out,
            r##"<polyline fill="none" stroke="#d62728" stroke-width="2" points="{}"/>"##,
            vertices.join(" ")
        );
        for &(s, a) in &accuracies {
            let _ = writeln!(
                out,
                r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#d62728"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#d62728">{a:.2}%</text>"##,
                x(s),
                y_accuracy(a),
                x(s),
                y_accuracy(a) - 8.0
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_has_one_vertex_per_loss_and_a_marker_per_epoch() {
        let points: Vec<CurvePoint> = (1..=10)
            .map(|i| CurvePoint {
                iteration: i,
                loss: Some(1.0 / i as f64),
                accuracy: (i % 5 == 0).then_some(0.9 + i as f64 / 100.0),
            })
            .collect();
        let text = svg("A", &points);
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
        let loss_line = text
            .lines()
            .find(|l| l.contains(r##"stroke="#1f77b4" stroke-width="1""##))
            .unwrap_or_default();
        assert_eq!(loss_line.matches(',').count(), 10);
        assert_eq!(text.matches("<circle").count(), 2);
        assert!(text.contains("95.00%") && text.contains("100.00%"));
    }
}

/// One layer's average cost per training step, for the cost chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LayerBar {
    /// The layer, as the network's spec names it.
    pub(crate) name: String,
    /// Megabytes sent by the three parties, forward and backward.
    pub(crate) megabytes: (f64, f64),
    /// Milliseconds at P0, forward and backward.
    pub(crate) milliseconds: (f64, f64),
}

/// Draws the per-layer cost of a training step of `network` to `path`.
///
/// # Errors
///
/// If the file cannot be written.
pub(crate) fn write_cost_chart(
    path: &Path,
    network: &str,
    bars: &[LayerBar],
) -> Result<(), CliError> {
    write_svg(path, &cost_svg(network, bars))
}

/// The SVG text of the cost chart: per layer, a forward and a backward bar of megabytes,
/// each labelled with its megabytes and milliseconds.
pub(crate) fn cost_svg(network: &str, bars: &[LayerBar]) -> String {
    const NAME_WIDTH: f64 = 250.0;
    const ROW: f64 = 44.0;
    const BAR: f64 = 16.0;
    let height = TOP + BOTTOM + ROW * bars.len().max(1) as f64;
    let plot_w = WIDTH - NAME_WIDTH - 150.0;
    let largest = bars
        .iter()
        .map(|b| b.megabytes.0.max(b.megabytes.1))
        .fold(0.0, f64::max)
        .max(1e-9);
    let mut out = open_svg(height);
    let _ = writeln!(
        out,
        r#"<title>Network {} in MPC: cost of one training step, per layer</title>"#,
        escape(network)
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="14">Network {}: one training step, per layer (MB sent by the three parties; ms at P0)</text>"#,
        WIDTH / 2.0,
        escape(network)
    );
    for (i, bar) in bars.iter().enumerate() {
        let top = TOP + ROW * i as f64;
        let _ = writeln!(
            out,
            r#"<text x="8" y="{:.1}">{}</text>"#,
            top + BAR + 4.0,
            escape(&bar.name)
        );
        for (k, (megabytes, milliseconds, colour, pass)) in [
            (bar.megabytes.0, bar.milliseconds.0, "#1f77b4", "forward"),
            (bar.megabytes.1, bar.milliseconds.1, "#ff7f0e", "backward"),
        ]
        .into_iter()
        .enumerate()
        {
            let y = top + BAR * k as f64 + 2.0 * k as f64;
            let w = (megabytes / largest * plot_w).max(1.0);
            let _ = writeln!(
                out,
                r#"<rect x="{NAME_WIDTH}" y="{y:.1}" width="{w:.1}" height="{BAR}" fill="{colour}"><title>{pass}</title></rect>"#
            );
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}">{megabytes:.2} MB, {milliseconds:.1} ms</text>"#,
                NAME_WIDTH + w + 6.0,
                y + BAR - 4.0
            );
        }
    }
    let legend = height - BOTTOM + 28.0;
    let _ = writeln!(
        out,
        r##"<rect x="{NAME_WIDTH}" y="{:.1}" width="12" height="12" fill="#1f77b4"/><text x="{:.1}" y="{legend:.1}">forward</text><rect x="{:.1}" y="{:.1}" width="12" height="12" fill="#ff7f0e"/><text x="{:.1}" y="{legend:.1}">backward</text>"##,
        legend - 10.0,
        NAME_WIDTH + 18.0,
        NAME_WIDTH + 100.0,
        legend - 10.0,
        NAME_WIDTH + 118.0
    );
    out.push_str("</svg>\n");
    out
}

/// One point of the serving curve: concurrent clients, queries per second, p99 latency (ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ServePoint {
    /// Concurrent clients.
    pub(crate) clients: usize,
    /// Queries answered per second.
    pub(crate) queries_per_second: f64,
    /// The 99th percentile of the latency, in milliseconds.
    pub(crate) p99_ms: f64,
}

/// Draws the serving curve of `network` to `path`.
///
/// # Errors
///
/// If the file cannot be written.
pub(crate) fn write_serve_curve(
    path: &Path,
    network: &str,
    points: &[ServePoint],
) -> Result<(), CliError> {
    write_svg(path, &serve_svg(network, points))
}

/// The SVG text of the serving curve: throughput (left axis) and p99 latency (right
/// axis) against the number of concurrent clients, on a logarithmic axis.
pub(crate) fn serve_svg(network: &str, points: &[ServePoint]) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let log = |clients: usize| (clients.max(1) as f64).log2();
    let (low, high) = points.iter().fold((f64::MAX, 0.0_f64), |(lo, hi), p| {
        (lo.min(log(p.clients)), hi.max(log(p.clients)))
    });
    let span = (high - low).max(1.0);
    let top_qps = nice_top(
        points
            .iter()
            .map(|p| p.queries_per_second)
            .fold(0.0, f64::max),
    );
    let top_ms = nice_top(points.iter().map(|p| p.p99_ms).fold(0.0, f64::max));
    let x = |clients: usize| LEFT + (log(clients) - low.min(high)) / span * plot_w;
    let y = |value: f64, top: f64| TOP + plot_h * (1.0 - value / top);

    let mut out = open_svg(HEIGHT);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">Network {}: private predictions served, by concurrent clients</text>"#,
        WIDTH / 2.0,
        escape(network)
    );
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>"##
    );
    for i in 0..=4 {
        let fraction = f64::from(i) / 4.0;
        let at = TOP + plot_h * (1.0 - fraction);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{at:.1}" y2="{at:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end" fill="#1f77b4">{:.0}</text><text x="{}" y="{:.1}" fill="#d62728">{:.0}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            at + 4.0,
            top_qps * fraction,
            LEFT + plot_w + 6.0,
            at + 4.0,
            top_ms * fraction
        );
    }
    for point in points {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x(point.clients),
            TOP + plot_h + 18.0,
            point.clients
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" text-anchor="middle">concurrent clients</text><text x="16" y="{mid}" fill="#1f77b4" transform="rotate(-90 16 {mid})" text-anchor="middle">queries per second</text><text x="{right}" y="{mid}" fill="#d62728" transform="rotate(90 {right} {mid})" text-anchor="middle">p99 latency (ms)</text>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 10.0,
        mid = TOP + plot_h / 2.0,
        right = WIDTH - 14.0
    );
    for (colour, value, top) in [
        (
            "#1f77b4",
            (|p: &ServePoint| p.queries_per_second) as fn(&ServePoint) -> f64,
            top_qps,
        ),
        ("#d62728", |p: &ServePoint| p.p99_ms, top_ms),
    ] {
        let vertices: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.clients), y(value(p), top)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            vertices.join(" ")
        );
        for p in points {
            let _ = writeln!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{colour}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{colour}">{:.0}</text>"#,
                x(p.clients),
                y(value(p), top),
                x(p.clients),
                y(value(p), top) - 8.0,
                value(p)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// The smallest of 1, 2 or 5 times a power of ten at or above `largest`: an axis's top.
fn nice_top(largest: f64) -> f64 {
    if !(largest.is_finite() && largest > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(largest.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&top| top >= largest)
        .unwrap_or(10.0 * power)
}

#[cfg(test)]
mod serve_tests {
    use super::*;

    #[test]
    fn the_serving_curve_has_a_point_per_run_on_each_line() {
        let points: Vec<ServePoint> = [1, 4, 16, 64, 256]
            .into_iter()
            .map(|clients| ServePoint {
                clients,
                queries_per_second: 100.0 * clients as f64,
                p99_ms: 3.0 * clients as f64,
            })
            .collect();
        let text = serve_svg("A", &points);
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
        assert_eq!(text.matches("<circle").count(), 10);
        assert_eq!(text.matches("<polyline").count(), 2);
        // Throughput 25,600 tops out at 50,000; p99 768 ms at 1,000.
        assert!(
            text.contains(">50000<") && text.contains(">1000<"),
            "{text}"
        );
        assert_eq!(nice_top(0.3), 0.5);
        assert_eq!(nice_top(1385.0), 2000.0);
    }
}

/// The opening of an SVG of the plots' width and `height`, on a white background.
fn open_svg(height: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="{WIDTH}" height="{height}" fill="white"/>"#
    );
    out
}

/// `text` with XML's special characters escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
