use securenn_dsl::prelude::*;

#[protocol]
fn layer(x: &Shared<ZOdd>) -> Shared<Z64> {
    relu(x)
}

fn main() {}
