use securenn_dsl::prelude::*;

/// P0 would scale its weights by P1's labels: neither party holds both.
#[protocol]
fn combine(weights: Private<P0, Vec<f64>>, labels: Private<P1, Vec<f64>>, n: usize) -> Shared<Z64> {
    let scaled = weights.zip(labels).try_map(|(w, l)| {
        let values: Vec<f64> = w.iter().zip(&l).map(|(a, b)| a * b).collect();
        securenn_dsl::tensor::fixed::encode_tensor([n], &values, 13)
    })?;
    share(&scaled, [n])
}

fn main() {}
