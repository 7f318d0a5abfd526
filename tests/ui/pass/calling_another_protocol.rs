use securenn_dsl::prelude::*;

#[protocol]
fn block(x: &Shared<Z64>) -> Shared<Z64> {
    relu(x)
}

#[protocol(name = "network")]
fn network(x: &Shared<Z64>, y: &Shared<Z64>) -> Shared<Z64> {
    let a = block(ctx, x);
    let b = block(ctx, y);
    a + b
}

fn main() {}
