//! Weights on disk as [safetensors](https://github.com/huggingface/safetensors): a model in
//! the clear, or one party's shares of a private model.
//!
//! Both formats name the tensors of layer `i` (counting every layer of the
//! [`NetworkSpec`], with or without weights) `layers.{i}.weight` (`[rows, outputs]`: a
//! linear layer's `inputs × outputs`, a convolution's `kh·kw·in × out`, HWIO order) and
//! `layers.{i}.bias` (`[outputs]`). The header's metadata names the format, the network and
//! the fixed-point scale, so a file is never read as something it is not:
//!
//! - a **model** ([`save_model`], [`load_model`]) holds `F32` reals (`F64` is read too);
//!   every 13-bit fixed-point value of magnitude below 2^11 is exact in `F32`;
//! - a **share file** ([`save_shares`], [`load_shares`]) holds one party's additive shares
//!   as `U64` ring elements, with the momentum buffers (`layers.{i}.weight_velocity`,
//!   `layers.{i}.bias_velocity`) so that training can go on from it, and the party's id, the
//!   model's identity and the steps trained in the metadata ([`ShareInfo`]); a training
//!   checkpoint is a share file. A share file alone is uniformly random: it reveals nothing
//!   of the model.
//!
//! Every file is written atomically: to a temporary file in the same directory, synced,
//! renamed over the target, and the directory synced; a crash leaves the old file or the
//! new one, never a mix.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::config::LayerWeights;
use super::spec::NetworkSpec;
use crate::error::{Error, Result};
use crate::party::Role;
use crate::ring::Z64;
use crate::ring::fixed::FRACTIONAL_BITS;

/// The `format` metadata of a model file.
pub const MODEL_FORMAT: &str = "securenn-model";
/// The `format` metadata of a share file.
pub const SHARES_FORMAT: &str = "securenn-shares";

/// One party's shares of one layer's parameters and momentum buffers, row-major. Its
/// `Debug` output shows the lengths, never the shares.
#[derive(Clone, PartialEq, Eq)]
pub struct LayerShares {
    /// The weights' share, `rows × outputs`.
    pub weights: Vec<Z64>,
    /// The biases' share.
    pub biases: Vec<Z64>,
    /// The weights' momentum share.
    pub weight_velocity: Vec<Z64>,
    /// The biases' momentum share.
    pub bias_velocity: Vec<Z64>,
}

impl core::fmt::Debug for LayerShares {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LayerShares")
            .field("weights", &self.weights.len())
            .field("biases", &self.biases.len())
            .finish_non_exhaustive()
    }
}

fn weights_error(path: &Path, problem: impl Into<String>) -> Error {
    Error::Weights {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn metadata(format: &str, spec: &NetworkSpec) -> HashMap<String, String> {
    HashMap::from([
        ("format".to_owned(), format.to_owned()),
        ("network".to_owned(), spec.name().to_owned()),
        ("fractional_bits".to_owned(), FRACTIONAL_BITS.to_string()),
    ])
}

/// Writes `bytes` to `path` through a temporary file in the same directory, synced and
/// renamed, so that a crash never leaves a half-written file behind. The file is readable
/// by its owner only (on Unix): shares and models are secrets.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source: Arc::new(source),
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".partial-{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    // A temporary file left by a killed run is replaced, never written through: a new
    // file (not a symlink planted there) gets mode 0600.
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temporary, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    renamed.map_err(io_error)?;
    // The rename itself is durable once the directory is synced.
    #[cfg(unix)]
    {
        let directory = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::File::open(directory)
            .and_then(|d| d.sync_all())
            .map_err(io_error)?;
    }
    Ok(())
}

/// What a share file records besides the shares: which model they belong to, and how far it
/// was trained. Both are public.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShareInfo {
    /// An identifier that P0's and P1's files of one model share, so that shares of
    /// different models are never combined (empty if unknown).
    pub model_id: String,
    /// Training steps done when the shares were saved.
    pub iteration: u64,
    /// The training options the model was trained with (public, free text), so that a
    /// run resumed with other options can be refused (empty if unknown).
    pub run: String,
}

fn serialize(
    path: &Path,
    tensors: Vec<(String, TensorView<'_>)>,
    info: HashMap<String, String>,
) -> Result<()> {
    let bytes = safetensors::serialize(tensors, Some(info))
        .map_err(|e| weights_error(path, format!("cannot serialize: {e}")))?;
    write_atomically(path, &bytes)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source: Arc::new(source),
    })
}

/// Parses `bytes` and checks the metadata's format, network and scale.
fn open<'a>(
    path: &Path,
    bytes: &'a [u8],
    format: &str,
    spec: &NetworkSpec,
) -> Result<(SafeTensors<'a>, HashMap<String, String>)> {
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| weights_error(path, format!("not a safetensors file: {e}")))?;
    let info = header.metadata().clone().unwrap_or_default();
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| weights_error(path, format!("not a safetensors file: {e}")))?;
    let field = |name: &str| info.get(name).map(String::as_str);
    if field("format") != Some(format) {
        return Err(weights_error(
            path,
            format!(
                "this is {}, not a {format} file",
                field("format").map_or("a file without securenn metadata".to_owned(), |f| {
                    format!("a {f} file")
                })
            ),
        ));
    }
    if field("network") != Some(spec.name()) {
        return Err(weights_error(
            path,
            format!(
                "these weights are for network {}, not {}",
                field("network").unwrap_or("(unnamed)"),
                spec.name()
            ),
        ));
    }
    let bits = FRACTIONAL_BITS.to_string();
    if field("fractional_bits") != Some(bits.as_str()) {
        return Err(weights_error(
            path,
            format!(
                "fixed-point scale {} does not match ours ({bits} fractional bits)",
                field("fractional_bits").unwrap_or("(missing)")
            ),
        ));
    }
    Ok((tensors, info))
}

/// The tensor `name`, checked to have `shape`.
fn tensor<'a>(
    path: &Path,
    tensors: &SafeTensors<'a>,
    name: &str,
    shape: &[usize],
) -> Result<TensorView<'a>> {
    let view = tensors
        .tensor(name)
        .map_err(|_| weights_error(path, format!("tensor {name} is missing")))?;
    if view.shape() != shape {
        return Err(weights_error(
            path,
            format!(
                "tensor {name} has shape {:?}, the network needs {shape:?}",
                view.shape()
            ),
        ));
    }
    Ok(view)
}

/// Saves a model in the clear: one entry per layer of `spec`, as
/// [`initial_weights`](super::config::initial_weights) makes them.
///
/// # Errors
///
/// [`Error::Weights`] if an entry does not fit its layer, [`Error::Io`] if the file cannot
/// be written.
pub fn save_model(path: &Path, spec: &NetworkSpec, layers: &[Option<LayerWeights>]) -> Result<()> {
    check_layer_count(path, spec, layers.len())?;
    let mut buffers = Vec::new();
    for (i, (layer, weights)) in spec.layers().iter().zip(layers).enumerate() {
        let Some((rows, outputs)) = layer.parameter_shape() else {
            continue;
        };
        let weights = weights
            .as_ref()
            .filter(|w| w.weights.len() == rows * outputs && w.biases.len() == outputs)
            .ok_or_else(|| {
                weights_error(
                    path,
                    format!("layer {i} ({layer}) has no weights of its shape"),
                )
            })?;
        let to_bytes = |values: &[f64]| -> Vec<u8> {
            #[allow(clippy::cast_possible_truncation, reason = "saved as f32 on purpose")]
            values
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect()
        };
        buffers.push((
            format!("layers.{i}.weight"),
            vec![rows, outputs],
            to_bytes(&weights.weights),
        ));
        buffers.push((
            format!("layers.{i}.bias"),
            vec![outputs],
            to_bytes(&weights.biases),
        ));
    }
    let views = views(path, &buffers, Dtype::F32)?;
    serialize(path, views, metadata(MODEL_FORMAT, spec))
}

fn views<'a>(
    path: &Path,
    buffers: &'a [(String, Vec<usize>, Vec<u8>)],
    dtype: Dtype,
) -> Result<Vec<(String, TensorView<'a>)>> {
    buffers
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(dtype, shape.clone(), bytes)
                .map(|view| (name.clone(), view))
                .map_err(|e| weights_error(path, format!("tensor {name}: {e}")))
        })
        .collect()
}

fn check_layer_count(path: &Path, spec: &NetworkSpec, entries: usize) -> Result<()> {
    if entries == spec.layers().len() {
        Ok(())
    } else {
        Err(weights_error(
            path,
            format!(
                "{entries} layer entries for network {}, which has {} layers",
                spec.name(),
                spec.layers().len()
            ),
        ))
    }
}

/// Loads a model in the clear for `spec`, checking every tensor's shape.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; [`Error::Weights`] if it is not a securenn
/// model of this network, or a tensor is missing, of the wrong shape or type, or not
/// finite.
pub fn load_model(path: &Path, spec: &NetworkSpec) -> Result<Vec<Option<LayerWeights>>> {
    let bytes = read(path)?;
    let (tensors, _) = open(path, &bytes, MODEL_FORMAT, spec)?;
    let reals = |name: &str, shape: &[usize]| -> Result<Vec<f64>> {
        let view = tensor(path, &tensors, name, shape)?;
        let values: Vec<f64> = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
            Dtype::F64 => view
                .data()
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
            other => {
                return Err(weights_error(
                    path,
                    format!("tensor {name} holds {other:?}, expected F32 or F64"),
                ));
            }
        };
        if values.iter().any(|v| !v.is_finite()) {
            return Err(weights_error(
                path,
                format!("tensor {name} holds a value that is not finite"),
            ));
        }
        Ok(values)
    };
    per_layer(spec, |i, rows, outputs| {
        Ok(LayerWeights {
            weights: reals(&format!("layers.{i}.weight"), &[rows, outputs])?,
            biases: reals(&format!("layers.{i}.bias"), &[outputs])?,
        })
    })
}

/// `read(i, rows, outputs)` for each layer `i` with a `rows × outputs` weight matrix, `None`
/// for the others.
fn per_layer<T>(
    spec: &NetworkSpec,
    mut read: impl FnMut(usize, usize, usize) -> Result<T>,
) -> Result<Vec<Option<T>>> {
    spec.layers()
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            layer
                .parameter_shape()
                .map(|(rows, outputs)| read(i, rows, outputs))
                .transpose()
        })
        .collect()
}

/// Saves party `role`'s shares of a private network (one entry per layer of `spec`, as
/// [`PrivateNetwork::shares`](super::private::PrivateNetwork::shares) gives them).
///
/// # Errors
///
/// [`Error::WrongRole`] for the helper, which holds no shares; [`Error::Weights`] if an
/// entry does not fit its layer; [`Error::Io`] if the file cannot be written.
pub fn save_shares(
    path: &Path,
    spec: &NetworkSpec,
    role: Role,
    layers: &[Option<LayerShares>],
    about: &ShareInfo,
) -> Result<()> {
    if role.is_helper() {
        return Err(Error::WrongRole {
            operation: "save_shares",
            role,
            reason: "the helper holds no shares of the weights",
        });
    }
    check_layer_count(path, spec, layers.len())?;
    let mut buffers = Vec::new();
    for (i, (layer, shares)) in spec.layers().iter().zip(layers).enumerate() {
        let Some((rows, outputs)) = layer.parameter_shape() else {
            continue;
        };
        let shares = shares
            .as_ref()
            .filter(|s| {
                s.weights.len() == rows * outputs
                    && s.weight_velocity.len() == rows * outputs
                    && s.biases.len() == outputs
                    && s.bias_velocity.len() == outputs
            })
            .ok_or_else(|| {
                weights_error(
                    path,
                    format!("layer {i} ({layer}) has no shares of its shape"),
                )
            })?;
        let to_bytes = |values: &[Z64]| -> Vec<u8> {
            values
                .iter()
                .flat_map(|v| v.value().to_le_bytes())
                .collect()
        };
        for (name, shape, values) in [
            ("weight", vec![rows, outputs], &shares.weights),
            ("bias", vec![outputs], &shares.biases),
            (
                "weight_velocity",
                vec![rows, outputs],
                &shares.weight_velocity,
            ),
            ("bias_velocity", vec![outputs], &shares.bias_velocity),
        ] {
            buffers.push((format!("layers.{i}.{name}"), shape, to_bytes(values)));
        }
    }
    let views = views(path, &buffers, Dtype::U64)?;
    let mut info = metadata(SHARES_FORMAT, spec);
    info.insert("party".to_owned(), role.index().to_string());
    info.insert("model_id".to_owned(), about.model_id.clone());
    info.insert("iteration".to_owned(), about.iteration.to_string());
    info.insert("run".to_owned(), about.run.clone());
    serialize(path, views, info)
}

/// Loads party `role`'s shares of a private network of `spec`.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; [`Error::Weights`] if it is not a securenn
/// share file of this network and party, or a tensor is missing or of the wrong shape or
/// type.
pub fn load_shares(
    path: &Path,
    spec: &NetworkSpec,
    role: Role,
) -> Result<(Vec<Option<LayerShares>>, ShareInfo)> {
    let bytes = read(path)?;
    let (tensors, info) = open(path, &bytes, SHARES_FORMAT, spec)?;
    let party = role.index().to_string();
    if info.get("party") != Some(&party) {
        return Err(weights_error(
            path,
            format!(
                "these are party {}'s shares, not {role}'s",
                info.get("party").map_or("(unnamed)", String::as_str)
            ),
        ));
    }
    let ring = |name: &str, shape: &[usize]| -> Result<Vec<Z64>> {
        let view = tensor(path, &tensors, name, shape)?;
        if view.dtype() != Dtype::U64 {
            return Err(weights_error(
                path,
                format!(
                    "tensor {name} holds {:?}, expected U64 shares",
                    view.dtype()
                ),
            ));
        }
        Ok(view
            .data()
            .chunks_exact(8)
            .map(|c| {
                Z64::new(u64::from_le_bytes([
                    c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
                ]))
            })
            .collect())
    };
    let about = ShareInfo {
        model_id: info.get("model_id").cloned().unwrap_or_default(),
        run: info.get("run").cloned().unwrap_or_default(),
        iteration: match info.get("iteration") {
            None => 0,
            Some(text) => text.parse().map_err(|_| {
                weights_error(path, format!("the iteration {text:?} is not a number"))
            })?,
        },
    };
    let layers = per_layer(spec, |i, rows, outputs| {
        Ok(LayerShares {
            weights: ring(&format!("layers.{i}.weight"), &[rows, outputs])?,
            biases: ring(&format!("layers.{i}.bias"), &[outputs])?,
            weight_velocity: ring(&format!("layers.{i}.weight_velocity"), &[rows, outputs])?,
            bias_velocity: ring(&format!("layers.{i}.bias_velocity"), &[outputs])?,
        })
    })?;
    Ok((layers, about))
}
