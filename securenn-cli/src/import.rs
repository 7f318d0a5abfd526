//! `securenn import MODEL.onnx --out DIR`: a trained model from ONNX as a securenn network
//! file (`DIR/network.toml`) and model (`DIR/model.safetensors`), which `securenn infer
//! --network DIR/network.toml --weights DIR/model.safetensors` and `securenn train --init`
//! take as they are. The import itself is the library's ([`securenn_dsl::nn::onnx`]).

use std::io::Write as _;
use std::path::PathBuf;

use securenn_dsl::nn::onnx::{ImportOptions, Imported, import_file};
use securenn_dsl::nn::weights::save_model;

use crate::processes::CliError;

/// The network file `securenn import` writes into its `--out` directory.
pub(crate) const NETWORK_FILE: &str = "network.toml";
/// The model file `securenn import` writes into its `--out` directory.
pub(crate) const MODEL_FILE: &str = "model.safetensors";

/// Arguments of `securenn import`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// The ONNX model (`.onnx`), as `torch.onnx.export` writes it.
    model: PathBuf,
    /// The directory to write `network.toml` and `model.safetensors` into (created if
    /// missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The input's dimensions without the batch, in the model's own order, for a model
    /// whose file leaves them open: `C,H,W` for images (`H,W,C` for a Keras model's NHWC
    /// input), `F` for rows.
    #[arg(long, value_name = "DIMS", value_delimiter = ',')]
    input_shape: Option<Vec<usize>>,
    /// The network's name (default: the graph's).
    #[arg(long)]
    name: Option<String>,
    /// Print exactly one JSON object, on the last line.
    #[arg(long)]
    json: bool,
}

/// Runs `securenn import`.
pub(crate) fn run(args: &Args) -> Result<bool, CliError> {
    let options = ImportOptions {
        input_shape: args.input_shape.clone(),
        name: args.name.clone(),
    };
    let Imported { spec, weights } = import_file(&args.model, &options)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let network = args.out.join(NETWORK_FILE);
    std::fs::write(&network, spec.to_toml())
        .map_err(|e| format!("cannot write {}: {e}", network.display()))?;
    let model = args.out.join(MODEL_FILE);
    save_model(&model, &spec, &weights)?;
    let summary = format!(
        "imported {}: network {} ({} layers, {} parameters, {} in, {} classes) to {} and {}",
        args.model.display(),
        spec.name(),
        spec.layers().len(),
        spec.parameters(),
        spec.input(),
        spec.output().len(),
        network.display(),
        model.display()
    );
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::json!({
            "network": spec.name(),
            "layers": spec.layers().len(),
            "parameters": spec.parameters(),
            "classes": spec.output().len(),
            "network_file": network,
            "model_file": model,
        });
        say!("{summary}");
        writeln!(out, "{json}")?;
    } else {
        writeln!(out, "{summary}")?;
    }
    Ok(true)
}
