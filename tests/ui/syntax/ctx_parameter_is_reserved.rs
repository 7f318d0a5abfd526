use securenn_dsl::prelude::*;

#[protocol]
fn layer(ctx: &Shared<Z64>) -> Shared<Z64> {
    relu(ctx)
}

fn main() {}
