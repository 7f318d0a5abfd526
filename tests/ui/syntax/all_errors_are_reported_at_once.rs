use securenn_dsl::prelude::*;

#[protocol(party = P0, name = "a", name = "b")]
async fn layer(ctx: &Shared<Z64>) -> Result<Shared<Z64>> {
    Ok(relu(ctx))
}

fn main() {}
