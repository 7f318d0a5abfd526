use securenn_dsl::prelude::*;

fn combine(weights: Private<P0, Vec<f64>>, bias: Private<P0, f64>) -> Private<P0, Vec<f64>> {
    weights.zip(bias).map(|(w, b)| w.iter().map(|v| v + b).collect())
}

fn main() {}
