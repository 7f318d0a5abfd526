//! `--plaintext`: the twin trains in the clear.

use super::*;

/// `--plaintext`: the twin trains in the clear, in 13-bit fixed point.
pub(super) fn run_plaintext(
    args: &Args,
    settings: &TrainSettings,
    data: &Splits,
) -> Result<bool, CliError> {
    let test_images = args.test_images.min(data.test.len());
    if !args.json {
        say!(
            "training network {} ({} parameters) in the clear (the plaintext twin, 13-bit fixed point) for {} steps of {} {}",
            settings.spec.name(),
            settings.spec.parameters(),
            settings.iterations(),
            settings.config.batch(),
            examples_noun(&settings.spec).0
        );
    }
    let started = Instant::now();
    let weights = starting_weights(args, &settings.spec, args.seed)?;
    let mut progress = StepProgress::new(
        !args.json,
        settings.iterations(),
        examples_noun(&settings.spec).0,
    );
    let mut curve = Vec::new();
    let epoch_test = EPOCH_TEST_IMAGES.min(test_images);
    let mut twin = train_plaintext::<Z64>(
        settings,
        &weights,
        &data.train,
        Some((&data.test, epoch_test)),
        |step| {
            progress.step(step, epoch_test);
            curve.push(CurvePoint::from(step));
        },
    )?;
    progress.finish();
    let train_seconds = started.elapsed().as_secs_f64();
    let evaluation = if test_images > 0 {
        let predictions = twin_predictions(&mut twin, &data.test, test_images, 500)?;
        Some((test_images, right_answers(&predictions, data.test.labels())))
    } else {
        None
    };
    if let Some(dir) = &args.save {
        create_dir(dir)?;
        let path = dir.join(MODEL_FILE);
        save_model(&path, &settings.spec, &twin.weights())?;
        if !args.json {
            say!("saved {}", path.display());
        }
    }
    if let Some(path) = &args.plot {
        write_training_curve(path, settings.spec.name(), &curve)?;
    }
    let summary = Summary::new(
        settings,
        started.elapsed().as_secs_f64(),
        train_seconds,
        0,
        evaluation,
    );
    print_summary(args, &settings.spec, &summary, evaluation.map(|(n, _)| n))
}
