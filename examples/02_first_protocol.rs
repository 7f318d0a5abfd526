//! The tutorial's first protocol function: Yao's millionaires, month by month.
//!
//! P0 and P1 each hold their earnings for six months. Without showing them to anyone, they
//! learn, month by month, the larger of the two earnings: a comparison (DReLU) and a
//! selection (SelectShare) on the shares, then a reveal to both of them. P2 helps and
//! learns nothing.
//!
//! Run it with `cargo run -p securenn-examples --example 02_first_protocol`.

use securenn_dsl::prelude::*;
use securenn_dsl::tensor::fixed;

// ANCHOR: larger
/// The larger of `a` and `b`, element by element. `a >= b` is a secret `Bit` that no party
/// knows; `select` picks `a` where it is 1 and `b` where it is 0, without branching.
#[protocol]
fn larger(a: &Shared<Z64>, b: &Shared<Z64>) -> Shared<Z64> {
    let a_is_larger = a >= b;
    select(&a_is_larger, a, b)
}
// ANCHOR_END: larger

/// P0's earnings, in thousands.
const P0_EARNINGS: [f64; 6] = [4.5, 3.25, 7.0, 2.0, 5.5, 6.125];
/// P1's earnings, in thousands.
const P1_EARNINGS: [f64; 6] = [3.75, 4.0, 7.5, 1.5, 5.5, 6.25];

fn main() -> Result<()> {
    // ANCHOR: run
    let results = run_local(|session| async move {
        let role = session.role();
        let shape = [P0_EARNINGS.len()];
        let a = Private::<P0, _>::try_new(role, || fixed::encode_tensor(shape, &P0_EARNINGS, 13))?;
        let b = Private::<P1, _>::try_new(role, || fixed::encode_tensor(shape, &P1_EARNINGS, 13))?;
        let a: Shared<Z64> = share(&session, &a, shape).await?;
        let b: Shared<Z64> = share(&session, &b, shape).await?;

        let larger = larger(&session, &a, &b).await?;

        // Both millionaires learn the result; a reveal names its receiver each time.
        let at_p0 = reveal_to::<P0, _>(&session, &larger).await?;
        let at_p1 = reveal_to::<P1, _>(&session, &larger).await?;
        let decode = |t: Tensor<Z64>| fixed::decode_tensor(&t, 13);
        Ok((
            at_p0.into_inner().map(decode),
            at_p1.into_inner().map(decode),
        ))
    })?;
    // ANCHOR_END: run
    let expected: Vec<f64> = P0_EARNINGS
        .iter()
        .zip(P1_EARNINGS)
        .map(|(&a, b)| a.max(b))
        .collect();
    let learned_by_p0 = results[0].0.clone().unwrap_or_default();
    let learned_by_p1 = results[1].1.clone().unwrap_or_default();
    #[allow(clippy::print_stdout, reason = "an example shows its result")]
    {
        println!("P0 learned {learned_by_p0:?}");
        println!("P1 learned {learned_by_p1:?}");
        println!("P2 learned {:?} and {:?}", results[2].0, results[2].1);
        println!("in the clear {expected:?}");
    }
    let exact = learned_by_p0 == expected && learned_by_p1 == expected;
    let nothing_else = results[0].1.is_none() && results[1].0.is_none();
    let helper_learned_nothing = results[2].0.is_none() && results[2].1.is_none();
    if exact && nothing_else && helper_learned_nothing {
        Ok(())
    } else {
        Err(Error::Internal(
            "the revealed maxima differ from the plaintext maxima",
        ))
    }
}
