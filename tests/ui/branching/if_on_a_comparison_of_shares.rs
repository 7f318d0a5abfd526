use securenn_dsl::prelude::*;

#[protocol]
fn larger(x: &Shared<Z64>, y: &Shared<Z64>) -> Shared<Z64> {
    if x > y { x.clone() } else { y.clone() }
}

fn main() {}
