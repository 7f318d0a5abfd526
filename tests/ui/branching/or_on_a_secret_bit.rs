use securenn_dsl::prelude::*;

#[protocol]
fn either(x: &Shared<Z64>, y: &Shared<Z64>, force: bool) -> Shared<Z64> {
    let positive = drelu(x);
    if force || positive { y.clone() } else { x.clone() }
}

fn main() {}
