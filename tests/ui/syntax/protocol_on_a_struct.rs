#[securenn_dsl::protocol]
struct NotAFunction;

fn main() {}
