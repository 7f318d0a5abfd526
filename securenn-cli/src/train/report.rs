//! What the command prints after training: the per-layer table, the summary and the plots.

use super::*;

/// Prints the table, the summary and the plot from the three parties' reports.
pub(super) fn finish(
    args: &Args,
    settings: &TrainSettings,
    reports: &[PartyReport; 3],
    seconds: f64,
) -> Result<bool, CliError> {
    let cluster =
        ClusterStats::from_parties(&[reports[0].stats, reports[1].stats, reports[2].stats]);
    let iterations = settings.iterations();
    let train_seconds = reports[0].train_seconds;
    let per_step = train_seconds / iterations.max(1) as f64;
    if !args.json {
        print_layer_table(&settings.spec, reports);
        say!(
            "trained in {train_seconds:.1} s ({per_step:.3} s per step, with the per-epoch checks), {:.1} MB sent in all; {seconds:.1} s with the final evaluation",
            cluster.total_bytes() as f64 / 1e6
        );
        for path in reports.iter().flat_map(|r| &r.saved) {
            say!("saved {}", path.display());
        }
    }
    if let Some(path) = &args.plot {
        write_training_curve(path, settings.spec.name(), &reports[0].curve)?;
        if !args.json {
            say!("training curve drawn to {}", path.display());
        }
    }
    if let Some(path) = &args.cost_chart {
        let steps = (iterations - reports[0].first_step).max(1) as f64;
        let per_step: Vec<LayerBar> = layer_bars(&settings.spec, reports)
            .into_iter()
            .map(|bar| LayerBar {
                megabytes: (bar.megabytes.0 / steps, bar.megabytes.1 / steps),
                milliseconds: (bar.milliseconds.0 / steps, bar.milliseconds.1 / steps),
                ..bar
            })
            .collect();
        write_cost_chart(path, settings.spec.name(), &per_step)?;
        if !args.json {
            say!("cost per layer drawn to {}", path.display());
        }
    }
    let mut summary = Summary::new(
        settings,
        seconds,
        train_seconds,
        cluster.total_bytes(),
        reports[0].evaluation,
    );
    summary.first_step = reports[0].first_step;
    summary.memory_mb.clone_from(&reports[0].memory_mb);
    summary.peak_memory_mb = reports[0].peak_memory_mb;
    if !args.json
        && let Some(peak) = summary.peak_memory_mb
    {
        say!("peak resident memory of P0's process: {peak:.0} MB");
    }
    print_summary(
        args,
        &settings.spec,
        &summary,
        reports[0].evaluation.map(|(n, _)| n),
    )
}

pub(super) fn print_summary(
    args: &Args,
    spec: &NetworkSpec,
    summary: &Summary,
    images: Option<usize>,
) -> Result<bool, CliError> {
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(summary)?)?;
    } else if let (Some(accuracy), Some(images)) = (summary.test_accuracy, images) {
        writeln!(
            out,
            "network {}: test accuracy {:.2}% on {images} {}",
            summary.network,
            accuracy * 100.0,
            examples_noun(spec).0,
        )?;
    }
    Ok(true)
}

/// Each layer's cost over the whole run: megabytes summed over the three parties, times
/// at P0, forward and backward.
pub(super) fn layer_bars(spec: &NetworkSpec, reports: &[PartyReport; 3]) -> Vec<LayerBar> {
    spec.layers()
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let megabytes = |backward: bool| -> f64 {
                let bytes: u64 = reports
                    .iter()
                    .map(|r| {
                        let (f, b) = r.costs.get(i).copied().unwrap_or_default();
                        if backward { b.bytes_sent } else { f.bytes_sent }
                    })
                    .sum();
                bytes as f64 / 1e6
            };
            let (f, b) = reports[0].costs.get(i).copied().unwrap_or_default();
            LayerBar {
                name: layer.to_string(),
                megabytes: (megabytes(false), megabytes(true)),
                milliseconds: (f.time.as_secs_f64() * 1e3, b.time.as_secs_f64() * 1e3),
            }
        })
        .collect()
}

/// Time, bytes and rounds per layer, forward and backward: times at P0, bytes summed over
/// the three parties.
pub(super) fn print_layer_table(spec: &NetworkSpec, reports: &[PartyReport; 3]) {
    say!(
        "{:<40} {:>10} {:>12} {:>8} {:>10} {:>12} {:>8}",
        "layer",
        "fwd s",
        "fwd MB",
        "rounds",
        "bwd s",
        "bwd MB",
        "rounds"
    );
    for (i, bar) in layer_bars(spec, reports).iter().enumerate() {
        let (f, b) = reports[0].costs.get(i).copied().unwrap_or_default();
        say!(
            "{:<40} {:>10.2} {:>12.1} {:>8} {:>10.2} {:>12.1} {:>8}",
            bar.name,
            bar.milliseconds.0 / 1e3,
            bar.megabytes.0,
            f.rounds,
            bar.milliseconds.1 / 1e3,
            bar.megabytes.1,
            b.rounds
        );
    }
}
