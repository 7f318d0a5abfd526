use securenn_dsl::prelude::*;

#[protocol]
fn operators(x: &Shared<Z64>, y: &Shared<Z64>, c: &Public<Z64>) -> Shared<Z64> {
    let sum = x + y;
    let difference = &sum - c;
    let product: Shared<Z64, U26> = x * y;
    let scaled: Shared<Z64, U26> = c * &difference;
    let ratio = x / y;
    let negated = -truncate(product);
    let bigger = x >= y;
    let smaller = !&bigger;
    let either = select(&smaller, &negated, &ratio);
    truncate(scaled) + either
}

fn main() {}
