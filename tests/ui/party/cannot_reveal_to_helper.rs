use securenn_dsl::prelude::*;

async fn reveal_at_helper(session: &Session, x: &Shared<Z64>) -> Result<()> {
    let _ = reveal_to::<P2, _>(session, x).await?;
    Ok(())
}

fn main() {}
