use securenn_dsl::prelude::*;

#[protocol]
fn halve_until_negative(x: &Shared<Z64>) -> Shared<Z64> {
    let mut y = x.clone();
    while drelu(&y) {
        y = &y - x;
    }
    y
}

fn main() {}
