use securenn_dsl::prelude::*;

/// A fully connected layer whose weights are shared.
struct Dense {
    w: Shared<Z64>,
    b: Shared<Z64>,
}

impl Dense {
    #[protocol]
    fn forward(&self, x: &Shared<Z64>) -> Shared<Z64> {
        let product = truncate(matmul(x, &self.w));
        product + &self.b
    }
}

struct Mlp {
    fc1: Dense,
    fc2: Dense,
}

#[protocol]
fn mlp(m: &Mlp, x: &Shared<Z64>) -> Shared<Z64> {
    let h = relu(m.fc1.forward(x));
    m.fc2.forward(&h)
}

fn main() {}
