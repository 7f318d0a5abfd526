use securenn_dsl::prelude::*;

#[protocol]
fn affine(x: &Shared<Z64>, w: &Shared<Z64>, b: &Shared<Z64>) -> Shared<Z64> {
    let product = x * w;
    product + b
}

fn main() {}
