//! The network files' tests: the shipped files, round trips, and one clear error per
//! kind of mistake.

use super::*;

/// The paper's layers, as the crate defined them before the network files.
fn papers_layers(name: &str) -> Vec<LayerSpec> {
    use LayerSpec::{Conv2d, Flatten, Linear, MaxPool2d, Relu};
    let conv = |in_channels, out_channels| Conv2d {
        in_channels,
        out_channels,
        kernel: 5,
        stride: 1,
        padding: 0,
    };
    let lenet = |first, second, hidden| {
        vec![
            conv(1, first),
            MaxPool2d {
                kernel: 2,
                stride: 2,
                padding: 0,
            },
            Relu,
            conv(first, second),
            MaxPool2d {
                kernel: 2,
                stride: 2,
                padding: 0,
            },
            Relu,
            Flatten,
            Linear {
                inputs: 16 * second,
                outputs: hidden,
            },
            Relu,
            Linear {
                inputs: hidden,
                outputs: 10,
            },
        ]
    };
    match name {
        "A" => vec![
            Flatten,
            Linear {
                inputs: 784,
                outputs: 128,
            },
            Relu,
            Linear {
                inputs: 128,
                outputs: 128,
            },
            Relu,
            Linear {
                inputs: 128,
                outputs: 10,
            },
        ],
        "B" => lenet(16, 16, 100),
        "C" => lenet(20, 50, 500),
        _ => vec![
            Conv2d {
                in_channels: 1,
                out_channels: 5,
                kernel: 5,
                stride: 2,
                padding: 2,
            },
            Relu,
            Flatten,
            Linear {
                inputs: 980,
                outputs: 100,
            },
            Relu,
            Linear {
                inputs: 100,
                outputs: 10,
            },
        ],
    }
}

#[test]
fn the_shipped_files_are_the_papers_networks() {
    let mnist = ValueShape::Image {
        height: 28,
        width: 28,
        channels: 1,
    };
    for name in ["A", "B", "C", "D"] {
        let spec = NetworkSpec::by_name(name).unwrap();
        assert_eq!(spec.name(), name);
        assert_eq!(spec.input(), mnist);
        assert_eq!(spec.layers(), papers_layers(name), "network {name}");
    }
}

#[test]
fn a_network_reads_back_from_its_file() {
    for name in ["A", "B", "C", "D"] {
        let spec = NetworkSpec::by_name(name).unwrap();
        let again = NetworkSpec::from_toml(&spec.to_toml(), "again.toml").unwrap();
        assert_eq!(again, spec);
    }
}

/// AlexNet's layers: overlapping max pooling and a normalisation whose channels follow
/// from the layer before it; then ResNet's padded pooling (⌊(3 + 2 - 3) / 2⌋ + 1 = 2).
#[test]
fn strided_padded_pooling_and_normalisation_read_back() {
    let text = "name = \"x\"\ninput = { height = 7, width = 7, channels = 2 }\nclasses = 8\n\
                [[layer]]\nkind = \"max_pool2d\"\nkernel = 3\nstride = 2\n\
                [[layer]]\nkind = \"batch_norm\"\n\
                [[layer]]\nkind = \"avg_pool2d\"\nkernel = 3\nstride = 2\npadding = 1\n\
                [[layer]]\nkind = \"flatten\"\n";
    let spec = NetworkSpec::from_toml(text, "x.toml").unwrap();
    assert_eq!(
        spec.layers()[..3],
        [
            LayerSpec::MaxPool2d {
                kernel: 3,
                stride: 2,
                padding: 0,
            },
            LayerSpec::BatchNorm { channels: 2 },
            LayerSpec::AvgPool2d {
                kernel: 3,
                stride: 2,
                padding: 1,
            },
        ]
    );
    assert_eq!(spec.output(), ValueShape::Row(2 * 2 * 2));
    assert_eq!(
        NetworkSpec::from_toml(&spec.to_toml(), "again.toml").unwrap(),
        spec
    );
}

fn error_of(text: &str) -> String {
    match NetworkSpec::from_toml(text, "net.toml") {
        Ok(spec) => panic!("{text} was read as {spec:?}"),
        Err(Error::Network {
            source_name,
            problem,
        }) => {
            assert_eq!(source_name, "net.toml");
            problem
        }
        Err(other) => panic!("not a network error: {other}"),
    }
}

#[test]
fn a_wrong_file_gets_one_error_naming_the_layer() {
    let head = "name = \"x\"\ninput = { height = 8, width = 8, channels = 1 }\nclasses = 2\n";
    let cases = [
        // A linear layer on images.
        (
            "[[layer]]\nkind = \"linear\"\noutputs = 2\n",
            "layer 1 (linear) needs rows, but the layer before it gives 8×8×1 images",
        ),
        // A stated channel count that does not fit.
        (
            "[[layer]]\nkind = \"conv2d\"\nin_channels = 3\nout_channels = 2\nkernel = 3\n",
            "layer 1 (conv2d) takes 3 channels",
        ),
        // A kernel larger than the padded image.
        (
            "[[layer]]\nkind = \"conv2d\"\nout_channels = 2\nkernel = 9\n",
            "layer 1 (conv2d) does not fit 8×8×1 images",
        ),
        // A pooling window larger than the image.
        (
            "[[layer]]\nkind = \"max_pool2d\"\nkernel = 9\n",
            "layer 1 (max_pool2d) does not fit 8×8×1 images",
        ),
        // A normalisation of more channels than the images have.
        (
            "[[layer]]\nkind = \"batch_norm\"\nchannels = 3\n",
            "layer 1 (batch_norm) normalises 3 channels, but the layer before it gives 8×8×1 images",
        ),
        // Outputs that are not the classes.
        (
            "[[layer]]\nkind = \"flatten\"\n[[layer]]\nkind = \"linear\"\noutputs = 3\n",
            "the last layer gives 3 values, but `classes` is 2",
        ),
        // Images at the end.
        (
            "[[layer]]\nkind = \"relu\"\n",
            "the last layer gives 8×8×1 images, but `classes` is 2",
        ),
        // An unknown layer kind, and an unknown field.
        ("[[layer]]\nkind = \"softmax\"\n", "not a network file"),
        (
            "[[layer]]\nkind = \"relu\"\nslope = 2\n",
            "not a network file",
        ),
        ("", "the network has no `[[layer]]`"),
    ];
    for (layers, expected) in cases {
        let problem = error_of(&format!("{head}{layers}"));
        assert!(
            problem.contains(expected),
            "{layers:?}: {problem:?} does not say {expected:?}"
        );
    }
    assert!(error_of("name = 3").contains("not a network file"));
    assert!(
        error_of("name = \"x\"\ninput = { features = 0 }\nclasses = 1\n")
            .contains("a side of zero")
    );
}

#[test]
fn the_digest_names_the_layers_not_the_name() {
    let a = NetworkSpec::a();
    let renamed = NetworkSpec::new("mine", a.input(), a.layers().to_vec()).unwrap();
    assert_eq!(renamed.digest(), a.digest());
    assert_ne!(NetworkSpec::b().digest(), NetworkSpec::c().digest());
    assert_eq!(a.digest().len(), 16);
}

#[test]
fn a_name_or_a_path_resolves() {
    assert_eq!(NetworkSpec::resolve("b").unwrap(), NetworkSpec::b());
    let missing = NetworkSpec::resolve("no/such/net.toml");
    assert!(matches!(missing, Err(Error::Io { .. })), "{missing:?}");
    let unknown = NetworkSpec::resolve("E").unwrap_err().to_string();
    assert!(unknown.starts_with("E: unknown network"), "{unknown}");
}
