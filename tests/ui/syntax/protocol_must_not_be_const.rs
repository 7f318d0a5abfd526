use securenn_dsl::prelude::*;

#[protocol]
const fn width() -> usize {
    128
}

fn main() {}
