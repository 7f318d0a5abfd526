//! The private engine: a [network](super::network) whose parameters are shared between P0
//! and P1, run on the [shares backend](super::shares) with the [cost
//! wrapper](super::costs) around it. What it computes is what its [plaintext
//! twin](super::twin) computes, by the same program.

use typenum::U0;

use super::config::{LayerWeights, TrainConfig};
use super::costs::{Costed, LayerCost};
use super::local::constant;
use super::network::{Network, Params};
use super::number::Number;
use super::shares::Shares;
use super::spec::NetworkSpec;
use super::weights::LayerShares;
use crate::dsl::share;
use crate::error::{Error, Result};
use crate::party::{InputParty, OutputParty, Private, Revealed, Role};
use crate::protocol;
use crate::ring::{Ring, Z64};
use crate::session::{Context, Session};
use crate::share::Shared;
use crate::tensor::{Shape, Tensor};

/// A network whose parameters are shared between P0 and P1.
#[derive(Debug)]
pub struct PrivateNetwork {
    network: Network<Shared<Z64>>,
    /// Forward and backward cost per layer, accumulated.
    costs: Vec<(LayerCost, LayerCost)>,
    /// How many training steps changed the weights: it names the masks that hide them in
    /// inference, so that changed weights get new masks.
    weights_version: u64,
}

impl PrivateNetwork {
    /// Secret-shares party `P`'s weights (one entry per layer, as
    /// [`initial_weights`](super::config::initial_weights) makes them) into a private
    /// network. Every party calls it; only `P`'s `weights` hold values.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] at `P` if a layer's weights do not have its shape, or the
    /// transport's errors.
    pub async fn share_weights<P: InputParty>(
        ctx: &(impl Context + ?Sized),
        spec: NetworkSpec,
        weights: &Private<P, Vec<Option<LayerWeights>>>,
        config: TrainConfig,
    ) -> Result<Self> {
        let mut params = Vec::with_capacity(spec.layers().len());
        for (i, layer) in spec.layers().iter().enumerate() {
            let Some((rows, outputs)) = layer.parameter_shape() else {
                params.push(None);
                continue;
            };
            let encode = |values: &[f64], shape: [usize; 2]| -> Result<Tensor<Z64>> {
                if values.len() != shape[0] * shape[1] {
                    return Err(Error::InvalidShape {
                        operation: "share weights",
                        shape: Shape::from(shape),
                        reason: "the layer's weights do not have its shape",
                    });
                }
                Tensor::from_vec(shape, values.iter().map(|&v| Z64::encode(v)).collect())
            };
            let layer_weights = |f: fn(&LayerWeights) -> &[f64], shape: [usize; 2]| {
                Private::<P, Tensor<Z64>>::try_new(ctx.session().role(), || {
                    let all = weights.get().ok_or(Error::NotHeld {
                        owner: P::ROLE,
                        what: "weights",
                    })?;
                    let w = all
                        .get(i)
                        .and_then(Option::as_ref)
                        .ok_or(Error::MissingWeights { layer: i })?;
                    encode(f(w), shape)
                })
            };
            let w = layer_weights(|w| &w.weights, [rows, outputs])?;
            let b = layer_weights(|w| &w.biases, [1, outputs])?;
            let weights: Shared<Z64> = share(ctx, &w, [rows, outputs]).await?;
            let biases: Shared<Z64> = share(ctx, &b, [1, outputs]).await?;
            let role = ctx.session().role();
            params.push(Some(Params {
                weight_velocity: constant(role, Shape::from([rows, outputs]), Z64::ZERO),
                bias_velocity: constant(role, Shape::from([1, outputs]), Z64::ZERO),
                weights,
                biases,
            }));
        }
        Self::with_params(spec, params, config)
    }

    /// A private network from this party's shares, as [`PrivateNetwork::shares`] gives
    /// them or [`load_shares`](super::weights::load_shares) reads them: no message is sent.
    /// P0 and P1 pass their shares (one entry per layer), the helper passes `None`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if an entry does not fit its layer, or if P0 or P1 pass no
    /// shares, or the helper passes some.
    pub fn from_shares(
        role: Role,
        spec: NetworkSpec,
        shares: Option<Vec<Option<LayerShares>>>,
        config: TrainConfig,
    ) -> Result<Self> {
        let mismatch = |reason| Error::InvalidShape {
            operation: "PrivateNetwork::from_shares",
            shape: Shape::from([spec.layers().len()]),
            reason,
        };
        let shares = match (role.is_helper(), shares) {
            (true, None) => vec![None; spec.layers().len()],
            (false, Some(shares)) if shares.len() == spec.layers().len() => shares,
            (true, Some(_)) => return Err(mismatch("the helper holds no shares")),
            (false, _) => return Err(mismatch("one entry per layer is needed at P0 and P1")),
        };
        let mut params = Vec::with_capacity(spec.layers().len());
        for (layer, layer_shares) in spec.layers().iter().zip(shares) {
            let Some((rows, outputs)) = layer.parameter_shape() else {
                params.push(None);
                continue;
            };
            let part = |values: Option<Vec<Z64>>, shape: [usize; 2]| -> Result<Shared<Z64>> {
                Shared::from_share(role, shape, values.unwrap_or_default())
            };
            let (w, b, wv, bv) = match layer_shares {
                Some(s) => (
                    Some(s.weights),
                    Some(s.biases),
                    Some(s.weight_velocity),
                    Some(s.bias_velocity),
                ),
                None if role.is_helper() => (None, None, None, None),
                None => return Err(mismatch("a layer with weights has no shares")),
            };
            params.push(Some(Params {
                weights: part(w, [rows, outputs])?,
                biases: part(b, [1, outputs])?,
                weight_velocity: part(wv, [rows, outputs])?,
                bias_velocity: part(bv, [1, outputs])?,
            }));
        }
        Self::with_params(spec, params, config)
    }

    /// This party's shares of the parameters and momentum buffers, one entry per layer
    /// (`None` for layers without weights); `None` at the helper, which holds none. Save
    /// them with [`save_shares`](super::weights::save_shares).
    pub fn shares(&self) -> Option<Vec<Option<LayerShares>>> {
        let owned = |s: &Shared<Z64>| s.local_share().map(<[Z64]>::to_vec);
        self.network
            .params()
            .iter()
            .map(|p| match p {
                None => Some(None),
                Some(p) => Some(Some(LayerShares {
                    weights: owned(&p.weights)?,
                    biases: owned(&p.biases)?,
                    weight_velocity: owned(&p.weight_velocity)?,
                    bias_velocity: owned(&p.bias_velocity)?,
                })),
            })
            .collect()
    }

    /// A network with these parameters and no cost recorded yet.
    fn with_params(
        spec: NetworkSpec,
        params: Vec<Option<Params<Shared<Z64>>>>,
        config: TrainConfig,
    ) -> Result<Self> {
        let costs = vec![(LayerCost::default(), LayerCost::default()); spec.layers().len()];
        Ok(PrivateNetwork {
            network: Network::new(spec, params, config)?,
            costs,
            weights_version: 0,
        })
    }

    /// The network's architecture.
    pub fn spec(&self) -> &NetworkSpec {
        self.network.spec()
    }

    /// The training configuration.
    pub fn config(&self) -> &TrainConfig {
        self.network.config()
    }

    /// Sets the learning rate to 2^−`lr_shift` for the steps that follow (a schedule).
    pub fn set_lr_shift(&mut self, lr_shift: u32) {
        self.network.set_lr_shift(lr_shift);
    }

    /// Forward and backward cost of each layer at this party, accumulated since the
    /// network was made.
    pub fn costs(&self) -> &[(LayerCost, LayerCost)] {
        &self.costs
    }

    /// The outputs for a shared batch of `batch` inputs (of the spec's input shape, scale
    /// 13).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if the input does not fit the network, or the transport's
    /// errors.
    pub async fn forward(
        &mut self,
        ctx: &(impl Context + ?Sized),
        input: &Shared<Z64>,
        batch: usize,
    ) -> Result<Shared<Z64>> {
        let call = ctx.open("forward");
        let shares = Shares::with_weight_masks(&call, self.weights_version);
        let mut backend = Costed::new(shares, &mut self.costs);
        self.network.forward(&mut backend, input, batch).await
    }

    /// One training step on a shared batch of `config().batch()` inputs and their shared
    /// one-hot labels (`[batch, classes]`, 0 or 1 at scale 0).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if the input or labels do not fit, or the transport's errors.
    pub async fn train_step(
        &mut self,
        ctx: &(impl Context + ?Sized),
        input: &Shared<Z64>,
        labels: &Shared<Z64, U0>,
    ) -> Result<()> {
        self.step(ctx, input, labels).await.map(drop)
    }

    /// [`PrivateNetwork::train_step`], and the batch's loss ½Σδ²/B revealed to P0 only
    /// (δ the loss gradient: for the squared hinge, ½Σδ² is the loss itself). One more
    /// round and 40 bytes per output.
    ///
    /// # Errors
    ///
    /// As [`PrivateNetwork::train_step`].
    pub async fn train_step_with_loss(
        &mut self,
        ctx: &(impl Context + ?Sized),
        input: &Shared<Z64>,
        labels: &Shared<Z64, U0>,
    ) -> Result<Revealed<crate::party::P0, f64>> {
        let delta = self.step(ctx, input, labels).await?;
        let squares = protocol::mul_elementwise(ctx, &delta, &delta).await?;
        let role = squares.role();
        let total = squares.data().iter().fold(Z64::ZERO, |s, &v| s + v);
        let total: Shared<Z64, typenum::U26> = Shared::from_parts(
            role,
            Shape::from([1]),
            if role.is_helper() {
                Vec::new()
            } else {
                vec![total]
            },
        );
        let total = crate::dsl::reveal_to::<crate::party::P0, _>(ctx, &total).await?;
        let batch = self.config().batch() as f64;
        Ok(Revealed::new(total.into_inner().map(|t| {
            let squares = t.data()[0].value() as i64 as f64 / (1u64 << 26) as f64;
            squares / (2.0 * batch)
        })))
    }

    /// One step; returns the loss gradient δ at the outputs.
    async fn step(
        &mut self,
        ctx: &(impl Context + ?Sized),
        input: &Shared<Z64>,
        labels: &Shared<Z64, U0>,
    ) -> Result<Shared<Z64>> {
        let call = ctx.open("train step");
        let mut backend = Costed::new(Shares::new(&call), &mut self.costs);
        // The weights change: inference masks them anew.
        self.weights_version += 1;
        let step = self.network.train_step(&mut backend, input, labels).await?;
        Ok(step.loss_gradient)
    }

    /// The predicted class of each of `batch` shared inputs, revealed to party `P` only:
    /// a private argmax over the outputs (all pairs compared at once,
    /// [`protocol::argmax`](crate::protocol::argmax())), then the index alone is revealed.
    ///
    /// # Errors
    ///
    /// As [`PrivateNetwork::forward`].
    pub async fn predict<P: OutputParty>(
        &mut self,
        ctx: &(impl Context + ?Sized),
        input: &Shared<Z64>,
        batch: usize,
    ) -> Result<Revealed<P, Vec<usize>>> {
        let classes = {
            let call = ctx.open("forward");
            let shares = Shares::with_weight_masks(&call, self.weights_version);
            let mut backend = Costed::new(shares, &mut self.costs);
            self.network.predict(&mut backend, input, batch).await?
        };
        let revealed = crate::dsl::reveal_to::<P, _>(ctx, &classes).await?;
        Ok(Revealed::new(revealed.into_inner().map(|t| {
            t.data()
                .iter()
                .map(|v| usize::try_from(v.value()).unwrap_or(usize::MAX))
                .collect()
        })))
    }

    /// The outputs of `batch` shared inputs and their predicted classes (each an index,
    /// scale 0), both still shared: for answers that go to someone who is not a party
    /// (a client of the servers), each server sending its shares.
    ///
    /// # Errors
    ///
    /// As [`PrivateNetwork::forward`].
    pub async fn classify(
        &mut self,
        ctx: &(impl Context + ?Sized),
        input: &Shared<Z64>,
        batch: usize,
    ) -> Result<(Shared<Z64>, Shared<Z64, U0>)> {
        let call = ctx.open("forward");
        let shares = Shares::with_weight_masks(&call, self.weights_version);
        let mut backend = Costed::new(shares, &mut self.costs);
        self.network.classify(&mut backend, input, batch).await
    }

    /// What offline material for [`PrivateNetwork::predict`] on `batch` inputs in `session`
    /// is dealt for: [`predict_program`] at this network's weights version.
    pub fn predict_program(&self, session: &Session, batch: usize) -> String {
        predict_program(self.network.spec(), self.weights_version, session, batch)
    }

    /// The weights, revealed to party `P` only, decoded (one entry per layer).
    ///
    /// # Errors
    ///
    /// The transport's errors.
    pub async fn reveal_weights<P: OutputParty>(
        &self,
        ctx: &(impl Context + ?Sized),
    ) -> Result<Revealed<P, Vec<Option<LayerWeights>>>> {
        let mut layers = Vec::with_capacity(self.network.params().len());
        for p in self.network.params() {
            let Some(p) = p else {
                layers.push(None);
                continue;
            };
            let weights = crate::dsl::reveal_to::<P, _>(ctx, &p.weights)
                .await?
                .into_inner();
            let biases = crate::dsl::reveal_to::<P, _>(ctx, &p.biases)
                .await?
                .into_inner();
            layers.push(weights.zip(biases).map(|(w, b)| LayerWeights {
                weights: w.data().iter().map(|v| v.decode()).collect(),
                biases: b.data().iter().map(|v| v.decode()).collect(),
            }));
        }
        let at_receiver = ctx.session().role() == P::ROLE;
        Ok(Revealed::new(at_receiver.then(|| {
            layers
                .into_iter()
                .map(|layer| layer.filter(|_| at_receiver))
                .collect()
        })))
    }
}

/// What offline material for [`PrivateNetwork::predict`] by a `spec` network whose
/// weights have taken `weights_version` training steps in this process, on `batch` inputs
/// in `session`, is dealt for ([`Session::deal_offline`]): the network's name and
/// architecture, the weights' version (it names the masks that hide them), the batch, and
/// the session's emulated link (over a link, layers may be split into parts and fused,
/// which changes the program). Material dealt for anything else is refused by
/// [`Material::open`](crate::session::Material::open).
pub fn predict_program(
    spec: &NetworkSpec,
    weights_version: u64,
    session: &Session,
    batch: usize,
) -> String {
    let link = session
        .link()
        .map_or("no emulated link".to_owned(), |link| format!("link {link}"));
    format!(
        "prediction by network {} (architecture {}, weights version {weights_version}) of a batch of {batch}, {link}",
        spec.name(),
        spec.digest()
    )
}
