use securenn_dsl::prelude::*;

#[protocol]
fn sign(x: &Shared<Z64>) -> Shared<Z64> {
    let positive = drelu(x);
    match positive {
        _ => x.clone(),
    }
}

fn main() {}
