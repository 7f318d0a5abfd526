//! Local truncation of fixed-point shares (SecureML, Theorem 1; SecureNN Algorithm 11,
//! ShareTruncate).
//!
//! After a product the scale is doubled; dividing by 2^k takes no communication: P0 shifts
//! its share arithmetically, P1 negates its share, shifts and negates again. The result
//! reconstructs to ⌊x/2^k⌋ or ⌊x/2^k⌋ + 1, except with probability about 2^(ℓx+1−64) for
//! |x| < 2^ℓx, because the shares' wrap-around is lost only when it straddles the shift.

use core::ops::Sub;

use typenum::{Diff, IsLess, True, U64, Unsigned};

use super::Shared;
use crate::party::Role;
use crate::ring::Z64;

impl<F: Unsigned> Shared<Z64, F> {
    /// Divides the secret by 2^K locally, lowering the scale from `F` to `F − K`; `K` must
    /// be below 64 and at most `F`, which the compiler checks.
    ///
    /// The result is the exact quotient up to one unit in the last place, with the small
    /// failure probability of SecureML's local truncation (see the module docs).
    ///
    /// # Examples
    ///
    /// ```
    /// use securenn_dsl::party::{P0, Private};
    /// use securenn_dsl::tensor::fixed;
    /// use securenn_dsl::session::run_local;
    /// use securenn_dsl::dsl::{reveal_to, share};
    /// use securenn_dsl::share::{Public, Shared};
    /// use typenum::{U13, U26};
    ///
    /// let [at_p0, _, _] = run_local(|session| async move {
    ///     let x = Private::<P0, _>::try_new(session.role(), || fixed::encode_tensor([1], &[-1.5], 13))?;
    ///     let x: Shared<_> = share(&session, &x, [1]).await?;
    ///     let product: Shared<_, U26> = x.mul_public(&Public::<_, U13>::encode([1], &[2.0])?)?;
    ///     let y: Shared<_, U13> = product.truncate::<U13>();
    ///     let y = reveal_to::<P0, _>(&session, &y).await?;
    ///     Ok(y.into_inner().map(|t| fixed::decode(t.data()[0], 13)))
    /// })?;
    /// let y = at_p0.unwrap();
    /// assert!((y - -3.0).abs() <= 1.0 / 8192.0);
    /// # Ok::<(), securenn_dsl::Error>(())
    /// ```
    pub fn truncate<K>(&self) -> Shared<Z64, Diff<F, K>>
    where
        K: Unsigned + IsLess<U64, Output = True>,
        F: Sub<K>,
        Diff<F, K>: Unsigned,
    {
        let bits = K::U32;
        let data = match self.role {
            Role::P0 => self.data.iter().map(|&a| a.arithmetic_shr(bits)).collect(),
            Role::P1 => self
                .data
                .iter()
                .map(|&a| -((-a).arithmetic_shr(bits)))
                .collect(),
            Role::P2 => Vec::new(),
        };
        Shared::from_parts(self.role, self.shape.clone(), data)
    }
}
