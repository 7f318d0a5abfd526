use securenn_dsl::prelude::*;

#[protocol]
fn layer(x: &Shared<Z64>) -> Result<Shared<Z64>> {
    Ok(relu(x))
}

fn main() {}
