use securenn_dsl::prelude::*;

/// A layer with a backward pass: ReLU's derivative bit selects the gradient.
struct Activation;

impl Activation {
    #[protocol]
    fn forward(&self, x: &Shared<Z64>) -> (Shared<Z64>, Bit) {
        let out = relu_with_derivative(x);
        (out.value, out.derivative)
    }

    #[protocol]
    fn backward(&self, derivative: &Bit, gradient: &Shared<Z64>) -> Shared<Z64> {
        let zero = gradient - gradient;
        select(derivative, gradient, &zero)
    }
}

#[protocol]
fn step(layer: &Activation, x: &Shared<Z64>, gradient: &Shared<Z64>) -> (Shared<Z64>, Shared<Z64>) {
    let (out, derivative) = layer.forward(x);
    let back = layer.backward(&derivative, gradient);
    let share_of_total = divide(&out, &back);
    (back, share_of_total)
}

fn main() {}
