//! The plaintext twin learns MNIST: a few hundred steps of network A in fixed point and in
//! f32 already classify most test images, and a short CNN run learns too.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::config::{TrainConfig, initial_weights};
use securenn_dsl::nn::mnist::Mnist;
use securenn_dsl::nn::twin::{Number, Twin};
use securenn_dsl::ring::Z64;

/// Trains `spec` for `steps` batches from the start of the training set and returns the
/// accuracy on the first `test` test images.
fn train_and_test<N: Number>(spec: NetworkSpec, steps: usize, test: usize) -> f64 {
    let mnist = Mnist::load(Mnist::default_dir()).unwrap();
    let config = TrainConfig::default();
    let batch = config.batch();
    let weights = initial_weights(&spec, 1);
    let mut twin = Twin::<N>::new(spec, &weights, config, 2).unwrap();
    for step in 0..steps {
        let first = step * batch % (mnist.train.len() - batch);
        let indices: Vec<usize> = (first..first + batch).collect();
        let labels = &mnist.train.labels()[first..first + batch];
        let inputs = mnist.train.encode::<N>(&indices).unwrap();
        twin.train_step(&inputs, labels).unwrap();
    }
    let indices: Vec<usize> = (0..test).collect();
    let predicted = twin
        .predict(&mnist.test.encode::<N>(&indices).unwrap(), test)
        .unwrap();
    let right = predicted
        .iter()
        .zip(&mnist.test.labels()[..test])
        .filter(|&(&p, &l)| p == usize::from(l))
        .count();
    right as f64 / test as f64
}

#[test]
fn network_a_learns_in_fixed_point_and_in_f32() {
    let fixed = train_and_test::<Z64>(NetworkSpec::a(), 300, 2000);
    let float = train_and_test::<f32>(NetworkSpec::a(), 300, 2000);
    eprintln!("network A after 300 steps: fixed point {fixed:.3}, f32 {float:.3}");
    assert!(fixed > 0.9, "fixed point: {fixed}");
    assert!(float > 0.9, "f32: {float}");
    assert!(
        (fixed - float).abs() < 0.02,
        "fixed point tracks f32: {fixed} vs {float}"
    );
}

#[test]
fn network_d_learns_in_fixed_point() {
    let fixed = train_and_test::<Z64>(NetworkSpec::d(), 100, 1000);
    eprintln!("network D after 100 steps: fixed point {fixed:.3}");
    assert!(fixed > 0.8, "fixed point: {fixed}");
}
