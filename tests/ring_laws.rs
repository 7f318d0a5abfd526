//! The ring laws, one battery instantiated for every ring, checked against a trusted
//! reference: integer arithmetic in u128 reduced modulo the ring's modulus.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use proptest::prelude::*;
use securenn_dsl::ring::{Ring, Z2, Z64, ZOdd, Zp};

/// Instantiates the battery for `$ring` with modulus `$modulus` (as u128).
macro_rules! ring_law_battery {
    ($name:ident, $ring:ty, $modulus:expr) => {
        mod $name {
            use super::*;

            const MODULUS: u128 = $modulus;

            fn element() -> impl Strategy<Value = $ring> {
                prop_oneof![
                    any::<u64>().prop_map(<$ring>::from_u64),
                    // The edges: 0, 1, and the largest elements.
                    Just(<$ring>::ZERO),
                    Just(<$ring>::ONE),
                    Just(<$ring>::from_u64(u64::try_from(MODULUS - 1).unwrap())),
                    Just(<$ring>::from_u64(u64::try_from(MODULUS - 2).unwrap())),
                ]
            }

            fn reference(x: $ring) -> u128 {
                u128::from(x.to_u64())
            }

            proptest! {
                #[test]
                fn canonical_representatives_are_below_the_modulus(x in element()) {
                    prop_assert!(reference(x) < MODULUS);
                    prop_assert_eq!(<$ring>::from_u64(x.to_u64()), x);
                }

                #[test]
                fn from_u64_reduces_modulo_the_modulus(v: u64) {
                    prop_assert_eq!(reference(<$ring>::from_u64(v)), u128::from(v) % MODULUS);
                }

                #[test]
                fn addition_is_addition_modulo_the_modulus(a in element(), b in element()) {
                    prop_assert_eq!(reference(a + b), (reference(a) + reference(b)) % MODULUS);
                }

                #[test]
                fn multiplication_is_multiplication_modulo_the_modulus(a in element(), b in element()) {
                    let product = (reference(a) * reference(b)) % MODULUS;
                    prop_assert_eq!(reference(a * b), product);
                }

                #[test]
                fn negation_and_subtraction(a in element(), b in element()) {
                    prop_assert_eq!(a + (-a), <$ring>::ZERO);
                    prop_assert_eq!(a - b, a + (-b));
                    prop_assert_eq!(reference(a - b), (reference(a) + MODULUS - reference(b)) % MODULUS);
                }

                #[test]
                fn additive_group_laws(a in element(), b in element(), c in element()) {
                    prop_assert_eq!((a + b) + c, a + (b + c));
                    prop_assert_eq!(a + b, b + a);
                    prop_assert_eq!(a + <$ring>::ZERO, a);
                }

                #[test]
                fn multiplicative_monoid_and_distributivity(a in element(), b in element(), c in element()) {
                    prop_assert_eq!((a * b) * c, a * (b * c));
                    prop_assert_eq!(a * b, b * a);
                    prop_assert_eq!(a * <$ring>::ONE, a);
                    prop_assert_eq!(a * (b + c), a * b + a * c);
                }

                #[test]
                fn assign_operators_agree(a in element(), b in element()) {
                    let (mut x, mut y, mut z) = (a, a, a);
                    x += b;
                    y -= b;
                    z *= b;
                    prop_assert_eq!((x, y, z), (a + b, a - b, a * b));
                }

                #[test]
                fn sum_is_repeated_addition(xs in proptest::collection::vec(element(), 0..20)) {
                    let folded = xs.iter().fold(<$ring>::ZERO, |acc, &x| acc + x);
                    prop_assert_eq!(xs.iter().copied().sum::<$ring>(), folded);
                }

                #[test]
                fn wire_encoding_round_trips(xs in proptest::collection::vec(element(), 0..50)) {
                    let mut bytes = Vec::new();
                    <$ring>::encode_slice(&xs, &mut bytes);
                    let width = <<$ring as Ring>::WireLen as typenum::Unsigned>::USIZE;
                    prop_assert_eq!(bytes.len(), xs.len() * width);
                    let mut decoded = Vec::new();
                    prop_assert!(<$ring>::decode_slice(&bytes, &mut decoded));
                    prop_assert_eq!(decoded, xs);
                }

                #[test]
                fn serde_round_trips(x in element()) {
                    let bytes = postcard::to_stdvec(&x).unwrap();
                    prop_assert_eq!(postcard::from_bytes::<$ring>(&bytes).unwrap(), x);
                }

                #[test]
                fn constant_time_select_and_eq(a in element(), b in element(), pick: bool) {
                    use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
                    let chosen = <$ring>::conditional_select(&a, &b, Choice::from(u8::from(pick)));
                    prop_assert_eq!(chosen, if pick { b } else { a });
                    prop_assert_eq!(bool::from(a.ct_eq(&b)), a == b);
                }
            }
        }
    };
}

ring_law_battery!(z64, Z64, 1u128 << 64);
ring_law_battery!(zodd, ZOdd, (1u128 << 64) - 1);
ring_law_battery!(zp, Zp, 67);
ring_law_battery!(z2, Z2, 2);

#[test]
fn wire_decoding_rejects_non_canonical_elements() {
    let mut out = Vec::new();
    assert!(!ZOdd::decode_slice(&u64::MAX.to_le_bytes(), &mut out));
    let mut out = Vec::new();
    assert!(!Zp::decode_slice(&[67], &mut out));
    let mut out = Vec::new();
    assert!(!Z2::decode_slice(&[2], &mut out));
    let mut out = Vec::new();
    assert!(
        !Z64::decode_slice(&[0; 7], &mut out),
        "a partial element is refused"
    );
}

#[test]
fn a_long_z_p_buffer_is_checked_everywhere_and_decoded_whole() {
    // Longer than the decoder's chunks (4096 bytes), with a ragged end.
    let len = 3 * 4096 + 5;
    let bytes: Vec<u8> = (0u8..67).cycle().take(len).collect();
    let mut out = Vec::new();
    assert!(Zp::decode_slice(&bytes, &mut out));
    let decoded: Vec<u8> = out.iter().map(|x| x.value()).collect();
    assert_eq!(decoded, bytes);
    for bad_at in [0, 4095, 4096, 2 * 4096 + 1, len - 1] {
        let mut bad = bytes.clone();
        bad[bad_at] = 67;
        let mut out = Vec::new();
        assert!(!Zp::decode_slice(&bad, &mut out), "a 67 at byte {bad_at}");
    }
}

#[test]
fn deserialization_rejects_non_canonical_elements() {
    let max = postcard::to_stdvec(&u64::MAX).unwrap();
    assert!(postcard::from_bytes::<ZOdd>(&max).is_err());
    let byte = postcard::to_stdvec(&67u8).unwrap();
    assert!(postcard::from_bytes::<Zp>(&byte).is_err());
    let byte = postcard::to_stdvec(&2u8).unwrap();
    assert!(postcard::from_bytes::<Z2>(&byte).is_err());
}
