//! Algorithm 11, ShareTruncate: SecureML's local truncation of fixed-point shares after a
//! product. 0 rounds, 0 bytes.
//!
//! P0 shifts its share arithmetically by K bits; P1 negates its share, shifts it and negates
//! again. The result reconstructs to ⌊x/2^K⌋ or ⌊x/2^K⌋ + 1, except with probability about
//! |x|/2^64 per element (SecureML, Theorem 1), which is why values must stay far below 2^63.

use core::ops::Sub;

use typenum::{Diff, IsLess, True, U64, Unsigned};

use crate::ring::Z64;
use crate::share::Shared;

/// Divides a secret by 2^K locally, lowering its scale from `F` to `F − K`; the same as
/// [`Shared::truncate`].
///
/// # Examples
///
/// ```
/// use securenn_dsl::prelude::*;
/// use securenn_dsl::protocol::{mul_elementwise, truncate};
/// use securenn_dsl::tensor::fixed;
/// use typenum::{U13, U26};
///
/// let [y, _, _] = run_local(|session| async move {
///     let role = session.role();
///     let a = Private::<P0, _>::try_new(role, || fixed::encode_tensor([1], &[1.5], 13))?;
///     let b = Private::<P1, _>::try_new(role, || fixed::encode_tensor([1], &[-2.0], 13))?;
///     let a: Shared<Z64> = share(&session, &a, [1]).await?;
///     let b: Shared<Z64> = share(&session, &b, [1]).await?;
///     let product: Shared<Z64, U26> = mul_elementwise(&session, &a, &b).await?;
///     let y: Shared<Z64, U13> = truncate::<U13, _>(&product);
///     Ok(reveal_to::<P0, _>(&session, &y).await?.into_inner())
/// })?;
/// let y = fixed::decode_tensor(&y.unwrap(), 13)[0];
/// assert!((y - -3.0).abs() <= 1.0 / 8192.0);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn truncate<K, F>(x: &Shared<Z64, F>) -> Shared<Z64, Diff<F, K>>
where
    K: Unsigned + IsLess<U64, Output = True>,
    F: Unsigned + Sub<K>,
    Diff<F, K>: Unsigned,
{
    x.truncate::<K>()
}
