use securenn_dsl::prelude::*;

#[protocol]
fn sign(x: &Shared<Z64>) -> Shared<Z64> {
    match drelu(x) {
        _ => x.clone(),
    }
}

fn main() {}
