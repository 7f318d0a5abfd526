//! Fixed-point encoding: round trips within half an ulp over the whole range, negatives
//! included; round-to-nearest; two's complement.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use proptest::prelude::*;
use securenn_dsl::ring::Z64;
use securenn_dsl::ring::fixed::{FRACTIONAL_BITS, decode, encode};

/// Largest magnitude encodable with 13 fractional bits is just below 2^50.
const LIMIT: f64 = 1_125_899_906_842_624.0; // 2^50

fn in_range() -> impl Strategy<Value = f64> {
    prop_oneof![
        -LIMIT * 0.999_999..LIMIT * 0.999_999,
        -1.0e3..1.0e3f64,
        -1.0..1.0f64,
        -1.0e-3..1.0e-3f64,
    ]
}

proptest! {
    #[test]
    fn round_trip_is_within_half_an_ulp(x in in_range(), bits in prop_oneof![Just(FRACTIONAL_BITS), 0u32..24]) {
        let scale = f64::from(bits).exp2();
        prop_assume!(x.abs() * scale < 2f64.powi(63) - 1024.0);
        let back = decode(encode(x, bits).unwrap(), bits);
        prop_assert!((back - x).abs() <= 0.5 / scale, "x = {x}, back = {back}, bits = {bits}");
    }

    #[test]
    fn encoding_rounds_to_the_nearest_multiple(k in -(1i64 << 40)..(1i64 << 40), offset in -0.499f64..0.499) {
        let x = (k as f64 + offset) / 8192.0;
        prop_assert_eq!(encode(x, 13).unwrap(), Z64::from_i64(k));
    }

    #[test]
    fn negation_is_twos_complement(x in in_range()) {
        prop_assert_eq!(encode(-x, 13).unwrap(), -encode(x, 13).unwrap());
        if x < 0.0 && encode(x, 13).unwrap() != Z64::new(0) {
            prop_assert!(encode(x, 13).unwrap().msb(), "negative numbers have the sign bit set");
        }
    }

    #[test]
    fn out_of_range_values_are_refused(x in LIMIT..1e300f64, negative: bool) {
        let x = if negative { -x } else { x };
        prop_assert!(encode(x, 13).is_err());
    }
}

#[test]
fn known_encodings_from_the_paper() {
    // 2^15 encodes 4.0 and 2^64 - 2^13 encodes -1.0 (reference section 1).
    assert_eq!(encode(4.0, 13).unwrap(), Z64::new(1 << 15));
    assert_eq!(
        encode(-1.0, 13).unwrap(),
        Z64::new(u64::MAX - (1 << 13) + 1)
    );
    assert!(encode(f64::NAN, 13).is_err());
    assert!(encode(f64::NEG_INFINITY, 13).is_err());
}
