//! Private training and evaluation on a [`Dataset`]: the data owner P0 secret-shares each
//! batch of examples and one-hot labels with fresh randomness; the model owner P1 shares the initial
//! weights; the three parties train; P0 learns the running loss and the test accuracy, and
//! nothing else is revealed unless the caller asks.

use std::time::{Duration, Instant};

use typenum::U0;

use super::config::{LayerWeights, TrainConfig};
use super::data::Dataset;
use super::private::PrivateNetwork;
use super::spec::NetworkSpec;
use super::twin::{Number, Twin};
use crate::dsl::share;
use crate::error::{Error, Result, ResumeProblem};
use crate::party::{P0, P1, Private, Revealed, Role};
use crate::prg::Prg;
use crate::ring::{Ring, Z64};
use crate::session::{Context, Material, Session};
use crate::share::Shared;
use crate::tensor::Tensor;

/// The largest learning-rate shift a schedule reaches: updates are truncated by at most
/// 2^−40, well inside the ring's 64 bits.
pub const MAX_LR_SHIFT: u32 = 40;

/// What to train and for how long.
#[derive(Debug, Clone)]
pub struct TrainSettings {
    /// The network.
    pub spec: NetworkSpec,
    /// Batch size, learning rate, momentum, loss.
    pub config: TrainConfig,
    /// Passes over the training set.
    pub epochs: usize,
    /// Stop after this many steps in all, if sooner.
    pub max_iterations: Option<usize>,
    /// The public seed of the order of the examples in each epoch.
    pub seed: u64,
    /// The number of training examples (public).
    pub train_len: usize,
    /// Halve the learning rate after every this many epochs (`None`: a constant rate).
    pub lr_halving_epochs: Option<usize>,
}

impl TrainSettings {
    /// Steps per epoch (the last partial batch is dropped).
    pub fn iterations_per_epoch(&self) -> usize {
        self.train_len / self.config.batch()
    }

    /// The learning rate's shift in `epoch` (from 0): `config.lr_shift`, plus one for
    /// every `lr_halving_epochs` epochs done, at most [`MAX_LR_SHIFT`] (a rate of 2^−40 is
    /// below the fixed point's resolution: the weights no longer move).
    pub fn lr_shift_at(&self, epoch: usize) -> u32 {
        let halvings = self
            .lr_halving_epochs
            .filter(|&k| k > 0)
            .map_or(0, |k| epoch / k);
        self.config
            .lr_shift
            .saturating_add(u32::try_from(halvings).unwrap_or(u32::MAX))
            .min(MAX_LR_SHIFT.max(self.config.lr_shift))
    }

    /// Steps in all.
    pub fn iterations(&self) -> usize {
        let all = self.iterations_per_epoch() * self.epochs;
        self.max_iterations.map_or(all, |cap| cap.min(all))
    }
}

/// One step's report, at P0: the loss is revealed to P0 only (it is an average over the
/// batch); the other parties see `None`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Steps done, from 1.
    pub iteration: usize,
    /// Steps in all.
    pub iterations: usize,
    /// The epoch, from 1.
    pub epoch: usize,
    /// The batch's mean squared-hinge loss, at P0.
    pub loss: Option<f64>,
    /// At the end of an epoch, the accuracy on the first test images (see
    /// [`train`]), at P0.
    pub accuracy: Option<f64>,
    /// Time since training started.
    pub elapsed: Duration,
}

/// The order of the training examples in `epoch`: a permutation from the public seed, the
/// same for private training and for its plaintext twin.
pub fn epoch_order(seed: u64, epoch: usize, len: usize) -> Vec<usize> {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..].copy_from_slice(&(epoch as u64).to_le_bytes());
    let mut prg = Prg::from_stream_key(key);
    let mut order: Vec<usize> = (0..len).collect();
    let mut draws = vec![Z64::ZERO; len];
    Z64::fill_random(&mut prg, &mut draws);
    for i in (1..len).rev() {
        let j = usize::try_from(draws[i].value() % (i as u64 + 1)).unwrap_or(0);
        order.swap(i, j);
    }
    order
}

/// Shares a batch of P0's examples for `spec`: the inputs (the spec's input shape, at
/// scale 13) and the one-hot labels (`[batch, classes]`, scale 0). The shapes come from
/// the public spec, so every party knows them; P0 checks that its data fits.
///
/// # Errors
///
/// [`Error::Network`] at P0 if its data does not fit the spec, [`Error::NotHeld`] if P0's
/// data was made for another party, [`Error::ExampleOutOfRange`] at P0 if an index is past
/// the end of its data, or the transport's errors.
pub async fn share_batch(
    ctx: &(impl Context + ?Sized),
    spec: &NetworkSpec,
    data: &Private<P0, Dataset>,
    indices: &[usize],
) -> Result<(Shared<Z64>, Shared<Z64, U0>)> {
    let batch = indices.len();
    let classes = spec.output().len();
    let input_shape = spec.input().batch(batch);
    let role = ctx.session().role();
    let owned = || {
        data.get().ok_or(Error::NotHeld {
            owner: Role::P0,
            what: "data",
        })
    };
    let inputs = Private::<P0, _>::try_new(role, || {
        let data = owned()?;
        data.check_network(spec, "the data")?;
        Tensor::from_vec(input_shape.clone(), data.encode::<Z64>(indices)?)
    })?;
    let labels = Private::<P0, _>::try_new(role, || {
        let data = owned()?;
        let mut one_hot = vec![Z64::ZERO; batch * classes];
        for (row, &i) in indices.iter().enumerate() {
            let label = *data.labels().get(i).ok_or(Error::ExampleOutOfRange {
                index: i,
                len: data.len(),
            })?;
            one_hot[row * classes + usize::from(label)] = Z64::ONE;
        }
        Tensor::from_vec([batch, classes], one_hot)
    })?;
    let inputs: Shared<Z64> = share(ctx, &inputs, input_shape).await?;
    let labels: Shared<Z64, U0> = share(ctx, &labels, [batch, classes]).await?;
    Ok((inputs, labels))
}

/// Where private training starts.
#[derive(Debug)]
pub enum Start<'a> {
    /// From P1's weights, secret-shared first.
    Fresh(&'a Private<P1, Vec<Option<LayerWeights>>>),
    /// From a network restored from a checkpoint ([`PrivateNetwork::from_shares`]) after
    /// `iteration` steps.
    Resume {
        /// The restored network.
        network: PrivateNetwork,
        /// Steps done before the checkpoint.
        iteration: usize,
    },
}

/// Trains `settings.spec` privately on P0's `data`, from `start`, calling `report` after
/// every step with the step's report and the network (to save a checkpoint, say; an error
/// it returns ends training). With `test = Some((test_data, n))`, the network is also
/// evaluated on the first `n` test images at the end of every epoch (P0 learns the
/// accuracy, in the step's report). Every party calls it.
///
/// Each step runs in its own [`Session::scope`], named by its number: a run resumed from
/// the checkpoint of step `k`, with the same keys, draws exactly the randomness of an
/// uninterrupted run from step `k` on, and so ends with exactly its weights.
///
/// # Errors
///
/// [`Error::InvalidShape`] if the weights do not fit the network, [`Error::Resume`] if the
/// start is past the last step, `report`'s errors, or the transport's errors.
pub async fn train(
    session: &Session,
    settings: &TrainSettings,
    start: Start<'_>,
    data: &Private<P0, Dataset>,
    test: Option<(&Private<P0, Dataset>, usize)>,
    mut report: impl FnMut(&StepReport, &PrivateNetwork) -> Result<()>,
) -> Result<PrivateNetwork> {
    let (mut network, first) = match start {
        Start::Fresh(weights) => {
            let scope = session.scope("share weights", 0);
            let network = PrivateNetwork::share_weights(
                &scope,
                settings.spec.clone(),
                weights,
                settings.config,
            )
            .await?;
            (network, 0)
        }
        Start::Resume { network, iteration } => (network, iteration),
    };
    let batch = settings.config.batch();
    let iterations = settings.iterations();
    let per_epoch = settings.iterations_per_epoch().max(1);
    if first > iterations {
        return Err(Error::Resume(ResumeProblem::PastLastStep {
            step: first,
            steps: iterations,
        }));
    }
    let start_time = Instant::now();
    let mut order: Option<(usize, Vec<usize>)> = None;
    for done in first..iterations {
        let epoch = done / per_epoch;
        if order.as_ref().is_none_or(|(e, _)| *e != epoch) {
            order = Some((epoch, epoch_order(settings.seed, epoch, settings.train_len)));
        }
        let position = done % per_epoch;
        let indices = order
            .as_ref()
            .and_then(|(_, o)| o.get(position * batch..(position + 1) * batch))
            .ok_or(Error::Internal("a batch is past the end of the data"))?;
        network.set_lr_shift(settings.lr_shift_at(epoch));
        let step = session.scope("train step", done as u64);
        let (images, labels) = share_batch(&step, &settings.spec, data, indices).await?;
        let loss = network
            .train_step_with_loss(&step, &images, &labels)
            .await?;
        let iteration = done + 1;
        let epoch_done = iteration % per_epoch == 0 || iteration == iterations;
        let accuracy = match test {
            Some((test_data, images)) if epoch_done && images > 0 => {
                let scope = session.scope("epoch evaluation", iteration as u64);
                evaluate(&scope, &mut network, test_data, images, batch)
                    .await?
                    .into_inner()
                    .map(|e| e.accuracy())
            }
            _ => None,
        };
        let step_report = StepReport {
            iteration,
            iterations,
            epoch: epoch + 1,
            loss: loss.into_inner(),
            accuracy,
            elapsed: start_time.elapsed(),
        };
        report(&step_report, &network)?;
    }
    Ok(network)
}

/// An identifier of the model whose shares P0 and P1 hold: the same at both, drawn from
/// the key they share (and public, like the name of a file); `None` at the helper. Share
/// files record it ([`ShareInfo`](super::weights::ShareInfo)), so that shares of different
/// models are never combined.
pub fn shared_model_id(session: &Session) -> Option<String> {
    let partner = match session.role() {
        Role::P0 => Role::P1,
        Role::P1 => Role::P0,
        Role::P2 => return None,
    };
    let scope = session.scope("model id", 0);
    let mut prg = scope.shared_prg(partner, 0).ok()?;
    let mut bytes = [0u8; 8];
    prg.fill(&mut bytes);
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Trains `settings.spec` in the clear with the plaintext twin, from `weights`, in the same
/// order of examples as [`train`]: what the private training computes, without the
/// protocols (in fixed point, `N = Z64`, up to the private truncation's ±1 LSB per
/// value). With `test = Some((test_data, n))`, the twin is evaluated on the first `n` test
/// images at the end of every epoch. `report` is called after every step; its `loss` is
/// `None`.
///
/// # Errors
///
/// [`Error::InvalidShape`] if the weights do not fit the network.
pub fn train_plaintext<N: Number>(
    settings: &TrainSettings,
    weights: &[Option<LayerWeights>],
    data: &Dataset,
    test: Option<(&Dataset, usize)>,
    mut report: impl FnMut(&StepReport),
) -> Result<Twin<N>> {
    data.check_network(&settings.spec, "the data")?;
    let mut twin = Twin::<N>::new(
        settings.spec.clone(),
        weights,
        settings.config,
        settings.seed,
    )?;
    let batch = settings.config.batch();
    let iterations = settings.iterations();
    let start = Instant::now();
    let mut iteration = 0;
    let mut labels = Vec::with_capacity(batch);
    'epochs: for epoch in 0..settings.epochs {
        let order = epoch_order(settings.seed, epoch, settings.train_len);
        twin.set_lr_shift(settings.lr_shift_at(epoch));
        for indices in order.chunks_exact(batch) {
            if iteration == iterations {
                break 'epochs;
            }
            labels.clear();
            for &i in indices {
                labels.push(*data.labels().get(i).ok_or(Error::ExampleOutOfRange {
                    index: i,
                    len: data.len(),
                })?);
            }
            twin.train_step(&data.encode(indices)?, &labels)?;
            iteration += 1;
            let epoch_done =
                iteration % settings.iterations_per_epoch().max(1) == 0 || iteration == iterations;
            let accuracy = match test {
                Some((test_data, n)) if epoch_done && n > 0 => {
                    Some(twin_accuracy(&mut twin, test_data, n, batch)?)
                }
                _ => None,
            };
            report(&StepReport {
                iteration,
                iterations,
                epoch: epoch + 1,
                loss: None,
                accuracy,
                elapsed: start.elapsed(),
            });
        }
    }
    Ok(twin)
}

/// The twin's predicted class of each of the first `images` examples of `data`.
///
/// # Errors
///
/// [`Error::ExampleOutOfRange`] if `data` holds fewer examples.
pub fn twin_predictions<N: Number>(
    twin: &mut Twin<N>,
    data: &Dataset,
    images: usize,
    batch: usize,
) -> Result<Vec<usize>> {
    if images > data.len() {
        return Err(Error::ExampleOutOfRange {
            index: images - 1,
            len: data.len(),
        });
    }
    let batch = batch.max(1);
    let mut predictions = Vec::with_capacity(images);
    for first in (0..images).step_by(batch) {
        let n = batch.min(images - first);
        let indices: Vec<usize> = (first..first + n).collect();
        predictions.extend(twin.predict(&data.encode::<N>(&indices)?, n)?);
    }
    Ok(predictions)
}

fn twin_accuracy<N: Number>(
    twin: &mut Twin<N>,
    data: &Dataset,
    images: usize,
    batch: usize,
) -> Result<f64> {
    let predictions = twin_predictions(twin, data, images, batch)?;
    let right = predictions
        .iter()
        .zip(data.labels())
        .filter(|&(&p, &l)| p == usize::from(l))
        .count();
    Ok(right as f64 / images.max(1) as f64)
}

/// The accuracy of `network` on the first `images` examples of P0's `data`, in batches of
/// `batch`: P0 learns the predicted classes and counts the right ones; nothing else is
/// revealed.
///
/// # Errors
///
/// As [`PrivateNetwork::predict`].
pub async fn evaluate(
    ctx: &(impl Context + ?Sized),
    network: &mut PrivateNetwork,
    data: &Private<P0, Dataset>,
    images: usize,
    batch: usize,
) -> Result<Revealed<P0, Evaluation>> {
    evaluate_reporting(ctx, network, data, images, batch, None, |_| {}).await
}

/// [`evaluate`], calling `done` with the number of images classified after every batch
/// (for a progress bar). With offline `material` (dealt for
/// [`PrivateNetwork::predict_program`] at `batch`), every full batch is
/// classified in the online phase, one run of the material each; a last, smaller batch
/// runs inline.
///
/// # Errors
///
/// As [`PrivateNetwork::predict`], and [`Error::Material`] if the
/// material was dealt for another program or has too few runs left.
pub async fn evaluate_reporting(
    ctx: &(impl Context + ?Sized),
    network: &mut PrivateNetwork,
    data: &Private<P0, Dataset>,
    images: usize,
    batch: usize,
    material: Option<&Material>,
    mut done: impl FnMut(usize),
) -> Result<Revealed<P0, Evaluation>> {
    let batch = batch.max(1);
    let mut right = 0;
    let mut predictions = Vec::with_capacity(images);
    let indices: Vec<usize> = (0..images).collect();
    for chunk in indices.chunks(batch) {
        let (input, _) = share_batch(ctx, network.spec(), data, chunk).await?;
        let predicted = match material.filter(|_| chunk.len() == batch) {
            Some(material) => {
                let session = ctx.session();
                let program = network.predict_program(session, batch);
                let call = material.open(session, &program)?;
                network.predict::<P0>(&call, &input, batch).await?
            }
            None => network.predict::<P0>(ctx, &input, chunk.len()).await?,
        }
        .into_inner();
        if let (Some(predicted), Some(data)) = (predicted, data.get()) {
            for (&p, &i) in predicted.iter().zip(chunk) {
                right += usize::from(data.labels().get(i).map(|&l| usize::from(l)) == Some(p));
                predictions.push(p);
            }
        }
        done(chunk.last().map_or(0, |&i| i + 1));
    }
    Ok(Revealed::new(data.get().map(|_| Evaluation {
        images,
        right,
        predictions,
    })))
}

/// What an evaluation found, at P0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Images classified.
    pub images: usize,
    /// Images classified right.
    pub right: usize,
    /// The predicted class of each image.
    pub predictions: Vec<usize>,
}

impl Evaluation {
    /// The fraction classified right.
    pub fn accuracy(&self) -> f64 {
        if self.images == 0 {
            0.0
        } else {
            self.right as f64 / self.images as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_learning_rate_halves_every_k_epochs() {
        let mut settings = TrainSettings {
            spec: NetworkSpec::a(),
            config: TrainConfig::default(),
            epochs: 10,
            max_iterations: None,
            seed: 0,
            train_len: 1024,
            lr_halving_epochs: None,
        };
        let base = settings.config.lr_shift;
        assert_eq!(settings.lr_shift_at(9), base, "a constant rate");
        settings.lr_halving_epochs = Some(3);
        let shifts: Vec<u32> = (0..7).map(|e| settings.lr_shift_at(e) - base).collect();
        assert_eq!(shifts, [0, 0, 0, 1, 1, 1, 2]);
        settings.lr_halving_epochs = Some(1);
        assert_eq!(
            settings.lr_shift_at(1000),
            MAX_LR_SHIFT,
            "never past the ring"
        );
    }
}
