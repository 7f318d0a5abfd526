use securenn_dsl::prelude::*;

/// The book's first protocol: one hidden layer.
#[protocol]
fn dense(x: &Shared<Z64>, w: &Shared<Z64>, b: &Shared<Z64>) -> Shared<Z64> {
    let product = truncate(matmul(x, w));
    relu(product + b)
}

fn main() {}
