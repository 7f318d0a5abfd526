use securenn_dsl::prelude::*;

#[protocol]
fn both(x: &Shared<Z64>, y: &Shared<Z64>, use_y: bool) -> Shared<Z64> {
    let positive = drelu(x);
    if use_y && positive { y.clone() } else { x.clone() }
}

fn main() {}
