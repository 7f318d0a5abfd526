use securenn_dsl::prelude::*;
use typenum::{U13, U26};

fn scaled(x: &Shared<Z64, U13>, c: &Public<Z64, U13>) -> Result<Shared<Z64, U13>> {
    let product: Shared<Z64, U26> = x.mul_public(c)?;
    Ok(&product.truncate::<U13>() + x)
}

fn main() {}
