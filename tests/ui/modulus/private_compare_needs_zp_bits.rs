use securenn_dsl::prelude::*;

#[protocol]
fn compare(bits: &Shared<Z64, U0>, r: &Common<Vec<u64>>, beta: &Common<Vec<bool>>) -> Revealed<P2, Vec<bool>> {
    private_compare(bits, r, beta)
}

fn main() {}
