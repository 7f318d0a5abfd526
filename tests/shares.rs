//! Shares: share then reveal is the identity for every ring; local operations on shares
//! equal the plaintext operations; local truncation is within one unit in the last place;
//! sharing is fresh and never the (x, 0) "sharing".

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use proptest::prelude::*;
use securenn_dsl::dsl::{reveal_to, share};
use securenn_dsl::party::{OutputParty, P0, P1, Private, Role};
use securenn_dsl::ring::{Ring, Z2, Z64, ZOdd, Zp};
use securenn_dsl::session::run_local;
use securenn_dsl::share::{Public, Shared};
use securenn_dsl::tensor::Tensor;
use securenn_tests::{only_at, public_tensor};
use typenum::{U0, U13, U26};

/// What one party saw: its own share (none at the helper) and the revealed value (only at
/// the receiver).
type View<R> = (Option<Vec<R>>, Option<Tensor<R>>);

/// Shares `public_tensor(seed, n)` from `Owner`, reveals it to `Receiver`, and returns what
/// each party saw: its own share and the revealed value.
fn share_and_reveal<R, Owner, Receiver>(seed: u64, n: usize) -> [View<R>; 3]
where
    R: Ring,
    Owner: securenn_dsl::party::InputParty,
    Receiver: OutputParty,
{
    run_local(|session| async move {
        let input = Private::<Owner, _>::new(session.role(), || public_tensor::<R>(seed, n));
        let x: Shared<R, U0> = share(&session, &input, [n]).await?;
        let revealed = reveal_to::<Receiver, _>(&session, &x).await?;
        Ok((x.local_share().map(<[R]>::to_vec), revealed.into_inner()))
    })
    .unwrap()
}

fn check_identity<R: Ring, Owner: securenn_dsl::party::InputParty, Receiver: OutputParty>(
    seed: u64,
    n: usize,
) {
    let results = share_and_reveal::<R, Owner, Receiver>(seed, n);
    let revealed = only_at(&results.each_ref().map(|(_, r)| r.clone()), Receiver::ROLE);
    assert_eq!(
        revealed,
        Some(public_tensor::<R>(seed, n)),
        "{} {:?}->{:?}",
        R::NAME,
        Owner::ROLE,
        Receiver::ROLE
    );
    assert!(
        results[Role::P2.index()].0.is_none(),
        "the helper holds no share"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn share_then_reveal_is_the_identity_for_every_ring(seed: u64, n in 0usize..300) {
        check_identity::<Z64, P0, P1>(seed, n);
        check_identity::<Z64, P1, P0>(seed, n);
        check_identity::<ZOdd, P0, P0>(seed, n);
        check_identity::<Zp, P1, P1>(seed, n);
        check_identity::<Z2, P0, P1>(seed, n);
    }

    #[test]
    fn local_operations_equal_the_plaintext_operations(seed: u64, n in 1usize..200) {
        let results = run_local(|session| async move {
            let role = session.role();
            let x = Private::<P0, _>::new(role, || public_tensor::<Z64>(seed, n));
            let y = Private::<P1, _>::new(role, || public_tensor::<Z64>(seed ^ 1, n));
            let x: Shared<Z64> = share(&session, &x, [n]).await?;
            let y: Shared<Z64> = share(&session, &y, [n]).await?;
            let c = Public::<Z64, U13>::new(public_tensor(seed ^ 2, n));
            let k = Z64::new(seed | 1);
            let results = [
                x.try_add(&y)?,
                x.try_sub(&y)?,
                -&x,
                x.add_public(&c)?,
                x.mul_integer(k),
                &(&x + &y) - &y,
            ];
            let product: Shared<Z64, U26> = x.mul_public(&c)?;
            let mut revealed = Vec::new();
            for r in &results {
                revealed.push(reveal_to::<P1, _>(&session, r).await?.into_inner());
            }
            let product = reveal_to::<P1, _>(&session, &product).await?.into_inner();
            Ok((revealed, product))
        })
        .unwrap();
        let (revealed, product) = results[1].clone();
        let x = public_tensor::<Z64>(seed, n);
        let y = public_tensor::<Z64>(seed ^ 1, n);
        let c = public_tensor::<Z64>(seed ^ 2, n);
        let k = Z64::new(seed | 1);
        let expected = [
            x.try_add(&y).unwrap(),
            x.try_sub(&y).unwrap(),
            x.neg(),
            x.try_add(&c).unwrap(),
            x.scale(k),
            x.clone(),
        ];
        for (got, want) in revealed.into_iter().zip(expected) {
            prop_assert_eq!(got, Some(want));
        }
        prop_assert_eq!(product, Some(x.try_mul_elementwise(&c).unwrap()));
        prop_assert!(results[0].0.iter().all(Option::is_none), "P0 learns nothing revealed to P1");
    }

    /// SecureML's local truncation: the result is ⌊x/2^13⌋ or ⌊x/2^13⌋ + 1, except with
    /// probability about |x|/2^64 per element; products here are below 2^31, so a whole run
    /// of 256 cases fails with probability below 2^-17.
    #[test]
    fn local_truncation_is_within_one_ulp(seed: u64, n in 1usize..200) {
        let x_plain: Vec<i64> = public_tensor::<Z64>(seed, n).data().iter().map(|v| v.as_i64() >> 44).collect();
        let c_plain: Vec<i64> = public_tensor::<Z64>(seed ^ 7, n).data().iter().map(|v| v.as_i64() >> 52).collect();
        let encoded = |values: &[i64]| Tensor::from_vec([values.len()], values.iter().map(|&v| Z64::from_i64(v)).collect()).unwrap();
        let (xs, cs) = (encoded(&x_plain), encoded(&c_plain));
        let results = run_local(|session| {
            let (xs, cs) = (xs.clone(), cs.clone());
            async move {
                let x = Private::<P0, _>::new(session.role(), || xs);
                let x: Shared<Z64, U13> = share(&session, &x, [n]).await?;
                let product: Shared<Z64, U26> = x.mul_public(&Public::<Z64, U13>::new(cs))?;
                let truncated: Shared<Z64, U13> = product.truncate::<U13>();
                Ok(reveal_to::<P0, _>(&session, &truncated).await?.into_inner())
            }
        })
        .unwrap();
        let got = results[0].clone().unwrap();
        for (i, &value) in got.data().iter().enumerate() {
            let exact = (i128::from(x_plain[i]) * i128::from(c_plain[i])) >> 13;
            let error = i128::from(value.as_i64()) - exact;
            prop_assert!((0..=1).contains(&error), "element {i}: error {error}");
        }
    }
}

#[test]
fn sharing_is_fresh_and_never_x_and_zero() {
    let n = 1000;
    let results = run_local(|session| async move {
        let input = Private::<P0, _>::new(session.role(), || public_tensor::<Z64>(5, n));
        let first: Shared<Z64> = share(&session, &input, [n]).await?;
        let second: Shared<Z64> = share(&session, &input, [n]).await?;
        Ok((
            first.local_share().map(<[Z64]>::to_vec),
            second.local_share().map(<[Z64]>::to_vec),
        ))
    })
    .unwrap();
    let x = public_tensor::<Z64>(5, n);
    let (p0_first, p0_second) = (results[0].0.clone().unwrap(), results[0].1.clone().unwrap());
    let (p1_first, p1_second) = (results[1].0.clone().unwrap(), results[1].1.clone().unwrap());
    // The shares reconstruct...
    for i in 0..n {
        assert_eq!(p0_first[i] + p1_first[i], x.data()[i]);
    }
    // ...but neither share is the input or zero, and two sharings of the same input differ.
    let agree = |a: &[Z64], b: &[Z64]| a.iter().zip(b).filter(|(u, v)| u == v).count();
    assert_eq!(agree(&p0_first, x.data()), 0, "P0's share is not the input");
    assert_eq!(
        p1_first.iter().filter(|v| **v == Z64::ZERO).count(),
        0,
        "P1's share is not zero"
    );
    assert_eq!(
        agree(&p0_first, &p0_second),
        0,
        "a second sharing uses a fresh mask"
    );
    assert_eq!(
        agree(&p1_first, &p1_second),
        0,
        "a second sharing uses a fresh mask"
    );
}

#[test]
fn shape_errors_are_typed_not_panics() {
    let result = run_local(|session| async move {
        let input = Private::<P1, _>::new(session.role(), || public_tensor::<Z64>(1, 3));
        // Declared shape [4] does not match the owner's tensor of 3 elements.
        let x: Shared<Z64> = share(&session, &input, [4]).await?;
        Ok(x.len())
    });
    assert!(
        matches!(result, Err(securenn_dsl::Error::ShapeMismatch { .. })),
        "{result:?}"
    );

    let result = run_local(|session| async move {
        let a = Private::<P0, _>::new(session.role(), || public_tensor::<Z64>(1, 3));
        let a: Shared<Z64> = share(&session, &a, [3]).await?;
        let b = a.clone().reshape([3, 1])?;
        Ok(a.try_add(&b).map(|s| s.len()))
    })
    .unwrap();
    assert!(
        result
            .iter()
            .all(|r| matches!(r, Err(securenn_dsl::Error::ShapeMismatch { .. })))
    );
}

#[test]
fn debug_output_never_shows_a_share() {
    let [p0, _, _] = run_local(|session| async move {
        let input = Private::<P0, _>::new(session.role(), || public_tensor::<Z64>(3, 2));
        let x: Shared<Z64> = share(&session, &input, [2]).await?;
        Ok((
            format!("{x:?}"),
            format!("{input:?}"),
            x.local_share().map(<[Z64]>::to_vec),
        ))
    })
    .unwrap();
    let (shared_debug, private_debug, share_values) = p0;
    for value in share_values
        .unwrap()
        .iter()
        .chain(public_tensor::<Z64>(3, 2).data())
    {
        assert!(
            !shared_debug.contains(&value.value().to_string()),
            "{shared_debug}"
        );
        assert!(
            !private_debug.contains(&value.value().to_string()),
            "{private_debug}"
        );
    }
}

#[test]
fn a_deserialized_tensor_is_checked_against_its_shape() {
    let good = Tensor::from_vec([2], vec![Z64::ONE, Z64::ZERO]).unwrap();
    let bytes = postcard::to_stdvec(&good).unwrap();
    assert_eq!(postcard::from_bytes::<Tensor<Z64>>(&bytes).unwrap(), good);
    // Claim three elements in the shape but carry two.
    let forged = postcard::to_stdvec(&(vec![3usize], vec![Z64::ONE, Z64::ZERO])).unwrap();
    assert!(postcard::from_bytes::<Tensor<Z64>>(&forged).is_err());
}
