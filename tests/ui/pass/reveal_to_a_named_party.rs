use securenn_dsl::prelude::*;

#[protocol]
fn predict(x: &Shared<Z64>) -> (Revealed<P0, Tensor<Z64>>, Revealed<P1, Tensor<Z64>>) {
    let y = relu(x);
    (y.reveal_to::<P0>(), reveal_to::<P1>(&y))
}

fn main() {}
