use securenn_dsl::prelude::*;

#[protocol]
fn input(x: &Private<P0, Tensor<Z64>>, w: &Private<P1, Tensor<Z64>>) -> Shared<Z64, U26> {
    let x: Shared<Z64> = share(x, [1, 4]);
    let w: Shared<Z64> = share(w, [4, 2]);
    matmul(&x, &w)
}

fn main() {}
