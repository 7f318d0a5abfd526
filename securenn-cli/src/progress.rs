//! The progress bars of long runs, on stderr: a training run's steps, epoch, live loss and
//! time left, and private inference's images. Hidden with `--json`. When stderr is not a
//! terminal (a log file), a plain line every 30 seconds replaces the bar; the end of each
//! epoch is always a line of its own.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use securenn_dsl::nn::train::StepReport;

/// A bar over `len` units drawn with `template` on stderr, or hidden unless `visible`.
fn bar(visible: bool, len: usize, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(len as u64),
        if visible {
            ProgressDrawTarget::stderr_with_hz(4)
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

/// The bar of one training run.
#[derive(Debug)]
pub(crate) struct StepProgress {
    bar: ProgressBar,
    visible: bool,
    /// What the examples are called: images, rows.
    examples: &'static str,
    /// When the last plain line was printed, off a terminal.
    last_line: Instant,
}

/// How often a plain progress line is printed off a terminal.
const LINE_EVERY: Duration = Duration::from_secs(30);

impl StepProgress {
    /// A bar over `steps` steps, drawn only if `visible`; the test accuracy is reported on
    /// `examples` (images, rows).
    pub(crate) fn new(visible: bool, steps: usize, examples: &'static str) -> Self {
        let bar = bar(
            visible,
            steps,
            "  {bar:32.cyan/blue} {pos}/{len} steps  {msg}  {elapsed_precise} elapsed, {eta} left",
        );
        StepProgress {
            bar,
            visible,
            examples,
            last_line: Instant::now(),
        }
    }

    /// Records a finished step; at the end of an epoch prints the test accuracy measured
    /// on `test_images` images.
    pub(crate) fn step(&mut self, step: &StepReport, test_images: usize) {
        self.bar.set_position(step.iteration as u64);
        let seconds_per_step = step.elapsed.as_secs_f64() / step.iteration.max(1) as f64;
        let message = match step.loss {
            Some(loss) => format!(
                "epoch {}  loss {loss:.4}  {seconds_per_step:.3} s/step",
                step.epoch
            ),
            None => format!("epoch {}  {seconds_per_step:.3} s/step", step.epoch),
        };
        if self.visible && self.bar.is_hidden() && self.last_line.elapsed() >= LINE_EVERY {
            self.last_line = Instant::now();
            let left = seconds_per_step * (step.iterations - step.iteration) as f64;
            say!(
                "  step {}/{}  {message}  {left:.0} s left",
                step.iteration,
                step.iterations
            );
        }
        self.bar.set_message(message);
        if let (Some(accuracy), true) = (step.accuracy, self.visible) {
            let line = format!(
                "  epoch {} done after {} steps: accuracy {:.2}% on the first {test_images} test {}",
                step.epoch,
                step.iteration,
                accuracy * 100.0,
                self.examples
            );
            // Not on a terminal the bar is hidden, and so is what it prints.
            if self.bar.is_hidden() {
                say!("{line}");
            } else {
                self.bar.println(line);
            }
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The bar of private inference: images classified.
#[derive(Debug)]
pub(crate) struct ImageProgress {
    bar: ProgressBar,
    visible: bool,
    examples: &'static str,
    started: Instant,
    last_line: Instant,
}

impl ImageProgress {
    /// A bar over `images` examples (called `examples`: images, rows), drawn only if
    /// `visible`.
    pub(crate) fn new(visible: bool, images: usize, examples: &'static str) -> Self {
        let template = format!(
            "  {{bar:32.cyan/blue}} {{pos}}/{{len}} {examples}  {{elapsed_precise}} elapsed, {{eta}} left"
        );
        let bar = bar(visible, images, &template);
        ImageProgress {
            bar,
            visible,
            examples,
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    /// Records that `done` images are classified.
    pub(crate) fn done(&mut self, done: usize) {
        self.bar.set_position(done as u64);
        let total = self.bar.length().unwrap_or(0);
        if self.visible && self.bar.is_hidden() && self.last_line.elapsed() >= LINE_EVERY {
            self.last_line = Instant::now();
            let per_image = self.started.elapsed().as_secs_f64() / done.max(1) as f64;
            let left = per_image * total.saturating_sub(done as u64) as f64;
            say!("  {done}/{total} {}  {left:.0} s left", self.examples);
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
