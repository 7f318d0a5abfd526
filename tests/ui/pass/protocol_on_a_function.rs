#[securenn_dsl::protocol]
fn double(x: u64) -> u64 {
    2 * x
}

fn main() {
    assert_eq!(double(21), 42);
}
