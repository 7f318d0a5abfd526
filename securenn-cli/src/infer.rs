//! `securenn infer`: private classification of MNIST test images by a trained network, with
//! its accuracy and its agreement with the plaintext twin.
//!
//! P0 owns the images and learns only the predicted classes; the model is either a
//! plaintext model owned by P1, who secret-shares it (`--weights model.safetensors`), or a
//! private model already held as shares by P0 and P1 (`--weights DIR` with
//! `party0.safetensors` and `party1.safetensors`, as `securenn train --save DIR` leaves
//! them). The twin's predictions, for the agreement, are computed outside the parties by
//! this command, which in the one-machine modes holds every file anyway.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use securenn_dsl::net::{ClusterStats, Stats};
use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::config::{LayerWeights, TrainConfig};
use securenn_dsl::nn::data::Dataset;
use securenn_dsl::nn::mnist::TEST_LEN;
use securenn_dsl::nn::onnx::{ImportOptions, import_file};
use securenn_dsl::nn::private::PrivateNetwork;
use securenn_dsl::nn::train::{evaluate_reporting, twin_predictions};
use securenn_dsl::nn::twin::Number as _;
use securenn_dsl::nn::twin::Twin;
use securenn_dsl::nn::weights::{LayerShares, load_model, load_shares};
use securenn_dsl::party::{P0, P1, Private, Role};
use securenn_dsl::ring::Z64;
use securenn_dsl::session::{Job, Material, Session, run_local_with};
use serde::{Deserialize, Serialize};

use crate::data::{DataArgs, Sizes, examples_noun};
use crate::offline::material_file;
use crate::processes::{
    ChildArgs, CliError, PartyOptions, TransportKind, run_child, run_three_processes,
};
use crate::progress::ImageProgress;
use crate::train::{MODEL_FILE, right_answers, shares_file};

/// Arguments of `securenn infer`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// The network: A, B, C or D (the paper's), or a network file (`.toml`).
    #[arg(long, default_value = "C")]
    network: String,
    /// A plaintext model (`.safetensors`, owned by P1), or a directory holding the parties'
    /// shares (`party0.safetensors`, `party1.safetensors`) or a `model.safetensors`.
    /// Default: the model trained by the plaintext twin in `models/`.
    #[arg(long, value_name = "FILE|DIR")]
    weights: Option<PathBuf>,
    /// A trained ONNX model (owned by P1), imported as `securenn import` does, instead of
    /// `--network` and `--weights`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["network", "weights"])]
    model: Option<PathBuf>,
    /// With `--model`: the input's dimensions without the batch, in the model's own order,
    /// for a model whose file leaves them open (`C,H,W`, `H,W,C` for NHWC input, or `F`).
    #[arg(long, value_name = "DIMS", value_delimiter = ',', requires = "model")]
    input_shape: Option<Vec<usize>>,
    /// How many test examples to classify, from the first (at most the test set's).
    #[arg(long, default_value_t = TEST_LEN)]
    images: usize,
    /// Images per private inference.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Run the online phase on the offline material in this directory (written by
    /// `securenn offline` for this network and batch): one run per full batch, each used
    /// once; a last, smaller batch runs inline.
    #[arg(long, value_name = "DIR")]
    material: Option<PathBuf>,
    /// Where the parties run: three threads here, or three processes on 127.0.0.1 that
    /// talk TLS.
    #[arg(long, value_enum, default_value_t = TransportKind::Local)]
    transport: TransportKind,
    #[command(flatten)]
    data: DataArgs,
    /// Print exactly one JSON object, on the last line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    options: PartyOptions,
    #[command(flatten)]
    child: ChildArgs,
}

impl Args {
    /// The options every party takes.
    pub(crate) fn options(&self) -> &PartyOptions {
        &self.options
    }
}

/// The job party `role` states: what the three must agree on, and at P0 and P1 the
/// identity of the model their shares belong to (the helper holds none, so states none).
fn job(
    args: &Args,
    spec: &NetworkSpec,
    source: &Source,
    sizes: Sizes,
    roles: &[Role],
) -> Result<Job, CliError> {
    let mut job = Job::new()
        .with("command", "infer")
        .with("network", spec.name())
        .with("architecture", spec.digest())
        .with("data", sizes.to_string())
        .with("images", args.images)
        .with("batch", args.batch)
        .with(
            "weights",
            match source {
                Source::Model(_) | Source::Imported(_) => "a model held by P1",
                Source::Shares(_) => "the shares held by P0 and P1",
            },
        );
    if let Some(dir) = &args.material {
        // The parties must hold the material of one dealing, at the same run: each party
        // states its own (a cluster's parties compare them), and one process holding all
        // three files compares them itself.
        let mut stated: Option<String> = None;
        let all = [Role::P0, Role::P1, Role::P2];
        for &role in if roles.len() > 1 { &all[..] } else { roles } {
            let material = Material::load(&material_file(dir, role))?;
            let next = material
                .next_unused()
                .map_or("none left".to_owned(), |run| format!("from run {run}"));
            let this = format!("{}, {next}", material.id());
            match &stated {
                Some(first) if *first != this => {
                    return Err(format!(
                        "the parties' offline materials in {} differ: P0's is {first}, {role}'s {this}",
                        dir.display()
                    )
                    .into());
                }
                _ => stated = Some(this),
            }
        }
        if let Some(stated) = stated {
            job = job.with("offline material", stated);
        }
    }
    for &role in roles {
        if let Some(model) = model_identity(source, spec, role)? {
            job = job.with("model", model);
        }
    }
    Ok(job)
}

/// What party `role` states of the model its shares in `source` belong to (its id and
/// steps), so that P0 and P1 find out before the session whether their shares go together;
/// `None` for a model P1 shares, and at the helper, which holds no shares.
pub(crate) fn model_identity(
    source: &Source,
    spec: &NetworkSpec,
    role: Role,
) -> securenn_dsl::Result<Option<String>> {
    match source {
        Source::Shares(dir) if !role.is_helper() => {
            let (_, about) = load_shares(&dir.join(shares_file(role)), spec, role)?;
            let (id, steps) = (about.model_id, about.iteration);
            Ok(Some(format!("{id} after {steps} steps")))
        }
        _ => Ok(None),
    }
}

/// The job party `role` of a cluster states for `securenn party ... infer`.
pub(crate) fn party_job(args: &Args, role: Role) -> Result<Job, CliError> {
    let (spec, _) = check(args)?;
    job(
        args,
        &spec,
        &party_source(args)?,
        args.data.public_sizes()?,
        &[role],
    )
}

/// The JSON summary.
#[derive(Debug, Serialize)]
struct Summary {
    network: String,
    images: usize,
    batch: usize,
    seconds: f64,
    bytes_total: u64,
    accuracy: f64,
    agreement: Option<f64>,
}

/// What each party brings back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartyReport {
    role: Role,
    /// Seconds of the private inference alone.
    seconds: f64,
    stats: Stats,
    /// At P0: the predicted classes.
    predictions: Option<Vec<usize>>,
    /// At P0: how many of them are right.
    right: Option<usize>,
}

/// Where the model comes from, named alike at every party.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A plaintext model, owned by P1.
    Model(PathBuf),
    /// A model imported from ONNX, owned by P1.
    Imported(ModelWeights),
    /// A directory with P0's and P1's shares.
    Shares(PathBuf),
}

/// The directory of the models trained by the plaintext twin, in the repository.
pub(crate) fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// The import options of `--model`.
fn import_options(args: &Args) -> ImportOptions {
    ImportOptions {
        input_shape: args.input_shape.clone(),
        name: None,
    }
}

/// Where the weights come from: the model `check` imported from `--model`, else
/// `--weights` (or the default model in `models/`).
fn source(
    args: &Args,
    spec: &NetworkSpec,
    imported: Option<ModelWeights>,
) -> Result<Source, CliError> {
    if let Some(weights) = imported {
        return Ok(Source::Imported(weights));
    }
    let path = match &args.weights {
        Some(path) => path.clone(),
        None => {
            let default = models_dir().join(format!("{}.safetensors", spec.name()));
            if !default.is_file() {
                return Err(format!(
                    "no weights given and no model at {}: pass --weights FILE|DIR, or train one with `securenn train --network {} --plaintext --save DIR`",
                    default.display(),
                    spec.name()
                )
                .into());
            }
            default
        }
    };
    if path.is_dir() {
        if path.join(shares_file(Role::P0)).is_file() {
            Ok(Source::Shares(path))
        } else if path.join(MODEL_FILE).is_file() {
            Ok(Source::Model(path.join(MODEL_FILE)))
        } else {
            Err(format!(
                "{}: holds neither the parties' shares ({}, {}) nor a {MODEL_FILE}",
                path.display(),
                shares_file(Role::P0),
                shares_file(Role::P1)
            )
            .into())
        }
    } else if path.is_file() {
        Ok(Source::Model(path))
    } else {
        Err(format!("{}: no such file or directory", path.display()).into())
    }
}

/// The model in the clear, for the twin: the file itself, or the sum of the two parties'
/// shares.
fn plaintext_model(
    source: &Source,
    spec: &NetworkSpec,
) -> securenn_dsl::Result<Vec<Option<LayerWeights>>> {
    match source {
        Source::Model(path) => load_model(path, spec),
        Source::Imported(weights) => Ok(weights.clone()),
        Source::Shares(dir) => {
            let (p0, about0) = load_shares(&dir.join(shares_file(Role::P0)), spec, Role::P0)?;
            let (p1, about1) = load_shares(&dir.join(shares_file(Role::P1)), spec, Role::P1)?;
            if about0 != about1 {
                return Err(securenn_dsl::Error::Weights {
                    path: dir.clone(),
                    problem: format!(
                        "P0's shares are of model {} after {} steps, P1's of model {} after {} steps",
                        about0.model_id, about0.iteration, about1.model_id, about1.iteration
                    ),
                });
            }
            let reconstruct = |a: &[Z64], b: &[Z64]| -> Vec<f64> {
                a.iter().zip(b).map(|(&x, &y)| (x + y).decode()).collect()
            };
            Ok(p0
                .iter()
                .zip(&p1)
                .map(|(a, b)| match (a, b) {
                    (Some(a), Some(b)) => Some(LayerWeights {
                        weights: reconstruct(&a.weights, &b.weights),
                        biases: reconstruct(&a.biases, &b.biases),
                    }),
                    _ => None,
                })
                .collect())
        }
    }
}

/// One party's side: load what this party owns, make the private network, classify. P0
/// takes the test images from `loaded` if the command has read them already.
async fn infer_party(
    session: &Session,
    args: &Args,
    spec: &NetworkSpec,
    source: &Source,
    sizes: Sizes,
    loaded: Option<&Dataset>,
) -> securenn_dsl::Result<PartyReport> {
    let role = session.role();
    let mut network = private_network(session, spec, source).await?;
    // Public: the size of the test set, which only P0 holds (read before the session).
    let images = args.images.min(sizes.test);
    let test = Private::<P0, _>::try_new(role, || {
        loaded.cloned().ok_or(securenn_dsl::Error::Internal(
            "the data owner holds no data",
        ))
    })?;
    session.reset_stats();
    let started = Instant::now();
    let mut progress = ImageProgress::new(
        role == Role::P0 && !args.json,
        images,
        examples_noun(spec).0,
    );
    let material = args
        .material
        .as_ref()
        .map(|dir| Material::load(&material_file(dir, role)))
        .transpose()?;
    let evaluation = evaluate_reporting(
        session,
        &mut network,
        &test,
        images,
        args.batch,
        material.as_ref(),
        |done| progress.done(done),
    )
    .await?
    .into_inner();
    progress.finish();
    Ok(PartyReport {
        role,
        seconds: started.elapsed().as_secs_f64(),
        stats: session.stats(),
        right: evaluation.as_ref().map(|e| e.right),
        predictions: evaluation.map(|e| e.predictions),
    })
}

/// The private network of `source` at this party: P1 shares its model (P1 alone reads
/// the file), or P0 and P1 each read their own shares (the helper reads nothing).
pub(crate) async fn private_network(
    session: &Session,
    spec: &NetworkSpec,
    source: &Source,
) -> securenn_dsl::Result<PrivateNetwork> {
    let role = session.role();
    let config = TrainConfig::default();
    match source {
        Source::Model(path) => {
            let model = Private::<P1, _>::try_new(role, || load_model(path, spec))?;
            PrivateNetwork::share_weights::<P1>(session, spec.clone(), &model, config).await
        }
        Source::Imported(weights) => {
            let model = Private::<P1, _>::new(role, || weights.clone());
            PrivateNetwork::share_weights::<P1>(session, spec.clone(), &model, config).await
        }
        Source::Shares(dir) => {
            let shares: Option<Vec<Option<LayerShares>>> = match role {
                Role::P2 => None,
                _ => Some(load_shares(&dir.join(shares_file(role)), spec, role)?.0),
            };
            PrivateNetwork::from_shares(role, spec.clone(), shares, config)
        }
    }
}

/// One weights entry per layer, `None` for a layer without.
type ModelWeights = Vec<Option<LayerWeights>>;

/// The network, and with `--model` the weights imported along with it (read once).
fn check(args: &Args) -> Result<(NetworkSpec, Option<ModelWeights>), CliError> {
    let (spec, imported) = match &args.model {
        Some(model) => {
            let imported = import_file(model, &import_options(args))?;
            (imported.spec, Some(imported.weights))
        }
        None => (NetworkSpec::resolve(&args.network)?, None),
    };
    // Until the data path takes its shapes from the network, the data is MNIST.
    if args.images == 0 {
        return Err("--images must be at least 1".into());
    }
    if args.batch == 0 || args.batch > 4096 {
        return Err("--batch must be between 1 and 4096".into());
    }
    Ok((spec, imported))
}

/// Prints the summary: one JSON object with `--json`, else a sentence.
fn print_summary(args: &Args, spec: &NetworkSpec, summary: &Summary) -> Result<bool, CliError> {
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(summary)?)?;
        return Ok(true);
    }
    let agreement = summary.agreement.map_or(String::new(), |agreement| {
        format!(
            ", agreement with the plaintext twin {:.2}% ({} of {})",
            agreement * 100.0,
            (agreement * summary.images as f64).round(),
            summary.images
        )
    });
    writeln!(
        out,
        "network {}: {} {} in {:.1} s ({:.1} ms per {}), {:.1} MB; accuracy {:.2}%{agreement}",
        summary.network,
        summary.images,
        examples_noun(spec).0,
        summary.seconds,
        summary.seconds * 1e3 / summary.images.max(1) as f64,
        examples_noun(spec).1,
        summary.bytes_total as f64 / 1e6,
        summary.accuracy * 100.0,
    )?;
    Ok(true)
}

/// Runs `securenn infer`.
pub(crate) fn run(args: &Args) -> Result<bool, CliError> {
    let (spec, imported) = check(args)?;
    if let Some(party) = args.child.party {
        let source = source(args, &spec, imported)?;
        let role = Role::from_index(party).ok_or("--party must be 0, 1 or 2")?;
        let sizes = args.data.public_sizes()?;
        let config = args
            .options
            .config(job(args, &spec, &source, sizes, &[role])?);
        let test = owned_test_set(args, &spec, sizes, role)?;
        run_child(
            &args.child,
            party,
            args.options.insecure,
            config,
            async |session| {
                let test = test.as_ref();
                Ok(infer_party(&session, args, &spec, &source, sizes, test).await?)
            },
        )?;
        return Ok(true);
    }
    // Bad data or weights are clear errors before any party starts.
    let data = args.data.load_for(&spec)?;
    let sizes = Sizes::of(&data);
    let source = source(args, &spec, imported)?;
    let model = plaintext_model(&source, &spec)?;
    let images = args.images.min(data.test.len());
    if !args.json {
        say!(
            "classifying {} test examples privately with network {} in batches of {}, {}",
            images,
            spec.name(),
            args.batch,
            match args.transport {
                TransportKind::Local => "three parties in this process",
                TransportKind::Tcp if args.options.insecure =>
                    "three processes on 127.0.0.1 over plain TCP (--insecure)",
                TransportKind::Tcp => "three processes on 127.0.0.1 over TLS",
            }
        );
    }
    let reports: [PartyReport; 3] = match args.transport {
        TransportKind::Local => {
            let config =
                args.options
                    .config(job(args, &spec, &source, sizes, &[Role::P0, Role::P1])?);
            run_local_with(&config, |session| {
                let (spec, source, test) = (&spec, &source, &data.test);
                async move { infer_party(&session, args, spec, source, sizes, Some(test)).await }
            })?
        }
        TransportKind::Tcp => {
            let mut forwarded: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
            forwarded.extend(args.data.sizes_arguments(sizes).into_iter().map(Into::into));
            run_three_processes(&forwarded, args.options.insecure)?
        }
    };
    let predictions = reports[0]
        .predictions
        .clone()
        .ok_or("P0 reported no predictions")?;
    let mut twin = Twin::<Z64>::new(spec.clone(), &model, TrainConfig::default(), 0)?;
    let expected = twin_predictions(&mut twin, &data.test, images, 500)?;
    let right = right_answers(&predictions, data.test.labels());
    let agreeing = predictions
        .iter()
        .zip(&expected)
        .filter(|(p, e)| p == e)
        .count();
    let cluster =
        ClusterStats::from_parties(&[reports[0].stats, reports[1].stats, reports[2].stats]);
    let summary = Summary {
        network: spec.name().to_owned(),
        images,
        batch: args.batch,
        seconds: reports[0].seconds,
        bytes_total: cluster.total_bytes(),
        accuracy: right as f64 / images as f64,
        agreement: Some(agreeing as f64 / images as f64),
    };
    print_summary(args, &spec, &summary)
}

/// The weights of a party of a cluster. Each party holds only its own files, so the kind of
/// source is read from the path alone, alike at every party: a `.safetensors` file is P1's
/// model, anything else the directory of P0's and P1's shares. P2 reads neither.
fn party_source(args: &Args) -> Result<Source, CliError> {
    if args.model.is_some() {
        return Err("a party of a cluster takes no --model: import it once with `securenn import MODEL --out DIR`, then give every party --network DIR/network.toml and P1 --weights DIR/model.safetensors".into());
    }
    party_weights(args.weights.as_ref())
}

/// The weights of a party of a cluster, from `--weights` alone (see [`party_source`]).
pub(crate) fn party_weights(weights: Option<&PathBuf>) -> Result<Source, CliError> {
    match weights {
        Some(path) if path.extension().is_some_and(|e| e == "safetensors") => {
            Ok(Source::Model(path.clone()))
        }
        Some(path) => Ok(Source::Shares(path.clone())),
        None => Err("a party needs --weights: P1's model (a .safetensors file) or the directory of the parties' shares".into()),
    }
}

/// The test set, at P0 of separate processes or of a cluster: read and checked against
/// the public sizes before the session starts. Nothing at the other parties.
fn owned_test_set(
    args: &Args,
    spec: &NetworkSpec,
    sizes: Sizes,
    role: Role,
) -> Result<Option<Dataset>, CliError> {
    match role {
        Role::P0 => Ok(Some(args.data.load_agreed(spec, sizes)?.test)),
        _ => Ok(None),
    }
}

/// Runs private inference as one party of a cluster (`securenn party ... infer`); P0
/// prints the accuracy. The agreement with the twin is not computed: no party holds the
/// model in the clear.
pub(crate) async fn run_as_party(session: Session, args: &Args) -> Result<bool, CliError> {
    let (spec, _) = check(args)?;
    let source = party_source(args)?;
    if args.transport != TransportKind::Local {
        return Err("--transport does not apply to a party: the cluster configuration says where the peers are".into());
    }
    let sizes = args.data.public_sizes()?;
    let images = args.images.min(sizes.test);
    let test = owned_test_set(args, &spec, sizes, session.role())?;
    let report = infer_party(&session, args, &spec, &source, sizes, test.as_ref()).await?;
    let Some(right) = report.right else {
        if !args.json {
            say!(
                "{}: done, sent {:.1} MB",
                report.role,
                report.stats.total_sent() as f64 / 1e6
            );
        }
        return Ok(true);
    };
    let summary = Summary {
        network: spec.name().to_owned(),
        images,
        batch: args.batch,
        seconds: report.seconds,
        bytes_total: report.stats.total_sent() + report.stats.total_received(),
        accuracy: right as f64 / images as f64,
        agreement: None,
    };
    print_summary(args, &spec, &summary)
}
