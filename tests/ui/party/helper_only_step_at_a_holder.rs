use securenn_dsl::prelude::*;

#[protocol]
fn triple() -> securenn_dsl::protocol::Triple {
    deal::<P0>([16])
}

fn main() {}
