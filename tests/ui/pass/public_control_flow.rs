use securenn_dsl::prelude::*;

#[protocol]
fn repeated(x: &Shared<Z64>, times: usize, skip: Option<usize>) -> Shared<Z64> {
    let mut h = x.clone();
    for _ in 0..times {
        h = relu(&h) - x;
    }
    let mut i = 0;
    while i < times && skip.is_none() {
        i += 1;
    }
    if let Some(k) = skip
        && k > 2
    {
        return h;
    }
    match skip {
        Some(0) => h,
        _ => relu(h),
    }
}

fn main() {}
