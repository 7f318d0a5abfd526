use securenn_dsl::prelude::*;

#[protocol]
fn layer(x: &Shared<Z64>, w: &Shared<Z64>) -> Shared<Z64> {
    let product = truncate(matmul(x, w));
    truncate(product)
}

fn main() {}
