//! One party of private training: its data or its initial weights, the training steps,
//! checkpoints, the saved shares or model, and the final evaluation.

use super::*;

/// The weights training starts from: `--init`'s model, or fresh ones from `seed`.
pub(super) fn starting_weights(
    args: &Args,
    spec: &NetworkSpec,
    seed: u64,
) -> securenn_dsl::Result<Vec<Option<LayerWeights>>> {
    match &args.init {
        Some(path) => load_model(path, spec),
        None => Ok(initial_weights(spec, seed)),
    }
}

/// The seed of P1's initial weights in private training: drawn from P1's private key, so
/// that no other party can compute them (the public `--seed` orders the examples).
pub(super) fn private_weight_seed(session: &Session) -> u64 {
    let mut prg = session.scope("initial weights", 0).private_prg(0);
    let mut bytes = [0u8; 8];
    prg.fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

/// One party's side of private training: P0 takes the data set, `loaded` (read before the
/// session started, checked against the public `sizes`), P1 makes the initial weights (or
/// each party loads its checkpoint), the three train, checkpoint, save, and evaluate.
/// `job` is the job this party stated.
pub(super) async fn train_party(
    session: &Session,
    args: &Args,
    settings: &TrainSettings,
    sizes: Sizes,
    loaded: Option<&Splits>,
    job: &Job,
) -> securenn_dsl::Result<PartyReport> {
    let role = session.role();
    let quiet = args.json;
    let run = run_options(settings);
    let data = match role {
        Role::P0 => loaded.cloned(),
        _ => None,
    };
    let test_images = args.test_images.min(sizes.test);
    let (train_set, test_set) = data.map(|d| (d.train, d.test)).unzip();
    let missing = securenn_dsl::Error::Internal("the data owner holds no data");
    let train_data = Private::<P0, _>::try_new(role, || train_set.ok_or(missing.clone()))?;
    let test_data = Private::<P0, _>::try_new(role, || test_set.ok_or(missing))?;
    // P1's fresh weights, unless resuming (`Start::Fresh` borrows them).
    let fresh_weights = match &args.resume {
        None => Some(Private::<P1, _>::try_new(role, || {
            starting_weights(args, &settings.spec, private_weight_seed(session))
        })?),
        Some(_) => None,
    };
    let (start, model_id, first_step) = match (fresh_weights.as_ref(), &args.resume) {
        (Some(owned), _) => (
            Start::Fresh(owned),
            shared_model_id(session).unwrap_or_default(),
            0,
        ),
        (None, Some(dir)) => {
            let (step, id) = resume_point(session, job)?;
            let network = Checkpoints::in_dir(dir).load(
                &settings.spec,
                settings.config,
                role,
                step,
                &id,
                &run,
            )?;
            if role == Role::P0 && !quiet {
                say!("  resuming from the checkpoint after step {step}");
            }
            (
                Start::Resume {
                    network,
                    iteration: step,
                },
                id,
                step,
            )
        }
        (None, None) => return Err(securenn_dsl::Error::Internal("no start for training")),
    };
    let (examples, _) = examples_noun(&settings.spec);
    let mut progress =
        StepProgress::new(role == Role::P0 && !quiet, settings.iterations(), examples);
    let mut curve = Vec::new();
    let mut memory_mb = Vec::new();
    let during = Some((&test_data, EPOCH_TEST_IMAGES.min(test_images)));
    let checkpoints = args.checkpoint_every.zip(args.save_dir());
    let training = Instant::now();
    let mut network = train(
        session,
        settings,
        start,
        &train_data,
        during,
        |step, network| {
            progress.step(step, EPOCH_TEST_IMAGES.min(test_images));
            curve.push(CurvePoint::from(step));
            if step.iteration % MEMORY_EVERY == 0
                && let Some(resident) = resident_mb()
            {
                memory_mb.push((step.iteration, resident));
            }
            match checkpoints {
                Some((every, dir)) if step.iteration % every == 0 => {
                    Checkpoints::in_dir(dir).write(network, role, step.iteration, &model_id, &run)
                }
                _ => Ok(()),
            }
        },
    )
    .await?;
    progress.finish();
    let train_seconds = training.elapsed().as_secs_f64();
    let costs = network.costs().to_vec();
    let stats = session.stats();
    let saved = save(session, &network, args, &model_id, settings).await?;
    let evaluation = if test_images > 0 {
        if role == Role::P0 && !quiet {
            say!("  evaluating on {test_images} test {examples}");
        }
        evaluate(session, &mut network, &test_data, test_images, 128)
            .await?
            .into_inner()
            .map(|e| (e.images, e.right))
    } else {
        None
    };
    Ok(PartyReport {
        role,
        evaluation,
        costs,
        stats,
        train_seconds,
        curve: if role == Role::P0 { curve } else { Vec::new() },
        saved,
        first_step,
        memory_mb,
        peak_memory_mb: peak_resident_mb(),
    })
}

/// Saves this party's shares, and the model at the party it is revealed to.
pub(super) async fn save(
    session: &Session,
    network: &PrivateNetwork,
    args: &Args,
    model_id: &str,
    settings: &TrainSettings,
) -> securenn_dsl::Result<Vec<PathBuf>> {
    let steps = settings.iterations();
    let Some(dir) = args.save_dir() else {
        return Ok(Vec::new());
    };
    let role = session.role();
    let mut saved = Vec::new();
    if let Some(shares) = network.shares() {
        create_dir(dir)?;
        let path = dir.join(shares_file(role));
        let about = ShareInfo {
            model_id: model_id.to_owned(),
            iteration: steps as u64,
            run: run_options(settings),
        };
        save_shares(&path, network.spec(), role, &shares, &about)?;
        saved.push(path);
    }
    let revealed = match args.reveal_to {
        None => None,
        Some(Receiver::P0) => network.reveal_weights::<P0>(session).await?.into_inner(),
        Some(Receiver::P1) => network.reveal_weights::<P1>(session).await?.into_inner(),
    };
    if let Some(model) = revealed {
        create_dir(dir)?;
        let path = dir.join(MODEL_FILE);
        save_model(&path, network.spec(), &model)?;
        saved.push(path);
    }
    Ok(saved)
}

/// The data set, at P0 of separate processes or of a cluster: read and checked against the
/// public sizes before the session starts. Nothing at the other parties.
pub(super) fn owned_data(
    args: &Args,
    settings: &TrainSettings,
    sizes: Sizes,
    role: Role,
) -> Result<Option<Splits>, CliError> {
    match role {
        Role::P0 => Ok(Some(args.data.load_agreed(&settings.spec, sizes)?)),
        _ => Ok(None),
    }
}
