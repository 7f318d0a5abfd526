use securenn_dsl::prelude::*;

#[protocol]
fn compare(x: &Shared<Z64>, y: &Shared<Z64>) -> Bit {
    let square = x * x;
    square >= y
}

fn main() {}
