use securenn_dsl::prelude::*;

#[protocol]
fn clamp(x: &Shared<Z64>, y: &Shared<Z64>) -> Shared<Z64> {
    if x { y.clone() } else { x.clone() }
}

fn main() {}
