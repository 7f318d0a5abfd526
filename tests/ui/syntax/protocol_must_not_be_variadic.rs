use securenn_dsl::prelude::*;

#[protocol]
fn layer(x: &Shared<Z64>, _: ...) -> Shared<Z64> {
    relu(x)
}

fn main() {}
