#[securenn_dsl::protocol(party = P0)]
fn double(x: u64) -> u64 {
    2 * x
}

fn main() {
    let _ = double(1);
}
