use securenn_dsl::prelude::*;

/// A convolution layer whose filters are shared.
struct Conv {
    filters: Shared<Z64>,
}

impl Conv {
    #[protocol]
    fn forward(&self, image: &Shared<Z64>) -> Shared<Z64> {
        let features = truncate(conv2d(image, &self.filters, 1, 1));
        maxpool(relu(features), 2)
    }
}

struct Network {
    conv: Conv,
    head: Shared<Z64>,
}

#[protocol]
fn network(m: &Network, image: &Shared<Z64>) -> Shared<Z64> {
    let pooled = m.conv.forward(image);
    truncate(matmul(pooled, &m.head))
}

fn main() {}
