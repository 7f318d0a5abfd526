use securenn_dsl::prelude::*;

#[protocol(party = P0)]
fn layer(x: &Shared<Z64>) -> Shared<Z64> {
    relu(x)
}

fn main() {}
