use securenn_dsl::prelude::*;

#[protocol]
fn features(image: &Shared<Z64>, filters: &Shared<Z64>) -> (Shared<Z64>, Shared<Z64, U0>) {
    let conv = truncate(conv2d(image, filters, 1, 0));
    let activated = relu(&conv);
    let pooled = maxpool_with_argmax(&activated, 2);
    let one_hot = dmaxpool(&pooled.argmax, 4);
    (pooled.max, one_hot)
}

fn main() {}
