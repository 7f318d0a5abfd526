use securenn_dsl::prelude::*;

#[protocol]
fn difference(x: &Shared<Z64>) -> Shared<Z64> {
    let odd = share_convert(x);
    x - &odd
}

fn main() {}
