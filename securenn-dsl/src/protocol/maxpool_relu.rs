//! Maxpool (Algorithm 9) followed by ReLU (Algorithm 8), as inference runs them, in one
//! comparison stage fewer: `relu(max(window)) = max(window ∪ {0})`.
//!
//! The window's values meet in Maxpool's tournament (values only: inference needs no
//! argmax) until two remain, m₁ and m₂. The last level then compares them with each other
//! and with zero at once, three DReLUs in one depth: c = [m₁ ≥ m₂], z₁ = [m₁ ≥ 0],
//! z₂ = [m₂ ≥ 0]. With u₁ = z₁·m₁ and u₂ = z₂·m₂ (ReLU's selection, one round),
//! `relu(max) = u₂ + c·(u₁ − u₂)` (one more). The last level and the ReLU cost 8 + 2 = 10
//! rounds where they cost 9 + 9 = 18: 8 fewer per pooled ReLU. A window of one value is
//! ReLU alone.
//!
//! Bytes per window ([`cost::maxpool_relu`](super::cost::maxpool_relu)): one DReLU more at
//! the last level than Maxpool and ReLU apart, and no index selections. Security is that of
//! DReLU and the Beaver product: every bit and product stays shared between P0 and P1, and
//! P2 sees only masked values.

use typenum::Unsigned;

use super::matmul::{Product, beaver};
use super::maxpool::{candidates, pooled_shape};
use super::{Pool2d, check_holder, drelu};
use crate::error::Result;
use crate::ring::Z64;
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::Shape;

/// `max(0, max(window))` of every `pool.kernel`×`pool.kernel` window of the NHWC `input`
/// (stride = kernel): Maxpool then ReLU, with the last comparisons of both in one stage.
///
/// # Errors
///
/// [`Error::InvalidShape`](crate::Error::InvalidShape) unless `input` is NHWC with
/// positive sizes, its height and width multiples of the kernel; or the transport's errors.
pub async fn maxpool_relu<C: Context + ?Sized, F: Unsigned>(
    ctx: &C,
    input: &Shared<Z64, F>,
    pool: Pool2d,
) -> Result<Shared<Z64, F>> {
    let call = ctx.open("maxpool_relu");
    let session = ctx.session();
    check_holder(session, "maxpool_relu", input)?;
    let k = pool.kernel;
    let mut groups = candidates(input, k)?;
    let out_shape = pooled_shape(input.shape(), k);
    let windows = out_shape.numel();
    let role = session.role();
    let holds = !role.is_helper();

    // The tournament, values only, until two remain (or one, for a 1×1 window).
    while groups.len() > 2 {
        let pairs = groups.len() / 2;
        let carried = (groups.len() % 2 == 1).then(|| groups.pop()).flatten();
        let gaps: Vec<Z64> = groups
            .chunks_exact(2)
            .flat_map(|pair| pair[0].iter().zip(&pair[1]).map(|(&a, &b)| a - b))
            .collect();
        let compared = Shared::<Z64, F>::from_parts(role, Shape::from([pairs * windows]), gaps);
        let keep_left = drelu(&call, &compared).await?;
        // right + β·(left − right), all pairs in one product.
        let level = call.open("mul_elementwise");
        let len = pairs * windows;
        let chosen = beaver(
            &level,
            keep_left.as_shared().data(),
            compared.data(),
            Product::Elementwise { len },
        )
        .await?;
        groups = groups
            .chunks_exact(2)
            .enumerate()
            .map(|(t, pair)| {
                let part = chosen.get(t * windows..(t + 1) * windows).unwrap_or(&[]);
                part.iter().zip(&pair[1]).map(|(&c, &r)| c + r).collect()
            })
            .collect();
        groups.extend(carried);
    }

    let first = groups.first().cloned().unwrap_or_default();
    let Some(second) = groups.get(1).cloned() else {
        // One value per window: ReLU alone.
        let values = Shared::<Z64, F>::from_parts(role, out_shape, first);
        return Ok(super::relu(&call, &values).await?.value);
    };
    // [m₁ − m₂ ≥ 0], [m₁ ≥ 0], [m₂ ≥ 0]: one DReLU call.
    let mut compared = Vec::with_capacity(3 * windows);
    compared.extend(first.iter().zip(&second).map(|(&a, &b)| a - b));
    compared.extend_from_slice(&first);
    compared.extend_from_slice(&second);
    let compared = Shared::<Z64, F>::from_parts(role, Shape::from([3 * windows]), compared);
    let bits = drelu(&call, &compared).await?;
    let bits = bits.as_shared().data();
    let part = |all: &[Z64], t: usize| -> Vec<Z64> {
        all.get(t * windows..(t + 1) * windows)
            .unwrap_or(&[])
            .to_vec()
    };
    // u₁ = z₁·m₁, u₂ = z₂·m₂.
    let relus = call.open("mul_elementwise");
    let signs: Vec<Z64> = [part(bits, 1), part(bits, 2)].concat();
    let values: Vec<Z64> = [first, second].concat();
    let u = beaver(
        &relus,
        &signs,
        &values,
        Product::Elementwise { len: 2 * windows },
    )
    .await?;
    let (u1, u2) = (part(&u, 0), part(&u, 1));
    // relu(max) = u₂ + c·(u₁ − u₂).
    let gaps: Vec<Z64> = u1.iter().zip(&u2).map(|(&a, &b)| a - b).collect();
    let select = call.open("mul_elementwise");
    let chosen = beaver(
        &select,
        &part(bits, 0),
        &gaps,
        Product::Elementwise { len: windows },
    )
    .await?;
    let out = if holds {
        chosen.iter().zip(&u2).map(|(&c, &b)| c + b).collect()
    } else {
        Vec::new()
    };
    Ok(Shared::from_parts(role, out_shape, out))
}
