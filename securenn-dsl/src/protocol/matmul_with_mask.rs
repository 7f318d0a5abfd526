//! Algorithm 1, MatMul, with the mask of a fixed operand reused: the product of secret
//! inputs X with secret weights W that serve many products (a model's inference), where
//! F = W − V is opened once and each later product opens only E = X − U. 1 round; the
//! first product costs Algorithm 1's (2mn + 2nv + mv)·8 bytes, every later one
//! (2mn + mv)·8, and with offline material ([`Material`](crate::session::Material)) P2's
//! mv·8 move offline too.
//!
//! P2 deals triples (Uᵢ, V, Zᵢ = Uᵢ·V) whose V is the same for every product with W: V's
//! shares are streams of the keys P0 and P1 share with P2, named by the mask's identity
//! ([`WeightMask`]) rather than by the call, and each Uᵢ and ⟨Zᵢ⟩₀ are the call's own,
//! fresh. P0 and P1 open F = W − V at the first product only, keep F and their shares of
//! V, and output
//!
//! ⟨Yᵢ⟩ⱼ = ⟨Xᵢ⟩ⱼ·F + Eᵢ·⟨V⟩ⱼ + ⟨Zᵢ⟩ⱼ,
//!
//! which adds up to Xᵢ·F + (Eᵢ + Uᵢ)·V = Xᵢ·(F + V) = Xᵢ·W.
//!
//! **Security.** What P0 (or P1) sees is F = W − V once and Eᵢ = Xᵢ − Uᵢ per product. V
//! is uniform and known to no one but P2, so F is a one-time pad of W; opening the same F
//! again would tell nothing new, so it is not sent. Each Uᵢ is fresh and uniform, so each
//! Eᵢ is a one-time pad of Xᵢ, independent of F and of the other Eⱼ. P2 sees nothing it
//! did not see before (it deals and receives no opening). The argument needs V never to
//! hide another operand: F′ = W′ − V would reveal W − W′. Each party therefore keeps its
//! own share of the W that F was opened for, and a product with the same mask and another
//! share is refused ([`Error::MaskReused`](crate::Error::MaskReused)); a material loaded
//! from a file records a digest of the share beside the file, so another process is
//! refused too. The network program names a mask by its layer and the weights' version,
//! which every training step advances: new weights get a new mask.
//!
//! Products with the same mask must not run concurrently before the first has completed
//! (the first one opens F); the network program runs its products in sequence.

use core::ops::Add;

use typenum::{Sum, Unsigned};

use super::check_holder;
use super::conv2d::convolution;
use super::matmul::{Product, STEP_EF, STEP_Z, U_SHARE, Z_SHARE, add, combine, matrix_product};
use super::random_vec;
use crate::error::Result;
use crate::net::CallId;
use crate::party::Role;
use crate::prg::Prg;
use crate::ring::Z64;
use crate::session::{Call, Context};
use crate::share::Shared;
use crate::tensor::Shape;

/// The stream label of V's shares, within the mask's identity.
const V_SHARE: u32 = 0;

/// The identity of a mask that hides one fixed operand (a layer's weights) across
/// products: the same at the three parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WeightMask {
    id: CallId,
}

impl WeightMask {
    /// The mask named `name` number `index` (e.g. a layer's weights at one version).
    pub fn new(name: &str, index: u64) -> WeightMask {
        WeightMask {
            id: CallId::named(name, index),
        }
    }

    /// The mask's identity.
    pub fn id(self) -> CallId {
        self.id
    }

    fn share_prg(self, call: &Call<'_>, peer: Role) -> Result<Prg> {
        call.shared_prg_of(self.id, peer, V_SHARE)
    }
}

/// The product X·W of a secret matrix and secret weights hidden by `mask`: F = W − V is
/// opened at the first product with this mask only (see the module's security argument).
/// A fresh sharing with the sum of their scales.
///
/// Costs one round and (2mn + mv)·8 bytes for X m×n and W n×v, plus 16nv once per mask.
///
/// # Errors
///
/// [`Error::MaskReused`](crate::Error::MaskReused) if `mask` was opened for other
/// weights; as [`matmul`](super::matmul) otherwise.
pub async fn matmul_with_mask<C, F, G>(
    ctx: &C,
    x: &Shared<Z64, F>,
    w: &Shared<Z64, G>,
    mask: WeightMask,
) -> Result<Shared<Z64, Sum<F, G>>>
where
    C: Context + ?Sized,
    F: Unsigned + Add<G>,
    G: Unsigned,
    Sum<F, G>: Unsigned,
{
    with_mask(ctx, "matmul", x, w, mask, matrix_product).await
}

/// The convolution of a secret NHWC input by secret `[kernel, kernel, in, out]` filters
/// hidden by `mask`, as [`conv2d`](super::conv2d) computes it, with F opened once per
/// mask.
///
/// # Errors
///
/// As [`matmul_with_mask`] and [`conv2d`](super::conv2d).
pub async fn conv2d_with_mask<C, F, G>(
    ctx: &C,
    input: &Shared<Z64, F>,
    weights: &Shared<Z64, G>,
    (stride, padding): (usize, usize),
    mask: WeightMask,
) -> Result<Shared<Z64, Sum<F, G>>>
where
    C: Context + ?Sized,
    F: Unsigned + Add<G>,
    G: Unsigned,
    Sum<F, G>: Unsigned,
{
    let of = |input: &Shape, weights: &Shape| convolution(input, weights, stride, padding);
    with_mask(ctx, "conv2d", input, weights, mask, of).await
}

/// Opens call `name`, checks that both shares are this party's, and multiplies them as
/// `of` their shapes says, with `mask` on the weights.
async fn with_mask<C, F, G>(
    ctx: &C,
    name: &'static str,
    x: &Shared<Z64, F>,
    w: &Shared<Z64, G>,
    mask: WeightMask,
    of: impl FnOnce(&Shape, &Shape) -> Result<(Product, Shape)>,
) -> Result<Shared<Z64, Sum<F, G>>>
where
    C: Context + ?Sized,
    F: Unsigned + Add<G>,
    G: Unsigned,
    Sum<F, G>: Unsigned,
{
    let call = ctx.open(name);
    let session = ctx.session();
    check_holder(session, name, x)?;
    check_holder(session, name, w)?;
    let (product, shape) = of(x.shape(), w.shape())?;
    let out = beaver_with_mask(&call, x.data(), w.data(), product, mask).await?;
    Ok(Shared::from_parts(session.role(), shape, out))
}

/// The Beaver product of this party's shares `x` and `w` within `call`, with W's mask
/// reused; the helper passes empty slices and gets an empty vector.
async fn beaver_with_mask(
    call: &Call<'_>,
    x: &[Z64],
    w: &[Z64],
    product: Product,
    mask: WeightMask,
) -> Result<Vec<Z64>> {
    let (x_len, w_len, out_len) = product.lens();
    let role = call.role();
    let masks = call.opened_masks();
    if role == Role::P2 {
        if call.dealt_offline() {
            return Ok(Vec::new());
        }
        let v = match masks.get(mask.id, &[])? {
            // A mask drawn for weights of another shape hides other weights.
            Some(opened) if opened.mask.len() != w_len => {
                return Err(crate::Error::MaskReused { mask: mask.id });
            }
            Some(opened) => opened,
            None => {
                let v0: Vec<Z64> = random_vec(&mut mask.share_prg(call, Role::P0)?, w_len);
                let v1: Vec<Z64> = random_vec(&mut mask.share_prg(call, Role::P1)?, w_len);
                masks.insert(
                    mask.id,
                    crate::session::OpenedMask {
                        operand: Vec::new(),
                        opened: Vec::new(),
                        mask: add(v0, &v1),
                    },
                )
            }
        };
        let u0: Vec<Z64> = random_vec(&mut call.shared_prg(Role::P0, U_SHARE)?, x_len);
        let u1: Vec<Z64> = random_vec(&mut call.shared_prg(Role::P1, U_SHARE)?, x_len);
        let z0: Vec<Z64> = random_vec(&mut call.shared_prg(Role::P0, Z_SHARE)?, out_len);
        let mut z1 = product.apply(&add(u0, &u1), &v.mask)?;
        for (z, r) in z1.iter_mut().zip(&z0) {
            *z -= *r;
        }
        return call.send_dealt(STEP_Z, &z1).await.map(|()| Vec::new());
    }

    let other = role.other_holder().unwrap_or(Role::P0);
    let u: Vec<Z64> = random_vec(&mut call.shared_prg(Role::P2, U_SHARE)?, x_len);
    let known = masks.get(mask.id, w)?;
    let mut opening: Vec<Z64> = x.iter().zip(&u).map(|(&a, &b)| a - b).collect();
    let v_share = match &known {
        Some(_) => None,
        None => {
            let v: Vec<Z64> = random_vec(&mut mask.share_prg(call, Role::P2)?, w_len);
            opening.extend(w.iter().zip(&v).map(|(&a, &b)| a - b));
            Some(v)
        }
    };
    call.send(other, STEP_EF, &opening).await?;
    let theirs = call.recv::<Z64>(other, STEP_EF, opening.len()).await?;
    for (mine, other) in opening.iter_mut().zip(&theirs) {
        *mine += *other;
    }
    let opened = match (known, v_share) {
        (Some(opened), _) => opened,
        (None, v) => masks.insert(
            mask.id,
            crate::session::OpenedMask {
                operand: w.to_vec(),
                opened: opening.split_off(x_len),
                mask: v.unwrap_or_default(),
            },
        ),
    };
    let e = &opening[..x_len];

    // Yⱼ = Xⱼ·F + E·Vⱼ + Zⱼ.
    combine(
        call,
        product,
        (x, &opened.opened),
        (e, &opened.mask),
        out_len,
    )
    .await
}
