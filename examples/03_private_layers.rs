//! The tutorial's "A private layer": a private model written with the DSL.
//!
//! P1 owns a two-layer perceptron, P0 owns a batch of 32 inputs. Both secret-share what
//! they own; the three parties evaluate the model on the shares with `#[protocol]`
//! functions, and only P0 learns the predictions. The result is checked against the same
//! model in plaintext.
//!
//! Run it with `cargo run -p securenn-examples --example 03_private_layers`.

use securenn_dsl::dsl::local::add_bias;
use securenn_dsl::prelude::*;
use securenn_dsl::tensor::fixed;

// ANCHOR: layers
/// A fully connected layer whose weights and bias are secret-shared.
struct Dense {
    w: Shared<Z64>,
    b: Shared<Z64>,
}

impl Dense {
    /// x·W + b for a batch of rows x: the product has 26 fractional bits until it is
    /// truncated back to 13; the bias row is added to every row of the batch.
    #[protocol]
    fn forward(&self, x: &Shared<Z64>) -> Shared<Z64> {
        let product = truncate(matmul(x, &self.w));
        add_bias(&product, &self.b)?
    }
}

/// Two layers with a ReLU between them.
struct Mlp {
    fc1: Dense,
    fc2: Dense,
}

#[protocol]
fn mlp(m: &Mlp, x: &Shared<Z64>) -> Shared<Z64> {
    let h = relu(m.fc1.forward(x));
    m.fc2.forward(&h)
}
// ANCHOR_END: layers

// ANCHOR: batching
/// Two independent heads on one input: their ReLUs run side by side and share rounds.
#[protocol]
fn two_heads(m: &Mlp, x: &Shared<Z64>) -> Shared<Z64> {
    let left = relu(m.fc1.forward(x));
    let right = relu(m.fc1.forward(x));
    left - right
}
// ANCHOR_END: batching

/// The sizes: 4 inputs, 8 hidden units, 3 outputs.
const SIZES: [usize; 3] = [4, 8, 3];

/// The inputs P0 classifies at once.
const BATCH: usize = 32;

/// The model (P1's) and the input (P0's), in plaintext.
struct Plaintext {
    w1: Vec<f64>,
    b1: Vec<f64>,
    w2: Vec<f64>,
    b2: Vec<f64>,
    x: Vec<f64>,
}

/// Small fixed values, so that the example is reproducible.
fn plaintext() -> Plaintext {
    let value = |i: usize, scale: f64| ((i * 37 % 17) as f64 - 8.0) * scale;
    Plaintext {
        w1: (0..SIZES[0] * SIZES[1]).map(|i| value(i, 0.0625)).collect(),
        b1: (0..SIZES[1]).map(|i| value(i + 3, 0.03125)).collect(),
        w2: (0..SIZES[1] * SIZES[2])
            .map(|i| value(i + 5, 0.0625))
            .collect(),
        b2: (0..SIZES[2]).map(|i| value(i + 7, 0.03125)).collect(),
        x: (0..BATCH * SIZES[0]).map(|i| value(i + 11, 0.25)).collect(),
    }
}

/// The same model, in floating point, row by row.
fn predict_in_the_clear(model: &Plaintext) -> Vec<f64> {
    let Plaintext { w1, b1, w2, b2, x } = model;
    let layer = |x: &[f64], w: &[f64], b: &[f64], n: usize| -> Vec<f64> {
        (0..n)
            .map(|j| {
                b[j] + x
                    .iter()
                    .enumerate()
                    .map(|(k, v)| v * w[k * n + j])
                    .sum::<f64>()
            })
            .collect()
    };
    x.chunks(SIZES[0])
        .flat_map(|x| {
            let h: Vec<f64> = layer(x, w1, b1, SIZES[1])
                .into_iter()
                .map(|v| v.max(0.0))
                .collect();
            layer(&h, w2, b2, SIZES[2])
        })
        .collect()
}

fn main() -> Result<()> {
    let plain = plaintext();
    let expected = predict_in_the_clear(&plain);
    // ANCHOR: run
    let results = run_local(|session| {
        let Plaintext { w1, b1, w2, b2, x } = &plain;
        async move {
            let role = session.role();
            // P1 shares its model, P0 its input: each tensor exists only at its owner.
            let owned = |v: &[f64], shape: [usize; 2]| {
                Private::<P1, _>::try_new(role, || fixed::encode_tensor(shape, v, 13))
            };
            let [i, h, o] = SIZES;
            let dense = async |w, b, n_in, n_out| -> Result<Dense> {
                Ok(Dense {
                    w: share(&session, &owned(w, [n_in, n_out])?, [n_in, n_out]).await?,
                    b: share(&session, &owned(b, [1, n_out])?, [1, n_out]).await?,
                })
            };
            let model = Mlp {
                fc1: dense(w1, b1, i, h).await?,
                fc2: dense(w2, b2, h, o).await?,
            };
            let input =
                Private::<P0, _>::try_new(role, || fixed::encode_tensor([BATCH, i], x, 13))?;
            let input: Shared<Z64> = share(&session, &input, [BATCH, i]).await?;

            let prediction = mlp(&session, &model, &input).await?;
            let difference = two_heads(&session, &model, &input).await?;
            let prediction = reveal_to::<P0, _>(&session, &prediction).await?;
            let difference = reveal_to::<P0, _>(&session, &difference).await?;
            let decode = |t: Tensor<Z64>| fixed::decode_tensor(&t, 13);
            Ok((
                prediction.into_inner().map(decode),
                difference.into_inner().map(decode),
            ))
        }
    })?;
    // ANCHOR_END: run
    let (prediction, difference) = results[0].clone();
    let (prediction, difference) = (
        prediction.unwrap_or_default(),
        difference.unwrap_or_default(),
    );
    #[allow(clippy::print_stdout, reason = "an example shows its result")]
    {
        let first = |v: &[f64]| v.get(..SIZES[2]).unwrap_or_default().to_vec();
        println!(
            "P0 learned the predictions of {BATCH} inputs, the first {:?}",
            first(&prediction)
        );
        println!(
            "plaintext model:                          {:?}",
            first(&expected)
        );
        println!(
            "P1 learned {:?}, P2 learned {:?}",
            results[1].0, results[2].0
        );
    }
    let close = prediction.len() == expected.len()
        && prediction
            .iter()
            .zip(&expected)
            .all(|(got, want)| (got - want).abs() <= 0.01);
    // Each head truncates its own sharing of the product: they agree up to one unit in the
    // last place (2^-13).
    let heads_agree = difference.iter().all(|&v| v.abs() <= 1.0 / 8192.0);
    if close && heads_agree && results[1].0.is_none() && results[2].0.is_none() {
        Ok(())
    } else {
        Err(Error::Internal(
            "the private prediction differs from the plaintext model",
        ))
    }
}
