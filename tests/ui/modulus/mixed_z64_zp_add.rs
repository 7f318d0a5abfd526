use securenn_dsl::prelude::*;

#[protocol]
fn add(x: &Shared<Z64>, bits: &Shared<Zp>) -> Shared<Z64> {
    x + bits
}

fn main() {}
