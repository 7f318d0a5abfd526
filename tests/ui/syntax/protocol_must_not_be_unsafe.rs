use securenn_dsl::prelude::*;

#[protocol]
unsafe fn layer(x: &Shared<Z64>) -> Shared<Z64> {
    relu(x)
}

fn main() {}
