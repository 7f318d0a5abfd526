use securenn_dsl::prelude::*;

use securenn_dsl::protocol::Triple;

#[protocol]
fn sign_bit(x: &Shared<Z64>) -> (Bit, Bit, Triple) {
    let odd = share_convert(x);
    let msb = compute_msb(&odd);
    let positive = drelu(x);
    let triple = deal::<P2>([8]);
    (msb, positive, triple)
}

#[protocol]
fn compare(bits: &Shared<Zp, U0>, r: &Common<Vec<u64>>, beta: &Common<Vec<bool>>) -> Revealed<P2, Vec<bool>> {
    private_compare(bits, r, beta)
}

fn main() {}
