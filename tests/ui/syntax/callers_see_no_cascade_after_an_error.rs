use securenn_dsl::prelude::*;

#[protocol(unknown = 1)]
fn layer(x: &Shared<Z64>) -> Shared<Z64> {
    relu(x)
}

#[protocol]
fn network(x: &Shared<Z64>) -> Shared<Z64> {
    layer(ctx, x)
}

fn main() {}
