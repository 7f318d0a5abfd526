use securenn_dsl::prelude::*;

#[protocol(name = layer1)]
fn layer(x: &Shared<Z64>) -> Shared<Z64> {
    relu(x)
}

fn main() {}
