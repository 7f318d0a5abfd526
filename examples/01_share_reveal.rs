//! The tutorial's "Share and reveal": share, compute on the shares, reveal to one party.
//!
//! P0 and P1 each hold a private vector of reals. They secret-share them (each share alone
//! is uniformly random), compute the mean of the two on the shares with a `#[protocol]`
//! function, and reveal it to P1 only.
//!
//! Run it with `cargo run -p securenn-examples --example 01_share_reveal`.

use securenn_dsl::prelude::*;
use securenn_dsl::tensor::fixed;

// ANCHOR: mean
/// (a + b) · ½: additions are local, and so is the product with a public constant; the
/// product has 26 fractional bits until `truncate` brings it back to 13.
#[protocol]
fn mean(a: &Shared<Z64>, b: &Shared<Z64>, half: &Public<Z64>) -> Shared<Z64> {
    let sum = a + b;
    truncate(sum * half)
}
// ANCHOR_END: mean

fn main() -> Result<()> {
    // ANCHOR: share_reveal
    let results = run_local(|session| async move {
        let role = session.role();
        // Each input exists only at its owner; the other parties hold nothing.
        let a =
            Private::<P0, _>::try_new(role, || fixed::encode_tensor([3], &[1.0, 2.0, 3.0], 13))?;
        let b =
            Private::<P1, _>::try_new(role, || fixed::encode_tensor([3], &[0.5, -2.0, 4.0], 13))?;
        let a: Shared<Z64> = share(&session, &a, [3]).await?;
        let b: Shared<Z64> = share(&session, &b, [3]).await?;

        let half = Public::encode([3], &[0.5, 0.5, 0.5])?;
        let mean = mean(&session, &a, &b, &half).await?;

        let revealed = reveal_to::<P1, _>(&session, &mean).await?;
        Ok(revealed.into_inner().map(|t| fixed::decode_tensor(&t, 13)))
    })?;
    // ANCHOR_END: share_reveal
    let at_p1 = results[1].clone().unwrap_or_default();
    #[allow(clippy::print_stdout, reason = "an example shows its result")]
    {
        println!("P0 learned: {:?}", results[0]);
        println!("P1 learned: {at_p1:?}");
        println!("P2 learned: {:?}", results[2]);
    }
    let expected = [0.75, 0.0, 3.5];
    let close = at_p1.len() == 3
        && at_p1
            .iter()
            .zip(expected)
            .all(|(got, want)| (got - want).abs() <= 1.0 / 8192.0);
    if close {
        Ok(())
    } else {
        Err(Error::Internal(
            "the revealed mean differs from the plaintext mean",
        ))
    }
}
