use securenn_dsl::prelude::*;

#[protocol]
fn msb(x: &Shared<Z64>) -> Bit {
    compute_msb(x)
}

fn main() {}
